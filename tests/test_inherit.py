"""Weight inheritance: the rules (first blocks, first channels, group means), the trainer's
initial weights, the space option and the parent, and a real search that inherits."""
import dataclasses
import json
from pathlib import Path

import pytest
import torch
import yaml

from conftest import random_valid_masks, tiny_spec
from nas.bench.inherit import RandomChoices
from nas.run.inheritance import largest_parent
from nas.search.candidate import recipe_hash
from nas.space.codec import decode
from nas.space.parse import parse_space
from nas.space.problems import SpaceError
from sharesnet import build_model
from sharesnet import masks as M
from sharesnet.data import load_data
from sharesnet.inherit import InheritError, inherit_state
from sharesnet.spec import StageSpec
from sharesnet.train import Recipe, load_checkpoint, train

pytestmark = pytest.mark.usefixtures("one_thread")


def trained_like(spec, seed=0):
    """A parent with non-trivial BatchNorm statistics, in eval mode."""
    torch.manual_seed(seed)
    model = build_model(spec)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-1, 1), m.running_var.uniform_(0.5, 2), m.weight.data.uniform_(0.5, 1.5)
    return model.eval()


@pytest.mark.parametrize("kw", [{}, {"preact": True}, {"block": "bottleneck"}, {"shortcut": "A"}])
def test_same_unshared_net_inherits_exactly(kw):
    spec = tiny_spec(**kw)
    parent = trained_like(spec)
    child = build_model(spec)
    child.load_state_dict(inherit_state(parent, spec, spec))
    x = torch.randn(2, 3, 12, 12)
    assert torch.equal(child.eval()(x), parent(x))


def test_shared_weight_is_the_mean_of_its_group_and_every_block_keeps_its_bn():
    spec = tiny_spec(depths=(3, 2))
    parent = trained_like(spec)
    child_spec = spec.with_masks({(0, 1): M.stage(3), (0, 0): M.cycle(3, 2)})
    state = inherit_state(parent, spec, child_spec)
    w = parent.state_dict()
    conv2 = [w[f"stages.0.weights.conv2_{b}"] for b in range(3)]
    assert torch.allclose(state["stages.0.weights.conv2_0"], torch.stack(conv2).mean(0))
    assert "stages.0.weights.conv2_1" not in state  # one weight for the stage
    assert torch.allclose(state["stages.0.weights.conv1_0"],
                          (w["stages.0.weights.conv1_0"] + w["stages.0.weights.conv1_2"]) / 2)  # cycle A B A
    assert torch.equal(state["stages.0.weights.conv1_1"], w["stages.0.weights.conv1_1"])
    for b in range(3):
        for key in ("weight", "bias", "running_mean", "running_var"):
            assert torch.equal(state[f"stages.0.norms.bn2_{b}.{key}"], w[f"stages.0.norms.bn2_{b}.{key}"])


def test_shared_parent_and_shared_norms_average_what_each_block_used():
    parent_spec = tiny_spec(depths=(3, 2), share_norm=True).with_masks({(0, 1): M.ranges(3, [2])})  # 0 0 1
    parent = trained_like(parent_spec)
    child_spec = tiny_spec(depths=(3, 2), share_norm=True).with_masks({(0, 1): M.stage(3)})
    state = inherit_state(parent, parent_spec, child_spec)
    w = parent.state_dict()
    a, b = w["stages.0.weights.conv2_0"], w["stages.0.weights.conv2_1"]
    assert torch.allclose(state["stages.0.weights.conv2_0"], (a + a + b) / 3)  # blocks 0 and 1 used a, block 2 b
    bn = (2 * w["stages.0.norms.bn2_g0.running_var"] + w["stages.0.norms.bn2_g1.running_var"]) / 3
    assert torch.allclose(state["stages.0.norms.bn2_g0.running_var"], bn)


def test_shallower_narrower_child_takes_the_first_blocks_and_channels():
    parent_spec = tiny_spec(depths=(3, 3))  # stem 8, widths 8 and 16
    parent = trained_like(parent_spec)
    child_spec = dataclasses.replace(parent_spec, stem_width=4, stages=(StageSpec(2, 4, 1), StageSpec(1, 12, 2)))
    state = inherit_state(parent, parent_spec, child_spec)
    w = parent.state_dict()
    assert torch.equal(state["stem.conv.weight"], w["stem.conv.weight"][:4])
    assert torch.equal(state["stages.0.weights.conv2_1"], w["stages.0.weights.conv2_1"][:4, :4])  # block 1 <- 1
    assert torch.equal(state["stages.1.weights.conv1_0"], w["stages.1.weights.conv1_0"][:12, :4])
    assert torch.equal(state["stages.1.norms.bn1_0.running_mean"], w["stages.1.norms.bn1_0.running_mean"][:12])
    assert torch.equal(state["stages.1.blocks.0.shortcut.conv.weight"], w["stages.1.blocks.0.shortcut.conv.weight"][:12, :4])
    assert torch.equal(state["head.fc.weight"], w["head.fc.weight"][:, :12])
    assert torch.equal(state["head.fc.bias"], w["head.fc.bias"])
    build_model(child_spec).load_state_dict(state, strict=True)


def test_a_shortcut_the_parent_lacks_starts_as_the_cut_identity():
    parent_spec = tiny_spec()  # stem 8 -> stage 1 width 8: block 0 has an identity shortcut
    child_spec = dataclasses.replace(parent_spec, stages=(StageSpec(3, 4, 1), parent_spec.stages[1]))
    state = inherit_state(trained_like(parent_spec), parent_spec, child_spec)
    assert torch.equal(state["stages.0.blocks.0.shortcut.conv.weight"].flatten(1), torch.eye(4, 8))
    assert torch.equal(state["stages.0.blocks.0.shortcut.bn.running_var"], torch.ones(4))


@pytest.mark.parametrize("change, words", [
    ({"depths": (4, 2)}, "stage 1 depth 4 > the parent's 3"),
    ({"block": "bottleneck"}, "block is 'bottleneck'"),
    ({"preact": True}, "preact"),
])
def test_a_child_that_does_not_fit_raises_naming_the_stage(change, words):
    with pytest.raises(InheritError, match=words):
        inherit_state(build_model(tiny_spec()), tiny_spec(), tiny_spec(**change))


def test_a_wider_child_raises_naming_the_width():
    parent = tiny_spec()
    wider = dataclasses.replace(parent, stages=(parent.stages[0], StageSpec(2, 32, 2)))
    with pytest.raises(InheritError, match="stage 2 width 32 > the parent's 16"):
        inherit_state(build_model(parent), parent, wider)


def test_trainer_starts_from_init_state_and_a_checkpoint_wins(tmp_path):
    spec = dataclasses.replace(tiny_spec(depths=(1, 1)), in_channels=1, num_classes=10)
    data = load_data("digits", limit=128, val_fraction=0.25)
    recipe = Recipe(epochs=2, batch_size=32, lr=1e-9, warmup_epochs=0)  # the weights barely move
    start = {k: v + 1.0 if v.is_floating_point() else v for k, v in build_model(spec).state_dict().items()}
    train(spec, recipe, data, init_state=start, checkpoint_dir=tmp_path, on_epoch=lambda e, m: True)  # stop after 1
    other = {k: v * 0 for k, v in start.items()}
    result = train(spec, recipe, data, init_state=other, checkpoint_dir=tmp_path)  # resumes: `other` is ignored
    model, _ = load_checkpoint(tmp_path / "last.pt")
    w = model.state_dict()["stages.0.weights.conv1_0"]
    assert result.resumed_at_epoch == 1 and torch.allclose(w, start["stages.0.weights.conv1_0"], atol=1e-4)
    assert result.images_trained == 2 * (len(data.train) // 32) * 32


BASE = {"spec": {"stem_width": 8, "stages": [{"depth": 2, "width": 8, "stride": 1},
                                             {"depth": 2, "width": 16, "stride": 2}]}}


def space_dict(**over) -> dict:
    return {"name": "tiny", "data": {"dataset": "digits", "limit": 400, "val_fraction": 0.2}, "base": BASE,
            "vary": {"depth": [1, 2], "width_mult": [0.5, 1.0],
                     "sharing": {"positions": ["conv1", "conv2"], "patterns": ["none", "stage", "cycle"], "k": [2]}},
            "train": {"recipe": "fast", "epochs": 2, "warmup_epochs": 0, "batch_size": 64},
            "sampler": {"name": "random", "seed": 0}, "trials": 2, "warm_start": ["plain", "paper"],
            "reevaluate": False} | over


def test_inherit_option_parses_and_separates_keys():
    off, on = parse_space(space_dict()), parse_space(space_dict(inherit={"finetune_epochs": 1, "lr": 0.05}))
    assert off.inherit is None and "inherit" not in off.resolved()["resolved"]  # old experiments still resume
    assert on.trial_recipe.epochs == 1 and on.trial_recipe.lr == 0.05 and on.recipe.epochs == 2
    assert on.resolved()["resolved"]["inherit"] == {"finetune_epochs": 1, "lr": 0.05}
    assert recipe_hash(off) != recipe_hash(on) != recipe_hash(parse_space(space_dict(inherit=True)))
    with pytest.raises(SpaceError, match="inherit.finetune_epochs: expected an integer >= 1"):
        parse_space(space_dict(inherit={"finetune_epochs": 0}))


def test_largest_parent_holds_every_candidate_of_the_space():
    space = parse_space(space_dict(inherit=True))
    parent = largest_parent(space)
    assert [st.depth for st in parent.stages] == [2, 2] and [st.width for st in parent.stages] == [8, 16]
    assert parent.sharing_summary() == "none"
    draws, weights = RandomChoices(0), build_model(parent).state_dict()
    for _ in range(20):
        child = decode(draws, space)
        build_model(child).load_state_dict(inherit_state(weights, parent, child))


def test_random_masks_inherit_their_groups_mean(rng):
    """A shared weight inherits the mean of its group's weights in the unshared parent."""
    for block in ("basic", "bottleneck"):
        spec = tiny_spec(block=block, depths=(3, 4))
        child = random_valid_masks(spec, rng)
        parent = build_model(spec)
        state = inherit_state(parent, spec, child)
        build_model(child).load_state_dict(state, strict=True)
        checked = 0
        for s, st in enumerate(child.stages):
            for p, pos in enumerate(child.positions):
                for label in set(st.mask(p)):
                    members = [b for b, g in enumerate(st.mask(p)) if g == label]
                    mean = torch.stack([parent.state_dict()[f"stages.{s}.weights.{pos}_{b}"] for b in members]).mean(0)
                    assert torch.allclose(state[f"stages.{s}.weights.{pos}_{label}"], mean), (block, s, pos, members)
                    checked += 1
        assert checked > len(child.stages) * len(child.positions)  # some groups have several members


def test_search_trains_the_parent_once_and_every_candidate_inherits(tmp_path):
    import ray

    from nas.run.driver import Resources, run_search
    from nas.space.datacheck import check_data

    path = tmp_path / "space.yaml"
    path.write_text(yaml.safe_dump(space_dict(inherit={"finetune_epochs": 1})))
    from nas.space.parse import load_space

    space, exp, lines = load_space(path), tmp_path / "exp", []
    # A parent cut off after its first epoch, as a stopped search leaves it: the search continues it.
    data = load_data(**check_data(space, lambda m: None).data.load_kwargs())
    train(largest_parent(space), space.recipe, data, checkpoint_dir=exp / "parent", on_epoch=lambda e, m: True)
    try:
        run_search(space, exp, Resources(cpus_per_trial=1), log=lines.append)
        parent = json.loads((exp / "parent" / "result.json").read_text())
        assert parent["resumed_at_epoch"] == 1, "the cut-off parent continues from its checkpoint"
        mtime = (exp / "parent" / "last.pt").stat().st_mtime_ns
        rows = [json.loads(x) for x in (exp / "trials.jsonl").read_text().splitlines()]
        ok = [r for r in rows if r["status"] == "ok" and not r.get("reused_from")]
        assert len(ok) == 2 and all(r["inherited"] and r["epochs"] == 1 for r in ok)
        assert parent["epoch"] == 2 and parent["arch_id"] == largest_parent(space).arch_id
        assert any("parent" in m and "from its checkpoint at epoch 1 of 2" in m for m in lines), lines

        lines.clear()
        run_search(dataclasses.replace(space, trials=3), exp, Resources(cpus_per_trial=1), resume=True,
                   log=lines.append)
        assert any("trained already" in m for m in lines), lines
        assert (exp / "parent" / "last.pt").stat().st_mtime_ns == mtime, "--resume must not retrain the parent"
        rows = [json.loads(x) for x in (exp / "trials.jsonl").read_text().splitlines()]
        assert sum(r["status"] == "ok" and not r.get("reused_from") for r in rows) == 3
    finally:
        ray.shutdown()


def test_bench_compare_and_choice():
    from nas.bench.inherit import choose, compare

    s = compare([0.9, 0.8, 0.7, 0.6], [0.85, 0.8, 0.6, 0.65], [4, 3, 2, 1])
    assert s["kendall_tau"] == pytest.approx(2 / 3) and s["spearman"] == pytest.approx(0.8)
    assert s["front_overlap"] == [3, 4]  # all four trade off under scratch; inherited, 0.6 at 2 is dominated
    s = compare([0.9, 0.8, 0.7], [0.7, 0.8, 0.9], [1, 1, 1])  # equal params: each front is its best
    assert s["front_overlap"] == [0, 1] and s["kendall_tau"] == pytest.approx(-1)
    assert choose({1: {"kendall_tau": 0.5}, 2: {"kendall_tau": 0.75}, 4: {"kendall_tau": 0.9}}) == 2
    assert choose({1: {"kendall_tau": 0.5}, 2: {"kendall_tau": 0.6}}) == 2


def test_bench_smoke_prints_the_last_line_and_resumes(tmp_path):
    import re
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    cmd = [sys.executable, str(root / "scripts/bench_inherit.py"), "--space", str(root / "search_spaces/quickstart.yaml"),
           "--smoke", "--threads", "1", "--out", str(tmp_path / "b")]
    first = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr[-2000:]
    last = first.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"kendall_tau=-?\d\.\d\d spearman=-?\d\.\d\d front_overlap=\d+/\d+ cost_ratio=\d\.\d\d", last), last
    assert "| scratch |" in first.stdout and len(json.loads((tmp_path / "b" / "summary.json").read_text())["rows"]) == 4
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert again.returncode == 2 and "--resume" in again.stderr
    resumed = subprocess.run(cmd + ["--resume"], capture_output=True, text=True, timeout=300)
    assert resumed.stdout.strip().splitlines()[-1] == last and "epoch 1/" not in resumed.stdout  # all cached


def test_bench_takes_a_searchs_trainings_as_scratch_only_for_the_same_recipe_and_data(tmp_path):
    # A search's trainings are the bench's scratch trainings (same trial recipe, data, seed):
    # --scratch-from reads them, and refuses a search run under another recipe or data.
    from nas.bench.inherit import searched
    from nas.run.driver import _prepare_folder
    from nas.search.journal import Journal
    from nas.space.parse import load_space

    path = tmp_path / "space.yaml"
    path.write_text(yaml.safe_dump(space_dict()))
    space = load_space(path)
    exp = tmp_path / "exp"
    _prepare_folder(space, exp, resume=False, log=print)
    spec = space.base.unshared()
    journal = Journal(exp)
    row = {"trial_id": "t1", "number": 0, "arch_id": spec.arch_id, "status": "ok", "val_acc": 0.75, "epochs": 2,
           "wall_time_s": 3.0, "spec": spec.to_dict()}
    journal.add(row)
    journal.add(row | {"trial_id": "t2", "reused_from": "t1", "val_acc": 0.1})  # a reuse is not a training
    data = load_data(**space.data.load_kwargs())
    found = searched(space, data, exp)
    assert list(found) == [spec.arch_id] and found[spec.arch_id][0] == spec
    per_epoch = len(data.train) // space.recipe.batch_size * space.recipe.batch_size
    assert found[spec.arch_id][1]["val_acc"] == 0.75 and found[spec.arch_id][1]["images"] == 2 * per_epoch
    other = dataclasses.replace(space, recipe=space.recipe.with_epochs(space.recipe.epochs + 1))
    with pytest.raises(ValueError, match=r"another recipe\.epochs"):
        searched(other, data, exp)


def test_two_bench_processes_sharing_one_out_split_the_work(tmp_path):
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    cmd = [sys.executable, str(root / "scripts/bench_inherit.py"), "--space", str(root / "search_spaces/quickstart.yaml"),
           "--smoke", "--threads", "1", "--out", str(tmp_path / "b"), "--resume"]  # smoke: 4 architectures
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [e[-2000:] for _, e in outs]
    trained = [line.split(": ")[1].split(" ")[0] for o, _ in outs for line in o.splitlines()
               if line.startswith("[bench] finetune-1: ")]
    assert len(trained) == len(set(trained)) == 4, "each fine-tune trained once, by one of the two"
    assert outs[0][0].strip().splitlines()[-1] == outs[1][0].strip().splitlines()[-1]
    assert not list((tmp_path / "b").rglob("*.claim")), "claims are released"
