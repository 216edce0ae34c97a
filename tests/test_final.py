"""Search -> Pareto export -> final retraining, on a real tiny experiment (digits, CPU)."""
import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from nas.report.export import export_experiment
from nas.report.pareto import dominates
from sharesnet import ArchSpec
from sharesnet.data import load_data
from sharesnet.train import get_recipe, load_checkpoint, train
from sharesnet.train.evaluate import accuracy
from tests.test_search import write_space

ROOT = Path(__file__).resolve().parents[1]


def _run(*args, timeout=300):
    out = subprocess.run([sys.executable, *map(str, args)], capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
    return out.stdout


@pytest.fixture(scope="module")
def experiment(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("final")
    space = write_space(tmp, trials=3, vary={"depth": [1, 2], "sharing": {"positions": ["conv2"],
                                                                            "patterns": ["none", "stage"]}})
    out = _run(ROOT / "scripts/search.py", "--space", space, "--out", tmp, "--name", "exp")
    assert "Pareto front:" in out and "Hypervolume " in out
    return tmp / "exp"


def test_resuming_a_finished_search_says_how_long_it_took_and_that_nothing_was_left(experiment):
    # It printed "done in 0.0 s" after an 11-second wait: the clock started after Ray and the data.
    import re
    import time

    start = time.perf_counter()
    out = _run(ROOT / "scripts/search.py", "--space", experiment.parent / "space.yaml", "--out", experiment.parent,
               "--name", experiment.name, "--resume")
    waited = time.perf_counter() - start
    m = re.search(r"\[search\] done in (\d+\.\d) s: 3 of 3 trainings, all of them before this run: nothing was "
                  r"left to train; results in ", out)
    assert m and 1.0 <= float(m[1]) <= waited, (out[-1500:], waited)  # Ray's start-up alone takes seconds


def test_export_from_real_experiment(experiment):
    doc = yaml.safe_load((experiment / "pareto.yaml").read_text())
    front = doc["front"]
    assert front and 0 < doc["hypervolume"]["value"] <= 1 and doc["hypervolume"]["reference"] == [1.0, 1.0]
    with (experiment / "pareto.csv").open() as f:
        ranked = list(csv.DictReader(f))
    assert len(ranked) == doc["n_candidates"] >= len(front)
    pts = {r["arch_id"]: (float(r["val_acc"]), int(r["params"])) for r in ranked}
    for e in front:
        assert ArchSpec.from_dict(e["spec"]).arch_id == e["arch_id"]  # each entry builds on its own
        assert e["recipe"]["epochs"] == 1 and e["seed"] == 0 and e["data"]["dataset"] == "digits"
        assert not any(dominates(p, pts[e["arch_id"]], ["max", "min"]) for p in pts.values())
    assert (experiment / "pareto.png").stat().st_size > 10_000


def test_export_keeps_failed_rejected_and_stopped_out(experiment, tmp_path):
    (tmp_path / "space.yaml").write_text((experiment / "space.yaml").read_text())
    good = json.loads((experiment / "trials.jsonl").read_text().splitlines()[-1])
    rows = [good | {"status": "ok", "trial_id": "a", "val_acc": 0.5, "params": 100, "reused_from": None}]
    for i, status in enumerate(["failed", "rejected", "early_stopped", "error"]):
        rows.append(good | {"status": status, "trial_id": f"x{i}", "val_acc": 0.99, "params": 1})
    rows.append(rows[0] | {"trial_id": "dup", "reused_from": "a"})  # a reused row is the same architecture
    (tmp_path / "trials.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    doc = export_experiment(tmp_path, log=lambda m: None)
    assert doc["n_candidates"] == 1 and [e["trial_id"] for e in doc["front"]] == ["a"]


def test_train_final_from_pareto_and_rebuild_from_checkpoint(experiment, tmp_path):
    out = tmp_path / "final"
    log = _run(ROOT / "scripts/train_final.py", "--pareto", experiment / "pareto.yaml", "--select", "0",
               "--recipe", "fast", "--epochs", "1", "--out", out)
    assert "test accuracy (mean ± std, n seeds)" in log and "[####################] epoch 1/1" in log
    assert "[final] data: digits: trains on 1,151 train + 287 val = 1,438 images, tests on 359 (no limit; " \
           "the search used limit 400, pass --limit 400 to keep it)" in log
    with (out / "final_results.csv").open() as f:
        (row,) = list(csv.DictReader(f))
    ckpt = Path(row["checkpoint"])
    model, payload = load_checkpoint(ckpt)  # the file alone rebuilds the model
    assert ArchSpec.from_dict(payload["spec"]).arch_id == row["arch_id"]
    keys = ("limit", "test_limit", "split_seed", "val_fraction")
    data = load_data(**{k: v for k, v in payload["data"].items() if k in keys}, name=payload["data"]["name"])
    assert len(data.test) == int(row["test_images"]) == 359  # the search's limit 400 never capped the test split
    assert accuracy(model, data.test, data) == pytest.approx(float(row["test_acc"]), abs=1e-9)


def test_train_final_resume_continues_at_next_epoch(experiment, tmp_path):
    entry = yaml.safe_load((experiment / "pareto.yaml").read_text())["front"][0]
    spec, folder = ArchSpec.from_dict(entry["spec"]), tmp_path / "final" / entry["arch_id"] / "seed-0"
    recipe = get_recipe("fast", epochs=2)
    data = load_data("digits", val_fraction=0.2)  # the final run's data: the search's limit is dropped
    # An interrupted job: the checkpoint holds epoch 1 of 2 and there is no result yet.
    train(spec, recipe, data, checkpoint_dir=folder, train_on="train+val", on_epoch=lambda e, m: True)
    args = [ROOT / "scripts/train_final.py", "--pareto", experiment / "pareto.yaml", "--select", entry["arch_id"],
            "--recipe", "fast", "--epochs", "2", "--out", tmp_path / "final"]
    refused = subprocess.run([sys.executable, *map(str, args)], capture_output=True, text=True, cwd=ROOT)
    assert refused.returncode == 2 and "pass --resume" in refused.stderr
    log = _run(*args, "--resume")
    assert "epoch 2/2" in log and "epoch 1/2" not in log
    with (folder / "metrics.csv").open() as f:
        assert [int(r["epoch"]) for r in csv.DictReader(f)] == [1, 2]
    again = _run(*args, "--resume")
    assert "already finished" in again


def test_train_final_errors_are_one_line(tmp_path):
    out = subprocess.run([sys.executable, str(ROOT / "scripts/train_final.py"), "--pareto", str(tmp_path / "no.yaml")],
                         capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 2 and "no such pareto file" in out.stderr and "Traceback" not in out.stderr
