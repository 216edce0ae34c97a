"""The Pareto export as a user reads it: 1-based ranks, the front table, the warm starts, the plot."""
import csv
import dataclasses
import importlib.util
import json
from pathlib import Path

import pytest
import yaml

from nas.report.axes import log_ticks, si
from nas.report.export import export_experiment, final_recipe_args, next_steps
from nas.report.pareto_plot import figure
from nas.space.parse import load_space
from sharesnet import get_spec, masks
from sharesnet.rules import paper_sharing

ROOT = Path(__file__).resolve().parents[1]
BASE = get_spec("cifar_resnet20", in_channels=1, num_classes=10)  # the quickstart base: 3-3-3, 16-32-64
SHALLOW = dataclasses.replace(BASE, stages=tuple(dataclasses.replace(s, depth=1, share=()) for s in BASE.stages))
SPECS = {  # name -> spec; the names are only for the tests
    "plain": BASE.unshared(), "paper": paper_sharing(BASE),
    "s1": BASE.with_masks({(0, 1): masks.stage(3)}), "cyc": BASE.with_masks({(1, 1): masks.cycle(3, 2)}),
    "shallow": SHALLOW, "both": BASE.with_masks({(0, 0): masks.stage(3), (2, 1): masks.stage(3)})}


def _row(name, val_acc, params, flops, status="ok", **extra):
    spec = SPECS[name]
    return {"trial_id": f"t-{name}", "arch_id": spec.arch_id, "status": status, "val_acc": val_acc, "params": params,
            "flops": flops, "sharing": spec.sharing_summary(), "reason": "", "reused_from": None,
            "warm_start": name if name in ("plain", "paper") else None, "spec": spec.to_dict(), **extra}


# val_acc up, params down: front (rank 1) = both (0.99), s1 (0.98), shallow (0.95); rank 2 =
# paper (dominated by both and s1) and cyc (by both); rank 3 = plain (by both, s1 and paper).
ROWS = [_row("plain", 0.97, 60_000, 900_000), _row("paper", 0.975, 45_000, 900_000),
        _row("s1", 0.98, 30_000, 800_000), _row("cyc", 0.96, 42_000, 700_000),
        _row("shallow", 0.95, 20_000, 300_000), _row("both", 0.99, 40_000, 600_000)]


def _experiment(folder: Path, rows: list[dict], dataset: str = "digits") -> Path:
    resolved = load_space(ROOT / "search_spaces/quickstart.yaml").resolved()
    resolved["resolved"]["data"]["dataset"] = dataset
    resolved["resolved"]["base"]["in_channels"] = 1 if dataset == "digits" else 3
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "space.yaml").write_text(yaml.safe_dump(json.loads(json.dumps(resolved)), sort_keys=False))
    (folder / "trials.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    exp = _experiment(tmp_path_factory.mktemp("export") / "exp", ROWS)
    lines = []
    doc = export_experiment(exp, log=lines.append)
    return exp, doc, "\n".join(lines)


def test_ranks_are_one_based(exported):
    exp, doc, text = exported
    assert [e["rank"] for e in doc["front"]] == [1, 1, 1]
    with (exp / "pareto.csv").open() as f:
        ranks = {r["arch_id"]: int(r["rank"]) for r in csv.DictReader(f)}
    assert ranks == {SPECS["both"].arch_id: 1, SPECS["s1"].arch_id: 1, SPECS["shallow"].arch_id: 1,
                     SPECS["paper"].arch_id: 2, SPECS["cyc"].arch_id: 2, SPECS["plain"].arch_id: 3}
    assert "rank 1 = the Pareto front" in text.splitlines()[0]
    # rank 2 is exported whole too, so train_final.py can test the ranking beyond the front
    assert [e["arch_id"] for e in doc["runners_up"]] == [SPECS["paper"].arch_id, SPECS["cyc"].arch_id]
    assert all(e["rank"] == 2 and e["spec"] and e["score"] == "val_acc" for e in doc["runners_up"])
    assert "add runners-up to --select to retrain the 2 net(s) of rank 2 too" in next_steps(exp)


def test_front_table_has_index_depth_and_width(exported):
    _, doc, text = exported
    lines = text.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("| # |"))
    assert "--select" in lines[header - 2] and "0-based" in lines[header - 2]
    cols = [c.strip() for c in lines[header].strip("|").split("|")]
    assert cols[:2] == ["#", "arch_id"] and "depth" in cols and "width" in cols
    rows = lines[header + 2:header + 2 + len(doc["front"])]
    table = [[c.strip() for c in line.strip("|").split("|")] for line in rows]
    for i, (cells, entry) in enumerate(zip(table, doc["front"])):
        assert cells[0] == str(i) and cells[1] == f"`{entry['arch_id']}`"  # `#` is the pareto.yaml index
    by_id = {c[1]: dict(zip(cols, c)) for c in table}
    assert by_id[f"`{SPECS['both'].arch_id}`"]["depth"] == "3-3-3"
    assert by_id[f"`{SPECS['both'].arch_id}`"]["width"] == "16-32-64"
    assert by_id[f"`{SPECS['shallow'].arch_id}`"]["depth"] == "1-1-1"


def test_summary_places_paper_and_plain(exported):
    _, doc, text = exported
    idx = {e["arch_id"]: i for i, e in enumerate(doc["front"])}
    both, s1 = (f"#{idx[SPECS[n].arch_id]} `{SPECS[n].arch_id}`" for n in ("both", "s1"))
    paper = next(line for line in text.splitlines() if line.startswith("The paper's ShaResNet"))
    plain = next(line for line in text.splitlines() if line.startswith("The plain ResNet"))
    assert SPECS["paper"].arch_id in paper and paper.endswith(f"has rank 2; dominated by {both}, {s1}.")
    assert SPECS["plain"].arch_id in plain and plain.endswith(f"has rank 3; dominated by {both}, {s1}.")


def test_summary_says_when_a_warm_start_is_on_the_front_or_not_evaluated(tmp_path):
    rejected = _row("plain", 0.0, 400_000, 900_000, status="rejected", reason="params 400,000 > max_params 300,000")
    exp = _experiment(tmp_path / "exp", [rejected, _row("paper", 0.99, 30_000, 500_000)])
    lines = []
    doc = export_experiment(exp, log=lines.append)
    text = "\n".join(lines)
    assert f"The paper's ShaResNet (`{SPECS['paper'].arch_id}`" in text and "is on the front: #0." in text
    assert "The plain ResNet was not evaluated: rejected (params 400,000 > max_params 300,000)." in text
    assert [e["warm_start"] for e in doc["front"]] == ["paper"]
    exp2 = _experiment(tmp_path / "exp2", [_row("s1", 0.9, 30_000, 500_000)])
    lines.clear()
    export_experiment(exp2, log=lines.append)
    assert "The paper's ShaResNet was not evaluated" in lines[0] and "The plain ResNet was not evaluated" in lines[0]


@pytest.mark.parametrize("lo, hi, expect", [
    (20e3, 60e3, ["20k", "30k", "40k", "50k", "60k"]),
    (20e3, 300e3, ["20k", "30k", "50k", "100k", "200k", "300k"]),
    (20e3, 2e6, ["20k", "50k", "100k", "200k", "500k", "1M", "2M"]),
    (1e3, 1e8, ["1k", "10k", "100k", "1M", "10M", "100M"]),
])
def test_log_ticks_are_plain_numbers_and_enough(lo, hi, expect):
    assert [si(t) for t in log_ticks(lo, hi)] == expect


def test_log_ticks_on_a_very_short_range():
    ticks = log_ticks(41_000, 44_000)
    assert len(ticks) >= 3 and all(41_000 <= t <= 44_000 for t in ticks)
    assert [si(t) for t in ticks][:2] == ["41k", "42k"]
    assert si(1_500_000) == "1.5M" and si(2e9) == "2G" and si(512) == "512"


@pytest.mark.parametrize("scale", [1, 33])  # params 20k-60k, and 20k-2M
def test_plot_labels_front_members_and_reads_its_ticks(scale):
    rows = [r | {"params": r["params"] if r["params"] == 20_000 else r["params"] * scale} for r in ROWS]
    ranked = [r | {"rank": k} for r, k in zip(rows, [3, 2, 1, 2, 1, 1])]
    front = [r for r in ranked if r["rank"] == 1]
    fig = figure(ranked, front, ["val_acc", "params"])
    fig.canvas.draw()
    for ax in fig.axes:
        assert sorted(t.get_text() for t in ax.texts) == ["#0", "#1", "#2"]
        labels = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
        assert len(labels) >= 4 and all(label[-1] in "kM" for label in labels), labels
    assert "20k" in [t.get_text() for t in fig.axes[0].get_xticklabels()]


def test_next_steps_digits_and_cifar(exported, tmp_path):
    exp, _, _ = exported
    text = next_steps(exp)
    assert str(exp / "pareto.yaml") in text and str(exp / "pareto.png") in text
    command = f"python scripts/train_final.py --pareto {exp / 'pareto.yaml'} --select all,plain,paper --recipe fast --epochs 15"
    assert command in text
    assert "partial" not in text
    cifar = _experiment(tmp_path / "cifar", ROWS, dataset="cifar10")
    export_experiment(cifar, log=lambda m: None)
    assert f"--pareto {cifar / 'pareto.yaml'} --select all,plain,paper --recipe wrn\n" in next_steps(cifar) + "\n"
    # Prefix trials (the first epochs of a named schedule) retrain on that whole schedule.
    assert final_recipe_args("imagefolder", {"name": "fast", "epochs": 15, "stop_after": 4}) == "--recipe fast --epochs 15"
    assert final_recipe_args("cifar10", {"name": None, "epochs": 15, "stop_after": 4}) == "--recipe wrn"
    assert "partial" in next_steps(cifar, interrupted=True) and "--resume" in next_steps(cifar, interrupted=True)
    assert "train_final.py" not in next_steps(cifar, interrupted=True)  # finish the search first


def test_next_steps_without_a_front(tmp_path):
    exp = _experiment(tmp_path / "exp", [_row("plain", 0.0, 400_000, 900_000, status="rejected")])
    export_experiment(exp, log=lambda m: None)
    text = next_steps(exp, interrupted=True)
    assert "partial" in text and "no front to retrain" in text and "train_final.py" not in text


def test_export_script_prints_summary_and_next_steps(exported, capsys):
    exp, _, _ = exported
    spec = importlib.util.spec_from_file_location("export_pareto", ROOT / "scripts/export_pareto.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    assert script.main(["--experiment", str(exp)]) == 0
    out = capsys.readouterr().out
    assert "| # | arch_id |" in out and "scripts/train_final.py --pareto" in out


def test_baselines_are_exported_and_selectable_for_retraining(exported):
    # The plain and paper nets are what a front is judged against: pareto.yaml carries them,
    # and train_final.py --select all,plain,paper retrains them beside the front, each once.
    from nas.retrain.jobs import from_pareto

    exp, doc, _ = exported
    assert {t: e["arch_id"] for t, e in doc["baselines"].items()} == \
        {"plain": SPECS["plain"].arch_id, "paper": SPECS["paper"].arch_id}
    assert doc["baselines"]["plain"]["rank"] == 3 and doc["baselines"]["paper"]["spec"] == SPECS["paper"].to_dict()
    archs = from_pareto(exp / "pareto.yaml", "all,plain,paper,0,plain")
    front = [e["arch_id"] for e in doc["front"]]
    assert [a.name for a in archs] == front + [SPECS["plain"].arch_id, SPECS["paper"].arch_id]  # named by what it is
    assert [(a.role["front_index"], a.role["rank"], a.role["baseline"]) for a in archs] == \
        [(0, 1, None), (1, 1, None), (2, 1, None), (None, 3, "plain"), (None, 2, "paper")]
    assert all(a.role["export"] == {"experiment": str(exp), "evaluated": 6, "front": front} for a in archs)
    assert [a.spec for a in archs[3:]] == [SPECS["plain"], SPECS["paper"]]
    assert "all,plain,paper" in next_steps(exp)


def test_hypervolume_states_its_scale_and_the_box_it_is_measured_in(exported):
    # "normalized hypervolume 0.5639" gave neither its scale nor its reference point.
    _, doc, text = exported
    line = text.splitlines()[1]
    worst = {o["name"]: o["worst"] for o in doc["hypervolume"]["objectives"]}
    assert worst["val_acc"] == 0 and worst["params"] == pytest.approx(1.1 * 269_434)  # the plain base's, x 1.1
    assert line.startswith(f"Hypervolume {doc['hypervolume']['value']:.4f}: the share of the box between the "
                           f"reference point (val_acc 0, params {worst['params']:,.0f}) and the ideal point "
                           f"(val_acc 1, params 0) that the front dominates, so 1 would be a perfect net")


def test_an_empty_front_says_so_and_shows_no_hypervolume(tmp_path):
    exp = _experiment(tmp_path / "exp", [_row("plain", 0.0, 400_000, 900_000, status="failed", reason="diverged")])
    lines = []
    doc = export_experiment(exp, log=lines.append)
    text = "\n".join(lines)
    assert doc["front"] == [] and text.startswith("Pareto front: empty: no architecture finished its training")
    assert "ypervolume" not in text and "| # |" not in text
    assert "The plain ResNet was not evaluated: failed (diverged)." in text


@pytest.mark.parametrize("names,hint", [(["both"], None), (["s1", "shallow"], "--select 1 retrains only"),
                                        (["both", "s1", "shallow"], "--select 0,2 retrains only")])
def test_the_select_hint_names_only_indices_the_front_has(tmp_path, names, hint):
    # A 2-entry front was told `--select 0,2`.
    exp = _experiment(tmp_path / "exp", [_row(n, *dict(both=(0.99, 40_000, 600_000), s1=(0.98, 30_000, 800_000),
                                                      shallow=(0.95, 20_000, 300_000))[n]) for n in names])
    doc = export_experiment(exp, log=lambda m: None)
    assert len(doc["front"]) == len(names)
    text = next_steps(exp)
    assert (hint in text) if hint else "retrains only" not in text
