"""What a search's seed noise means for its front: which differences of its score are real.

With the noise pooled over the re-evaluated candidates (nas/search/reeval.py), two means differ
beyond noise when the gap exceeds the 95% Student-t half-width for their numbers of seeds.
Every front member is judged against each baseline (plain, paper) and against the other
members; a search whose front is all "within noise" has not ranked its members.
"""
from __future__ import annotations

from nas.report import rankstats


def judge(front: list[dict], baselines: dict[str, dict], spread: rankstats.Spread | None) -> list[dict]:
    """Per front member: {"vs": {tag: {diff, half_width, verdict}}, "within_noise_of": [indices]}."""
    out = []
    for i, r in enumerate(front):
        vs = {tag: _verdict(r, b, spread) for tag, b in baselines.items() if b["arch_id"] != r["arch_id"]}
        near = [j for j, o in enumerate(front) if j != i and _verdict(r, o, spread)["verdict"] != "above"
                and _verdict(r, o, spread)["verdict"] != "below"]
        out.append({"vs": vs, "within_noise_of": near})
    return out


def _verdict(a: dict, b: dict, spread: rankstats.Spread | None) -> dict:
    diff = a["score"] - b["score"]
    if spread is None:
        return {"diff": diff, "half_width": None, "verdict": "noise not measured"}
    hw = rankstats.half_width(spread, a["n_seeds"], b["n_seeds"])
    verdict = "within noise" if abs(diff) <= hw else ("above" if diff > 0 else "below")
    return {"diff": diff, "half_width": hw, "verdict": verdict}


def _says(verdict: str) -> str:
    return {"within noise": "within noise of", "noise not measured": "untested against"}.get(verdict, verdict)


def lines(front: list[dict], judged: list[dict], spread: rankstats.Spread | None, reevaluated: int,
          score: str = "val_acc") -> list[str]:
    """The summary's noise paragraph: the spread of the score (val_acc or train_acc), then one line
    per front member."""
    if spread is None:
        return ["Seed noise: not measured (no candidate was trained with a second seed; `reevaluate:` in the "
                f"space does it). Each {score} above is one seed of a short trial, which another seed moves (a "
                "short trial's val_acc by several points): treat close values as ties."]
    out = [f"Seed noise: {score} moves by sd {spread.sd:.4f} between seeds (pooled over {reevaluated} re-evaluated "
           f"candidates, {spread.df} df). Two nets with 2 seeds each differ beyond noise only by more than "
           f"±{rankstats.half_width(spread, 2, 2):.4f} (95%). This is the trials' own noise; whether a "
           f"short trial ranks nets as their retraining does is another question (scripts/fidelity.py "
           f"measures it, train_final.py's ranking check answers it for this front)."]
    for i, (r, j) in enumerate(zip(front, judged)):
        parts = [f"{_says(v['verdict'])} {tag} ({v['diff']:+.4f})" for tag, v in j["vs"].items()]
        near = ", ".join(f"#{k}" for k in j["within_noise_of"])
        parts.append(f"within noise of {near}" if near else "distinguishable from every other member")
        n = f"n={r['n_seeds']}"
        out.append(f"  #{i} `{r['arch_id']}` ({n}): " + "; ".join(parts))
    return out
