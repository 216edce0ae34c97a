"""scripts/propose.py: one soft-net training on digits, its proposals as files, as warm starts
of a search, and retrained by train_final.py --arch."""
import json
from pathlib import Path

import optuna
import pytest
import torch
import yaml

from nas.cli.final import final_main
from nas.cli.propose import propose_main
from nas.propose.proposals import read_proposals
from nas.propose.run import default_templates, soft_spec
from nas.search.candidate import costs
from nas.space.codec import encode, warm_start_specs
from nas.space.parse import load_space, parse_space
from nas.space.problems import SpaceError
from sharesnet import ArchSpec, build_model
from sharesnet.similarity import propose
from sharesnet.train import load_checkpoint

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.usefixtures("one_thread")

# Two stages of 3 blocks: 2 soft layers per position, so 1 template each by default.
TINY = {"stages": [{"depth": 3, "width": 8, "stride": 1}, {"depth": 3, "width": 16, "stride": 2}], "stem_width": 8}
SPACE = {"name": "tiny", "data": {"dataset": "digits", "limit": 300, "val_fraction": 0.25},
         "base": {"spec": TINY}, "vary": {"sharing": {"positions": ["conv1", "conv2"], "patterns": ["none", "ranges"]}},
         "train": {"recipe": "fast", "epochs": 2, "batch_size": 64}, "trials": 4, "warm_start": ["plain", "paper"]}


def write_space(folder: Path, **over) -> Path:
    path = folder / "space.yaml"
    path.write_text(yaml.safe_dump(SPACE | over))
    return path


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One proposal run on the tiny space, shared by the tests below: (space file, out folder, stdout)."""
    folder = tmp_path_factory.mktemp("propose")
    space, out = write_space(folder), folder / "out"
    code, printed = _main(["--space", space, "--out", out])
    assert code == 0
    return space, out, printed


def _main(args) -> tuple[int, str]:
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = propose_main([str(a) for a in args], "doc")
    return code, buf.getvalue()


def test_the_run_writes_specs_costs_table_and_plot(run):
    space_file, out, printed = run
    space = load_space(space_file)
    doc = yaml.safe_load((out / "proposals.yaml").read_text())
    soft = ArchSpec.load(out / "soft.yaml")
    assert soft == soft_spec(space) and soft.is_soft and doc["soft"]["arch_id"] == soft.arch_id
    assert doc["seed"] == space.recipe.seed and doc["recipe"] == space.recipe.to_dict()
    assert doc["data"]["limit"] == 300 and doc["similarity"].keys() == {"s1.conv1", "s1.conv2", "s2.conv1", "s2.conv2"}
    model, ckpt = load_checkpoint(out / doc["soft"]["checkpoint"])
    assert ckpt["arch_id"] == soft.arch_id and ckpt["epoch"] == 2
    assert doc["soft"]["images_trained"] > 0 and doc["soft"]["train_time_s"] > 0 and doc["wall_time_s"] > 0
    files = sorted((out / "specs").glob("*.yaml"))
    assert [f.name for f in files] == sorted(Path(p["file"]).name for p in doc["proposals"]) and files
    for entry in doc["proposals"]:
        spec = ArchSpec.load(out / entry["file"])  # what train_final.py --arch reads
        body = yaml.safe_load((out / entry["file"]).read_text())
        assert not spec.is_soft and spec.arch_id == entry["arch_id"] == body["arch_id"]
        assert (entry["params"], entry["flops"]) == costs(spec, (1, 8, 8))
        assert body["from"]["seed"] == doc["seed"] and body["from"]["soft_arch_id"] == soft.arch_id
    assert (out / "similarity.png").stat().st_size > 5000
    assert (out / "proposals.csv").read_text().splitlines()[0].startswith("name,thresholds,arch_id")
    assert "| plain (not trained here) |" in printed and f"--arch {out}/specs" in printed
    assert f"- proposals: {out}" in printed


def test_one_template_per_two_layers_folds_exactly_on_the_trained_net(run):
    # 2 soft layers and 1 template: the layers are scaled copies, so the fold is exact and the
    # folded hard net is as accurate as the trained soft net, on every validation image.
    _, out, _ = run
    doc = yaml.safe_load((out / "proposals.yaml").read_text())
    assert default_templates(2) == 1 and set(doc["templates"].values()) == {1}
    (entry,) = doc["proposals"]
    assert entry["fold_residual"] < 1e-6 and entry["val_acc"] == doc["soft"]["val_acc"]
    assert entry["sharing"] == "s1.conv1=011 s1.conv2=011 s2.conv1=011 s2.conv2=011"
    assert entry["params"] < doc["plain"]["params"] and entry["params"] < doc["soft"]["params"]
    assert entry["in_space"] is True  # 011 is `ranges` with a cut after block 0


def test_a_rerun_reuses_the_trained_soft_net(run, tmp_path):
    space, out, _ = run
    before = (out / "soft/last.pt").stat().st_mtime_ns
    code, printed = _main(["--space", space, "--out", out, "--thresholds", "0.99"])
    assert code == 0 and (out / "soft/last.pt").stat().st_mtime_ns == before
    assert yaml.safe_load((out / "proposals.yaml").read_text())["thresholds"] == [0.99]


def test_proposals_are_warm_starts_and_the_unexpressible_are_skipped(run, tmp_path):
    from nas.run.driver import _enqueue_warm_starts
    from nas.search.journal import Journal

    _, out, _ = run
    space = parse_space(SPACE | {"warm_start": ["plain", "paper", {"proposals": str(out)}]}, "s.yaml")
    specs = warm_start_specs(space)
    (name, spec), = read_proposals(out)
    assert list(specs) == ["plain", "paper", name] and specs[name] == spec and encode(spec, space) is not None
    study, lines = optuna.create_study(), []
    _enqueue_warm_starts(study, space, lines.append, Journal(tmp_path))
    tags = [t.user_attrs["warm_start"] for t in study.get_trials()]
    assert tags == ["plain", "paper", name] and not lines
    # conv2 only: the proposal also shares conv1, which this space cannot express
    narrow = parse_space(SPACE | {"vary": {"sharing": {"positions": ["conv2"]}},
                                  "warm_start": ["plain", {"proposals": str(out)}]}, "s.yaml")
    (tmp_path / "narrow").mkdir()
    study, lines, journal = optuna.create_study(), [], Journal(tmp_path / "narrow")
    _enqueue_warm_starts(study, narrow, lines.append, journal)
    assert [t.user_attrs["warm_start"] for t in study.get_trials()] == ["plain"]
    assert len(lines) == 1 and lines[0].startswith(f"[search] warm start '{name}' skipped: the space cannot express it: ")
    assert "conv1" in lines[0]  # the choice it would need
    assert [(r["warm_start"], r["status"]) for r in journal.rows] == [(name, "invalid")]  # the export says why


def test_contiguous_proposals_are_all_expressible_as_ranges():
    space = parse_space(SPACE | {"base": {"spec": {**TINY, "stages": [{"depth": 6, "width": 8, "stride": 1},
                                                                      {"depth": 5, "width": 16, "stride": 2}]}}},
                        "s.yaml")
    spec = soft_spec(space)
    assert {spec.stages[0].templates(p) for p in (0, 1)} == {3}  # 5 soft layers: 3 templates
    torch.manual_seed(0)
    state = build_model(spec).state_dict()
    with torch.no_grad():  # coefficients drawn afresh: the orthogonal init would propose nothing
        for k in state:
            if "_coef" in k:
                state[k].normal_()
    free, ranges = propose(spec, state), propose(spec, state, contiguous=True)
    assert len(ranges) >= 3 and all(encode(p.spec, space) is not None for p in ranges)
    assert any(encode(p.spec, space) is None for p in free)  # free clustering leaves the patterns


def test_bad_proposal_warm_starts_are_one_line(tmp_path):
    with pytest.raises(SpaceError, match=r"warm_start\[1\]: expected one of plain, paper or a mapping"):
        parse_space(SPACE | {"warm_start": ["plain", "proposal"]}, "s.yaml")
    with pytest.raises(SpaceError, match=r"warm_start\[0\].proposals: expected a path"):
        parse_space(SPACE | {"warm_start": [{"proposals": 3}]}, "s.yaml")
    space = parse_space(SPACE | {"warm_start": [{"proposals": str(tmp_path / "none")}]}, "s.yaml")
    with pytest.raises(SpaceError, match=r"no proposals.yaml there; run scripts/propose.py") as e:
        warm_start_specs(space)
    assert "\n" not in str(e.value)
    (tmp_path / "proposals.yaml").write_text("front: []\n")
    with pytest.raises(SpaceError, match="not a proposals file written by scripts/propose.py"):
        read_proposals(tmp_path)
    assert "warm_start_proposals" not in parse_space(SPACE, "s.yaml").resolved()["resolved"]


def test_train_final_retrains_the_proposals_and_the_soft_net(run, tmp_path, capsys):
    _, out, _ = run
    code = final_main(["--arch", str(out / "specs"), "--arch", str(out / "soft.yaml"), "--dataset", "digits",
                       "--recipe", "fast", "--epochs", "1", "--limit", "200", "--test-limit", "100",
                       "--out", str(tmp_path)], "doc")
    printed = capsys.readouterr().out
    assert code == 0
    assert "| proposal-t0.99 |" in printed and "| soft |" in printed and "soft(k=1)" in printed
    assert (tmp_path / "soft/seed-0/result.json").is_file()
    soft_id = json.loads((tmp_path / "soft/seed-0/result.json").read_text())["arch_id"]
    assert json.loads((tmp_path / "proposal-t0.99/seed-0/result.json").read_text())["proposed_from"] == soft_id
    assert f"| proposal-t0.99 | its soft net `{soft_id}` |" in (tmp_path / "final_results.md").read_text()
    assert final_main(["--arch", str(tmp_path / "soft"), "--dataset", "digits", "--out", str(tmp_path)],
                      "doc") == 2  # a folder without spec files: one line


def test_the_search_trainable_trains_a_soft_net(monkeypatch, tmp_path):
    import nas.run.trainable as trainable

    reports = []
    monkeypatch.setattr(trainable.tune, "report", reports.append)
    monkeypatch.setattr(trainable, "_node", lambda: "here")  # outside Ray: no Ray to ask where
    monkeypatch.setattr(trainable, "_gpu_ids", lambda: [])
    space = parse_space(SPACE | {"data": {"dataset": "digits"}, "train": {"recipe": "fast", "epochs": 4,
                                                                          "batch_size": 64}}, "s.yaml")
    spec = soft_spec(space)
    trainable.run_trial({"spec": spec.to_dict(), "recipe": space.recipe.to_dict(), "data": space.data.load_kwargs(),
                         "params": 1, "flops": 1, "checkpoint_dir": str(tmp_path)})
    assert reports[-1]["status"] == "ok" and reports[-1]["arch_id"] == spec.arch_id, reports[-1]
    assert reports[-1]["val_acc"] > 0.5  # chance is 0.1
    assert load_checkpoint(tmp_path / "last.pt")[1]["arch_id"] == spec.arch_id


def test_cli_errors_are_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:  # argparse's exit, with our one-line message
        propose_main(["--space", str(write_space(tmp_path)), "--thresholds", "0.9,x"], "doc")
    assert e.value.code == 2
    flat = write_space(tmp_path, base={"spec": {"stages": [{"depth": 1, "width": 8}], "stem_width": 8}})
    assert propose_main(["--space", str(flat), "--out", str(tmp_path / "o")], "doc") == 2
    err = capsys.readouterr().err
    assert "expected comma-separated numbers in [0, 1]" in err
    assert "vary.sharing: no stage whose sharing the space searches has 2 or more blocks" in err


def test_quickstart_soft_is_the_quickstart_with_the_proposals_as_warm_starts():
    plain = yaml.safe_load((ROOT / "search_spaces/quickstart.yaml").read_text())
    soft = yaml.safe_load((ROOT / "search_spaces/quickstart-soft.yaml").read_text())
    assert {k: v for k, v in soft.items() if k not in ("name", "warm_start")} == \
        {k: v for k, v in plain.items() if k not in ("name", "warm_start")}
    assert soft["warm_start"] == plain["warm_start"] + [{"proposals": "experiments/quickstart-proposals"}]
    space = load_space(ROOT / "search_spaces/quickstart-soft.yaml")
    assert space.warm_start_proposals == ("experiments/quickstart-proposals",)


def test_quickstart_proposal_smoke_runs(tmp_path):
    # The README's quickstart proposal at smoke size (2 epochs, 400 images); the script's own entry
    # point is covered by tests/test_scripts.py's --help check.
    code, printed = _main(["--space", ROOT / "search_spaces/quickstart.yaml", "--smoke", "--out", tmp_path])
    assert code == 0 and "[propose] done in" in printed
    doc = yaml.safe_load((tmp_path / "proposals.yaml").read_text())
    assert doc["soft"]["epochs"] == 2 and doc["data"]["limit"] == 400
    assert doc["soft"]["params"] == sum(p.numel() for p in build_model(ArchSpec.load(tmp_path / "soft.yaml"))
                                        .parameters())
    assert torch.load(tmp_path / "soft/last.pt", weights_only=True)["spec"] == doc["soft"]["spec"]
