"""Every committed result recomputes: its params and FLOPs come back from the spec it carries."""
import csv
import json
from pathlib import Path

import pytest
import yaml

from sharesnet import ArchSpec, build_model, count_flops, count_params

RESULTS = Path(__file__).resolve().parents[1] / "docs" / "results"
TRIALS = sorted(RESULTS.glob("*/trials.csv"))


def _input_size(folder: Path) -> tuple[int, int, int]:
    data = yaml.safe_load((folder / "space.yaml").read_text())["resolved"]["data"]
    channels = 1 if data["dataset"] == "digits" else 3
    return (channels, data["image_size"], data["image_size"])


@pytest.mark.parametrize("trials", TRIALS, ids=[p.parent.name for p in TRIALS])
def test_committed_costs_recompute_from_their_specs(trials):
    size = _input_size(trials.parent)
    with trials.open() as f:
        rows = [r for r in csv.DictReader(f) if r["status"] == "ok" and not r["reused_from"]]
    assert rows
    specs = {}
    for r in rows:
        spec = ArchSpec.from_dict(json.loads(r["spec"]))
        assert spec.arch_id == r["arch_id"]
        model = build_model(spec)
        assert (count_params(model), count_flops(model, size)) == (int(r["params"]), int(r["flops"])), r["arch_id"]
        specs[r["arch_id"]] = (int(r["params"]), int(r["flops"]))
    final = trials.parent / "final_results.csv"
    if final.is_file():  # the retrained nets are the searched ones, with the same costs
        with final.open() as f:
            for r in csv.DictReader(f):
                assert specs[r["arch_id"]] == (int(r["params"]), int(r["flops"])), r["arch_id"]
