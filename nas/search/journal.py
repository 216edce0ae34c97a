"""The trial journal: one JSON line per finished candidate, and trials.csv rendered from it.

The journal is the search's memory across restarts: completed results (for
de-duplication), how many trainings the budget has used, and every failure's reason.
Only the driver writes it, so a cluster needs no shared file system for it.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from nas.search.rows import FINAL, TRAINED, Row, Status
from sharesnet.files import atomic_write, csv_text

CSV_COLUMNS = ["trial_id", "number", "arch_id", "status", "seed", "val_acc", "train_acc", "params", "flops", "epochs",
               "wall_time_s", "train_time_s", "reason", "reused_from", "warm_start", "resumed_at_epoch",
               "continues", "device", "gpu_ids", "node", "sharing", "spec"]


class Journal:
    def __init__(self, folder: Path, tags: dict[str, Any] | None = None):
        self.folder = Path(folder)
        self.tags = dict(tags or {})  # fields every candidate row of this search carries, e.g. inherited
        self.path = self.folder / "trials.jsonl"
        self.rows: list[Row] = []
        if self.path.exists():
            lines = self.path.read_text().splitlines()
            self.rows = [json.loads(line) for line in lines if line.strip()]

    def add(self, row: Row) -> None:
        row = {"time": time.time(), **row, **(self.tags if "key" in row else {})}
        self.rows.append(row)
        with self.path.open("a") as f:
            f.write(json.dumps(row) + "\n")
            f.flush()
            os.fsync(f.fileno())
        self.write_csv()

    def finished(self) -> dict[str, Row]:
        """Trainings that ended by themselves, by key (arch_id + recipe), for de-duplication.

        A failed training is final too: with the same spec, recipe and seed it fails again."""
        return {r["key"]: r for r in self.rows if r["status"] in FINAL and not r.get("reused_from")}

    def candidates(self) -> list[Row]:
        """Architectures evaluated to the end, each once: the rows a Pareto front is made of."""
        return [r for r in self.rows if r["status"] == Status.OK and not r.get("reused_from")]

    def count(self, *statuses: Status) -> int:
        return sum(1 for r in self.rows if r["status"] in statuses)

    def trained(self) -> int:
        return sum(1 for r in self.rows if r["status"] in TRAINED and not r.get("reused_from"))

    def write_csv(self) -> None:
        rows = ({**r, "spec": json.dumps(r.get("spec"), separators=(",", ":"))} for r in self.rows)
        atomic_write(self.folder / "trials.csv", csv_text(rows, CSV_COLUMNS))
