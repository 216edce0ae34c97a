"""final_results.csv, .md and .png: rebuilt from every job's result.json under the output folder.

Rebuilt from disk, not from the rows of the last run, so a second run into the same folder
adds its rows instead of replacing the first run's table, and an interrupted run still
reports every job that did finish.
"""
from __future__ import annotations

import csv
import json
import statistics
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from nas.report.progress import count
from nas.retrain import compare, frontier, ranking
from nas.retrain.roles import describe_exports, export_tags, order_key, role_of, role_text
from sharesnet.files import atomic_write, csv_text
from sharesnet.spec import ArchSpec

COLUMNS = ("arch_id", "net", "depth", "width", "sharing", "params", "FLOPs (fvcore, 1 MAC = 1 flop)",
           "checkpoint (MB)", "recipe", "data", "test accuracy (mean ± std, n seeds)", "training time (s, all seeds)")
_NUMERIC = {"params", "FLOPs (fvcore, 1 MAC = 1 flop)", "checkpoint (MB)", "test accuracy (mean ± std, n seeds)",
            "training time (s, all seeds)"}
_SHOWN_ONLY = ("label", "role_label", "baseline", "parsed_role", "role", "folder")  # for tables and plot, not CSV


@dataclass(frozen=True)
class Tables:
    text: str  # final_results.md as written
    runs: int  # jobs (architecture x seed) found in the folder
    nets: int  # table rows: architectures x recipe x data


def collect(out: Path) -> tuple[list[dict], tuple[str, str] | None]:
    """Every finished job under `out` with its table facts added, and the (recipe, data) setting of
    the newest one. Rows come in a fixed order: front members by export and `#`, then the baselines,
    then the other nets by name, seeds ascending; not file times, which a git clone does not keep."""
    read = [(p.stat().st_mtime, _facts(json.loads(p.read_text()), p.parent))
            for p in Path(out).glob("*/seed-*/result.json")]
    tags = export_tags([r["parsed_role"] for _, r in read])
    for _, r in read:  # a role names its export only when the folder holds several
        r["role_label"] = role_text(r["parsed_role"], tags)
        r["net"] = r["role_label"] or r["name"]
        r["label"] = f"`{r['arch_id']}` {r['role_label']}" if r["parsed_role"] else r["name"]
    newest = _setting(max(read, key=lambda t: t[0])[1]) if read else None
    rows = sorted((r for _, r in read), key=lambda r: (order_key(r["parsed_role"]), r["folder"], *_setting(r), r["seed"]))
    return rows, newest


def summarise(out: Path) -> Tables:
    """Write final_results.csv (one row per job), .md (one row per architecture, recipe and data, then
    the nets against the baselines) and .png (test accuracy against params and FLOPs)."""
    rows, newest = collect(out)
    groups = _groups(rows)
    atomic_write(out / "final_results.csv", csv_text([{k: v for k, v in r.items() if not isinstance(v, dict)
                                                       and k not in _SHOWN_ONLY} for r in rows]))
    table = "\n".join([_line(COLUMNS), "|" + "|".join("---:" if c in _NUMERIC else "---" for c in COLUMNS) + "|"]
                      + [_group_line(g) for g in groups])
    note = "\n\n".join(n for n in (describe_exports([r["parsed_role"] for r in rows]), provenance(rows)) if n)
    # Only the newest job's recipe and data are compared and plotted together (a folder may
    # hold a smoke run beside the real one).
    latest = [g for g in groups if _setting(g[0]) == newest]
    sections = [s for s in (compare.markdown(latest), frontier.markdown(latest), ranking.markdown(latest)) if s]
    text = (f"{note}\n\n" if note else "") + table + "\n" + "".join(f"\n{s}" for s in sections)
    atomic_write(out / "final_results.md", text)
    from nas.retrain.plot import plot

    plot(latest, out / "final_results.png")
    return Tables(text.rstrip("\n"), len(rows), len(groups))


def provenance(rows: list[dict]) -> str:
    """A line when the runs are not all alike in how they were made: some reused from another
    folder (`--reuse`), or trained at more than one precision; empty otherwise."""
    parts = []
    reused = [r for r in rows if r.get("reused_from")]
    if reused:
        parts.append(f"{len(reused)} of {count(len(rows), 'run')} reused from other folders (`--reuse`; "
                     f"final_results.csv's reused_from names each original).")
    precisions = Counter(r.get("precision") or "unrecorded" for r in rows)
    if len(precisions) > 1:
        mix = ", ".join(f"{p} {n}" for p, n in sorted(precisions.items()))
        parts.append(f"Mixed precision: {mix} runs (final_results.csv's precision column says which).")
    return " ".join(parts)


def _setting(row: dict) -> tuple[str, str]:
    return row["recipe_label"], row["data_label"]


def _facts(row: dict, folder: Path) -> dict:
    spec, role = ArchSpec.from_dict(row["spec"]), role_of(row)
    if "train_time_s" not in row:  # results written before it was recorded: the epochs' own times
        row["train_time_s"] = _epoch_seconds(folder / "metrics.csv") or row["wall_time_s"]
    recipe, data = row["recipe"], row["data"]
    return row | {"depth": "-".join(str(s.depth) for s in spec.stages),
                  "width": "-".join(str(s.width) for s in spec.stages), "sharing": spec.sharing_summary(),
                  "recipe_label": f"{recipe.get('name') or 'custom'}, {count(recipe['epochs'], 'epoch')}, "
                                  f"batch {recipe['batch_size']}",
                  "data_label": _data_label(data, row.get("test_limit")),
                  "folder": folder.parent.name,  # the job's identity: its arch_id, or the preset or file name
                  "baseline": role.baseline if role else None, "parsed_role": role,
                  "export": f"{Path(role.export.experiment or '?').name} after {role.export.evaluated} evaluated"
                  if role and role.export else ""}


def _epoch_seconds(metrics: Path) -> float | None:
    if not metrics.is_file():
        return None
    with metrics.open() as f:
        return sum(float(r["epoch_time_s"] or 0) for r in csv.DictReader(f))


def _data_label(data: dict, test_limit: int | None) -> str:
    limits = ([f"limit {data['limit']:,}"] if data.get("limit") else []) + \
        ([f"test limit {test_limit:,}"] if test_limit else [])
    return data["dataset"] + (f" ({', '.join(limits)})" if limits else "")


def _groups(rows: list[dict]) -> list[list[dict]]:
    """Seeds of one architecture trained with one recipe on one data configuration."""
    groups: dict[str, list[dict]] = {}
    for r in rows:
        recipe = {k: v for k, v in r["recipe"].items() if k != "seed"}
        key = json.dumps([r["folder"], r["arch_id"], recipe, r["data"], r.get("test_limit")], sort_keys=True)
        groups.setdefault(key, []).append(r)
    return [sorted(g, key=lambda r: r["seed"]) for g in groups.values()]


def _group_line(rs: list[dict]) -> str:
    r = rs[0]
    net = "; ".join(dict.fromkeys(x["net"] for x in rs))  # seeds retrained from different exports: each role
    return _line([f"`{r['arch_id']}`", net, r["depth"], r["width"], r["sharing"], f"{r['params']:,}",
                  f"{r['flops']:,}", f"{r['checkpoint_bytes'] / 2**20:.2f}", r["recipe_label"], r["data_label"],
                  accuracy_text([x["test_acc"] for x in rs]), f"{sum(x['train_time_s'] for x in rs):.0f}"])


def accuracy_text(accs: list[float]) -> str:
    """`0.9833 (n=1)`: one seed has no spread to show; else `0.9833 ± 0.0021 (n=3)`."""
    if len(accs) == 1:
        return f"{accs[0]:.4f} (n=1)"
    return f"{statistics.mean(accs):.4f} ± {statistics.stdev(accs):.4f} (n={len(accs)})"


def _line(cells) -> str:
    return "| " + " | ".join(map(str, cells)) + " |"


