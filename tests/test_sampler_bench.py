"""scripts/bench_sampler.py: real searches (real Optuna samplers, real trainings) on a tiny space."""
import json
import re
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def test_bench_compares_modes_side_by_side_and_resumes(tmp_path):
    space = {"name": "tiny", "data": {"dataset": "digits", "limit": 300, "val_fraction": 0.2},
             "base": {"spec": {"stem_width": 8, "stages": [{"depth": 3, "width": 8, "stride": 1},
                                                          {"depth": 2, "width": 16, "stride": 2}]}},
             "vary": {"sharing": {"positions": ["conv2"], "patterns": ["none", "stage", "ranges", "cycle"], "k": [2]}},
             "train": {"recipe": "fast", "epochs": 1, "warmup_epochs": 0, "batch_size": 64},
             "objectives": ["val_acc", "params"], "sampler": {"name": "nsga2", "population_size": 2},
             "trials": 5, "warm_start": ["plain", "paper"]}
    path = tmp_path / "space.yaml"
    path.write_text(yaml.safe_dump(space))
    cmd = [sys.executable, str(ROOT / "scripts/bench_sampler.py"), "--space", str(path), "--seeds", "1",
           "--samplers", "nsga2,random", "--out", str(tmp_path / "b")]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "4 of 4 searches to run" in out.stdout
    assert re.fullmatch(r"hv_ratio_nsga2=\d\.\d{3} hv_ratio_random=\d\.\d{3}", out.stdout.strip().splitlines()[-1])
    runs = [json.loads(line) for line in (tmp_path / "b" / "runs.jsonl").read_text().splitlines()]
    assert {(r["sampler"], r["mode"]) for r in runs} == {(s, m) for s in ("nsga2", "random") for m in ("before", "after")}
    assert all(r["trainings"] == 5 and 0 < r["hypervolume"] < 1 for r in runs)
    nsga2 = {r["mode"]: r for r in runs if r["sampler"] == "nsga2"}
    assert nsga2["after"]["slots_repeated"] == 0 and nsga2["after"]["outside"] == 0  # what the changes guarantee
    again = subprocess.run(cmd + ["--modes", "before,after,resample-only"], capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and "2 of 6 searches to run" in again.stdout  # finished searches are kept
    assert "| nsga2 | resample-only | 1 |" in again.stdout
