"""The table of a proposal run: the soft net and its proposals, with costs and accuracies.

Validation accuracy means two things here, and the header says so: the soft net's after its
training, and each proposal's with the folded soft weights, before any retraining.
"""
from __future__ import annotations

from typing import Any

from sharesnet import files

COLUMNS = ["name", "thresholds", "arch_id", "sharing", "params", "params_vs_plain", "flops", "val_acc",
           "fold_residual", "in_space", "file"]


def proposals_csv(rows: list[dict[str, Any]], plain: dict[str, Any]) -> str:
    return files.csv_text((r | {"thresholds": " ".join(f"{t:g}" for t in r["thresholds"]),
                                "params_vs_plain": round(r["params"] / plain["params"], 4)} for r in rows), COLUMNS)


def markdown(rows: list[dict[str, Any]], plain: dict[str, Any]) -> str:
    lines = ["| net | thresholds | arch_id | sharing | params (vs plain) | FLOPs (fvcore, 1 MAC = 1 flop) "
             "| val acc (soft: trained; proposals: folded, not retrained) | fold residual | a warm start of the space |",
             "|---|---|---|---|---:|---:|---:|---:|---|",
             f"| plain (not trained here) | | `{plain['arch_id']}` | none | {plain['params']:,} (100%) "
             f"| {plain['flops']:,} | | | |"]
    for r in rows:
        residual = "" if r["fold_residual"] is None else f"{r['fold_residual']:.3f}"
        warm = {None: "", True: "yes", False: "no: not among its patterns"}[r["in_space"]]
        lines.append(f"| {r['name']} | {', '.join(f'{t:g}' for t in r['thresholds'])} | `{r['arch_id']}` "
                     f"| {r['sharing']} | {r['params']:,} ({r['params'] / plain['params']:.0%}) | {r['flops']:,} "
                     f"| {r['val_acc']:.4f} | {residual} | {warm} |")
    return "\n".join(lines)
