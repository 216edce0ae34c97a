"""What a retrained net was in the search, and as of which export of the front.

A front's `#` and a baseline's rank belong to one export of pareto.yaml: extending a
search (`search.py --resume --trials N`) re-exports and renumbers the front. So a result
is named by what it is, its arch_id, and its role is stated with the export it came
from; a folder whose results come from several exports says so.

result.json records the role as a structured `role` field. Files written before that
field existed carry the role only in their name (`front #0`, `front #1 (paper)`,
`plain (rank 2)`), which is read back here, so committed results still rebuild.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

BASELINES = ("plain", "paper")
_LEGACY = re.compile(r"front #(?P<index>\d+)(?: \((?P<tag>plain|paper)\))?|(?P<base>plain|paper) \(rank (?P<rank>\d+)\)")


@dataclass(frozen=True)
class Export:
    """One export of a search's front: its experiment, how many architectures it ranked, its front."""
    experiment: str | None
    evaluated: int | None
    front: tuple[str, ...]  # arch_ids in `#` order


@dataclass(frozen=True)
class Score:
    """What the search measured of a net: its score, the mean over its seeds when re-evaluated."""
    value: float
    std: float | None
    n: int
    name: str = "val_acc"  # the score: val_acc, or train_acc where the space ranked by it


@dataclass(frozen=True)
class Role:
    front_index: int | None  # `#` in that export's front; None off the front
    rank: int | None
    baseline: str | None  # plain | paper: the search's warm start it is, on the front or not
    export: Export | None  # None: a result.json written before exports were recorded
    search: Score | None = None  # None: a result.json written before the search's score was recorded
    matched: str | None = None  # shallower | narrower: an unshared net of a front member's size, not in the search
    matches: str | None = None  # that member's arch_id


def export_of(doc: dict) -> Export:
    """The export a pareto.yaml document is."""
    return Export(doc.get("experiment"), doc.get("n_candidates"), tuple(e["arch_id"] for e in doc.get("front") or []))


def origin(entry: dict, front_index: int | None, export: Export) -> dict:
    """The `role` field of a result.json: what the entry was in this export."""
    tag = entry.get("warm_start")
    return {"front_index": front_index, "rank": entry.get("rank"), "baseline": tag if tag in BASELINES else None,
            "export": {"experiment": export.experiment, "evaluated": export.evaluated, "front": list(export.front)},
            # so the retraining can say whether the search's ranking held (nas/retrain/ranking.py)
            "search": _search_score(entry)}


def _search_score(entry: dict) -> dict | None:
    """A pareto entry's score, as a result.json's role keeps it; exports before train_acc have no `score` key."""
    name = entry.get("score", "val_acc")
    if entry.get(name) is None:
        return None
    return {"score": name, name: entry[name], f"{name}_std": entry.get(f"{name}_std"),
            "n_seeds": entry.get("n_seeds", 1)}


def role_of(row: dict) -> Role | None:
    """The role of a result row; None for a net that did not come from a pareto file (a preset, a spec file)."""
    if "role" in row:
        r = row["role"]
        if r is None:
            return None
        e = r.get("export")
        export = Export(e.get("experiment"), e.get("evaluated"), tuple(e.get("front") or ())) if e else None
        s = r.get("search")
        name = (s or {}).get("score", "val_acc")
        score = Score(s[name], s.get(f"{name}_std"), s.get("n_seeds") or 1, name) if s else None
        return Role(r.get("front_index"), r.get("rank"), r.get("baseline"), export, score, r.get("matched"),
                    r.get("matches"))
    m = _LEGACY.fullmatch(row.get("name", ""))
    if not m:
        return None
    if m["index"] is not None:
        return Role(int(m["index"]), 1, m["tag"], None)
    return Role(None, int(m["rank"]), m["base"], None)


def export_tags(roles: list[Role | None]) -> dict[Export | None, str]:
    """A short tag per export met, `after 24 evaluated`; empty when every role is from one export."""
    exports = sorted({r.export for r in roles if r is not None}, key=_export_order)
    if len(exports) < 2:
        return {}
    several = len({e.experiment for e in exports if e}) > 1
    tags: dict[Export | None, str] = {}
    for e in exports:
        tag = "export not recorded" if e is None else \
            (f"{Path(e.experiment or '?').name} " if several else "") + _after(e)
        tags[e] = tag if tag not in tags.values() else f"{tag}, another front"  # same count, other front
    return tags


def _after(e: Export) -> str:
    """`after 24 evaluated`: what tells two exports of one search apart (a hand-written file may lack it)."""
    return f"after {e.evaluated} evaluated" if e.evaluated is not None else "of unknown size"


def _export_order(e: Export | None) -> tuple:
    return (0, "", 0, ()) if e is None else (1, e.experiment or "", e.evaluated or 0, e.front)


def role_text(role: Role | None, tags: dict[Export | None, str]) -> str:
    """`front #0`, `front #1 (paper)`, `plain (rank 9)`, `rank 2` (a runner-up); with the export's tag
    when a folder mixes exports."""
    if role is None:
        return ""
    if role.front_index is not None:
        text = f"front #{role.front_index}" + (f" ({role.baseline})" if role.baseline else "")
    elif role.matched:
        text = f"{role.matched} match of `{role.matches}`"
    elif role.baseline:  # off the front
        text = f"{role.baseline} (rank {role.rank})"
    else:  # a runner-up
        text = f"rank {role.rank}"
    return f"{text} [{tags[role.export]}]" if role.export in tags else text


def order_key(role: Role | None) -> tuple:
    """Front members by export and `#`, then the baselines, then the matched nets, then nets not from a pareto file."""
    if role is None:
        return (2,)
    if role.front_index is not None:
        return (0, _export_order(role.export), role.front_index)
    if role.matched:  # after the baselines, by the member they match
        return (1, _export_order(role.export), 3, 0, role.matches or "", role.matched)
    return (1, _export_order(role.export), BASELINES.index(role.baseline) if role.baseline in BASELINES else 2,
            role.rank or 0)


def describe_exports(roles: list[Role | None]) -> str:
    """The line above a results table: which export its `#` and ranks are from, or that it mixes several."""
    exports = sorted({r.export for r in roles if r is not None}, key=_export_order)
    known = [e for e in exports if e is not None]
    if not known:
        return ""
    if len(exports) == 1:
        e = known[0]
        return f"Front `#` and ranks are as of the export of {Path(e.experiment or '?').name}'s front {_after(e)}."
    tags = export_tags(roles)
    return (f"This folder mixes nets retrained from {len(exports)} exports of the front, which number it "
            f"differently: each role names its export ({'; '.join(tags[e] for e in exports)}). A net is "
            f"identified by its arch_id.")
