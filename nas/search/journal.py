"""The trial journal: one JSON line per finished candidate, and trials.csv rendered from it.

The journal is the search's memory across restarts: completed results (for
de-duplication), how many trainings the budget has used, and every failure's reason.
Only the driver writes it, so a cluster needs no shared file system for it.
"""
from __future__ import annotations

import csv
import io
import json
import os
import time
from pathlib import Path
from typing import Any

CSV_COLUMNS = ["trial_id", "number", "arch_id", "status", "seed", "val_acc", "params", "flops", "epochs",
               "wall_time_s", "train_time_s", "reason", "reused_from", "warm_start", "resumed_at_epoch",
               "continues", "device", "gpu_ids", "node", "sharing", "spec"]
TRAINED = ("ok", "failed", "early_stopped", "error")  # statuses that used a training slot
FINAL = ("ok", "failed")  # outcomes worth reusing (early stops and crashes may go differently)
# "interrupted": cut off by a stop; not a training's end. --resume trains it to the end.
# "reeval": an extra-seed training of a candidate (nas/search/reeval.py); outside the budget and the candidates.


def atomic_write(path: Path, text: str) -> None:
    """Write then rename, so readers never see half a file."""
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(text)
    os.replace(tmp, path)


class Journal:
    def __init__(self, folder: Path, tags: dict[str, Any] | None = None):
        self.folder = Path(folder)
        self.tags = dict(tags or {})  # fields every candidate row of this search carries, e.g. inherited
        self.path = self.folder / "trials.jsonl"
        self.rows: list[dict[str, Any]] = []
        if self.path.exists():
            lines = self.path.read_text().splitlines()
            self.rows = [json.loads(line) for line in lines if line.strip()]

    def add(self, row: dict[str, Any]) -> None:
        row = {"time": time.time(), **row, **(self.tags if "key" in row else {})}
        self.rows.append(row)
        with self.path.open("a") as f:
            f.write(json.dumps(row) + "\n")
            f.flush()
            os.fsync(f.fileno())
        self.write_csv()

    def finished(self) -> dict[str, dict[str, Any]]:
        """Trainings that ended by themselves, by key (arch_id + recipe), for de-duplication.

        A failed training is final too: with the same spec, recipe and seed it fails again."""
        return {r["key"]: r for r in self.rows if r["status"] in FINAL and not r.get("reused_from")}

    def candidates(self) -> list[dict[str, Any]]:
        """Architectures evaluated to the end, each once: the rows a Pareto front is made of."""
        return [r for r in self.rows if r["status"] == "ok" and not r.get("reused_from")]

    def count(self, *statuses: str) -> int:
        return sum(1 for r in self.rows if r["status"] in statuses)

    def trained(self) -> int:
        return sum(1 for r in self.rows if r["status"] in TRAINED and not r.get("reused_from"))

    def write_csv(self) -> None:
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for r in self.rows:
            writer.writerow({**r, "spec": json.dumps(r.get("spec"), separators=(",", ":"))})
        atomic_write(self.folder / "trials.csv", buf.getvalue())
