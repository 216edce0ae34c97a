"""Every committed result recomputes: its params and FLOPs come back from the spec it carries."""
import csv
import json
from pathlib import Path

import pytest
import yaml

from sharesnet import ArchSpec, build_model, count_flops, count_params

RESULTS = Path(__file__).resolve().parents[1] / "docs" / "results"
TRIALS = sorted(RESULTS.glob("**/trials.csv"))
PROPOSALS = sorted(RESULTS.glob("**/proposals.yaml"))


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
    # Retrained nets: the searched ones cost what the search said; others adopted beside them
    # (--arch, e.g. matched unshared nets) cost what their own result's spec rebuilds to.
    for result in trials.parent.glob("**/final/*/seed-*/result.json"):
        row = json.loads(result.read_text())
        if row["arch_id"] not in specs:
            model = build_model(ArchSpec.from_dict(row["spec"]))
            specs[row["arch_id"]] = (count_params(model), count_flops(model, size))
        assert specs[row["arch_id"]] == (row["params"], row["flops"]), result
    for final in trials.parent.glob("**/final_results.csv"):
        with final.open() as f:
            for r in csv.DictReader(f):
                assert specs[r["arch_id"]] == (int(r["params"]), int(r["flops"])), r["arch_id"]


@pytest.mark.parametrize("doc", PROPOSALS, ids=[p.parent.name for p in PROPOSALS])
def test_committed_proposals_and_their_spec_files_recompute(doc):
    found = yaml.safe_load(doc.read_text())
    size = tuple(found["input_size"])
    entries = [found["soft"], *found["proposals"]]
    assert len(entries) > 1
    for e in entries:
        spec = ArchSpec.load(doc.parent / e["file"])
        assert spec.arch_id == e["arch_id"] == ArchSpec.from_dict(e["spec"]).arch_id
        model = build_model(spec)
        assert (count_params(model), count_flops(model, size)) == (e["params"], e["flops"]), e["arch_id"]


FINALS = sorted(RESULTS.glob("**/final_results.md"))


@pytest.mark.parametrize("table", FINALS, ids=[str(p.parent.relative_to(RESULTS)) for p in FINALS])
def test_committed_final_tables_rebuild_from_the_committed_job_results(table, tmp_path):
    """Every number in final_results.md/.csv comes from the committed result.json files, whatever
    order a clone gives their files."""
    from nas.retrain.results import summarise

    for f in table.parent.glob("*/seed-*/*"):
        if f.suffix in (".json", ".csv"):
            (tmp_path / f.relative_to(table.parent)).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / f.relative_to(table.parent)).write_bytes(f.read_bytes())
    summarise(tmp_path)
    assert (tmp_path / "final_results.md").read_text() == table.read_text()
    assert (tmp_path / "final_results.csv").read_text() == (table.parent / "final_results.csv").read_text()
