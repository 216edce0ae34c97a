"""Re-evaluation: the search's best candidates trained again with more seeds, before export.

One seed of a short trial moves val_acc by more than the differences a search must rank, so
a front from single trainings mixes real differences with luck (and favours the lucky). The
top rung of successive halving answers this: the best candidates, by non-dominated rank and
then score (val_acc, or train_acc where the space ranks by it), and the plain and paper
baselines, train again with seeds seed+1, seed+2, ... until each has `seeds` of them; their
score becomes the mean. The ranking is then redone, and repeated (at most `rounds` times)
while its top holds nets with fewer seeds.

Pure functions over journal rows: the driver runs the trainings and writes `reeval` rows.
"""
from __future__ import annotations

import statistics
from typing import Any

from nas.report import rankstats
from nas.report.pareto import nondominated_ranks
from nas.search.rows import Row, Status, report_fields
from nas.space.config import SCORES, SearchSpace

STATUS = Status.REEVAL  # a journal row of one extra-seed training; never a candidate, never in the budget


def extra_scores(rows: list[dict], score: str = "val_acc") -> dict[str, dict[int, float]]:
    """arch_id -> {seed: score} of the re-evaluations that finished."""
    out: dict[str, dict[int, float]] = {}
    for r in rows:
        if r["status"] == STATUS and r.get(score) is not None:
            out.setdefault(r["arch_id"], {})[r["seed"]] = r[score]
    return out


def aggregate(candidates: list[dict], rows: list[dict], first_seed: int = 0, score: str = "val_acc") -> list[dict]:
    """The candidates (trained with `first_seed`) with their score (val_acc or train_acc) as the
    mean over all their seeds, under its own name and as `score`, with score_seeds, score_std and
    n_seeds beside it. The other accuracy stays the first seed's."""
    scores = extra_scores(rows, score)
    out = []
    for c in candidates:
        seeds = {**scores.get(c["arch_id"], {}), first_seed: c[score]}
        vals = [seeds[s] for s in sorted(seeds)]
        mean = statistics.mean(vals)
        out.append({**c, score: mean, "score": mean, "score_name": score, "score_seeds": vals, "n_seeds": len(vals),
                    "score_std": statistics.stdev(vals) if len(vals) > 1 else None})
    return out


def noise(ranked: list[dict]) -> rankstats.Spread | None:
    """The seed spread of the score pooled over every re-evaluated candidate."""
    return rankstats.pooled_sd([r["score_seeds"] for r in ranked])


def ranked(candidates: list[dict], space_objectives: list[tuple[str, str]]) -> list[dict]:
    """Aggregated candidates with their 1-based non-dominated rank, best first (rank, then score)."""
    names, modes = [n for n, _ in space_objectives], [d for _, d in space_objectives]
    ranks = nondominated_ranks([[r[n] for n in names] for r in candidates], modes) if candidates else []
    return sorted(({**r, "rank": k + 1} for r, k in zip(candidates, ranks)), key=lambda r: (r["rank"], -r["score"]))


def choose(rows: list[dict], space: SearchSpace) -> list[dict]:
    """The candidates to re-evaluate now: the `top` best by current means, and the baselines."""
    cfg = space.reevaluate
    cands = aggregate([r for r in rows if r["status"] == Status.OK and not r.get("reused_from")], rows,
                      space.recipe.seed, space.score)
    order = ranked(cands, list(space.objectives))
    chosen = {r["arch_id"]: r for r in order[:cfg.top]}
    for r in order:
        if r.get("warm_start") in ("plain", "paper"):  # compared at the same n as the front
            chosen.setdefault(r["arch_id"], r)
    return list(chosen.values())


def most_trainings(space: SearchSpace) -> int:
    """The most re-evaluation trainings the space can ask for: the first round's top and baselines
    (when warm-started) lacking seeds, then at most `top` new nets a round."""
    cfg = space.reevaluate
    if cfg is None:
        return 0
    baselines = sum(b in space.warm_start for b in ("plain", "paper"))
    return (cfg.seeds - 1) * (cfg.top + baselines + (cfg.rounds - 1) * cfg.top)


def pending(chosen: list[dict], rows: list[dict], space: SearchSpace) -> list[tuple[dict, int]]:
    """(candidate, seed) of every training the chosen still lack; a seed tried once (even one
    that failed) is not tried again."""
    first = space.recipe.seed
    tried = {(r["arch_id"], r["seed"]) for r in rows if r["status"] == STATUS}
    return [(c, s) for c in chosen for s in range(first + 1, first + space.reevaluate.seeds)
            if (c["arch_id"], s) not in tried]


def row(cand: dict, seed: int, key: str, report: dict[str, Any], status: Status, reason: str = "") -> Row:
    """The journal row of one re-evaluation: the candidate's identity, this seed's report."""
    ok = status == Status.OK
    fields = report_fields(report) | {k: report.get(k) if ok else None for k in SCORES}
    return Row(trial_id=f"reeval-{cand['arch_id']}-s{seed}", key=key, arch_id=cand["arch_id"],
               status=STATUS, outcome=status, seed=seed, reeval_of=cand["trial_id"],
               params=cand["params"], flops=cand["flops"], reason=reason,
               **fields, sharing=cand["sharing"], spec=cand["spec"])
