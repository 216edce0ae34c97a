"""Soft sharing (Savarese & Maire 2019): the spec option, the stage's templates and
coefficients, costs, optimiser groups, training, and folding into hard children."""
import dataclasses
import re
from pathlib import Path

import pytest
import torch

from sharesnet import ArchSpec, SpecError, build_model, count_flops, count_params, get_spec, list_models
from sharesnet import masks as M
from sharesnet.data import load_data
from sharesnet.fold import FoldError, fold
from sharesnet.similarity import cluster, mask_of, propose, similarity
from sharesnet.soft import soft_positions
from sharesnet.train import Recipe, load_checkpoint, train
from sharesnet.train.engine import make_optimizer
from tests.conftest import tiny_spec

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = [dict(block=b, preact=p) for b in ("basic", "bottleneck") for p in (False, True)]


def soft_tiny(k=3, **kw) -> ArchSpec:
    """tiny_spec with depths (4, 3) and every conv position soft-shared with k templates."""
    base = tiny_spec(depths=(4, 3), **kw)
    return base.with_soft({(s, p): k for s in range(2) for p in range(len(base.positions))})


# --- the spec ----------------------------------------------------------------------------

def test_hard_arch_ids_are_those_of_the_readme_table():
    rows = re.findall(r"^\| (\w+) \|.*\| `([0-9a-f]{12})` \|$", (ROOT / "docs/models.md").read_text(), re.M)
    assert len(rows) == len(list_models())
    for name, arch_id in rows:
        assert get_spec(name).arch_id == arch_id, name


def test_soft_settings_enter_the_arch_id_and_round_trip():
    base = tiny_spec(depths=(4, 3))
    a, b = base.with_soft({(0, 1): 2}), base.with_soft({(0, 1): 3})
    assert len({base.arch_id, a.arch_id, b.arch_id, base.with_soft({(1, 1): 2}).arch_id}) == 4
    assert base.with_soft({(0, 1): 0}) == base and base.with_soft({(0, 1): 0}).arch_id == base.arch_id
    assert "soft" not in base.to_dict()["stages"][0]  # hard specs serialise as before
    for spec in (a, soft_tiny()):
        assert ArchSpec.from_yaml(spec.to_yaml()) == spec and ArchSpec.from_yaml(spec.to_json()) == spec
        assert hash(spec) == hash(ArchSpec.from_yaml(spec.to_yaml()))
    assert a.to_dict()["stages"][0]["soft"] == {"conv2": 2}
    assert a.sharing_summary() == "s1.conv2=soft(k=2)"
    assert a.without_soft() == base and a.unshared() == base.unshared() and a.is_soft and not base.is_soft


@pytest.mark.parametrize("stage,match", [
    ({"soft": {"conv9": 2}}, r"stages\[0\].soft: unknown key 'conv9'"),
    ({"soft": {"conv2": 0}}, r"stages\[0\].soft.conv2: expected a number of templates >= 1, got 0"),
    ({"soft": [2]}, r"stages\[0\].soft: expected a mapping"),
    ({"depth": 1, "soft": {"conv2": 2}}, r"stages\[0\].soft.conv2: a soft position needs at least 2 blocks"),
    ({"share": {"conv2": [0, 1, 1, 1]}, "soft": {"conv2": 2}}, r"stages\[0\].soft.conv2: .* share.conv2 must be none"),
])
def test_bad_soft_settings_are_one_clear_line(stage, match):
    d = tiny_spec(depths=(4, 3)).to_dict()
    d["stages"][0].update(stage)
    if stage.get("depth") == 1:
        d["stages"][0]["share"] = {}
    with pytest.raises(SpecError, match=match) as e:
        ArchSpec.from_dict(d)
    assert "\n" not in str(e.value)


# --- the module --------------------------------------------------------------------------

@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: "-".join(map(str, v.values())))
def test_soft_net_builds_and_every_template_and_coefficient_learns(variant):
    spec = soft_tiny(**variant)
    model = build_model(spec)
    model(torch.randn(2, 3, 16, 16)).sum().backward()
    for s, stage in enumerate(model.stages):
        for p in range(len(spec.positions)):
            bank = stage.weights[f"conv{p + 1}_bank"]
            assert bank.shape == (3, torch.Size(spec.conv_shape(s, 1, p)).numel()) and bank.grad.abs().sum() > 0
            coefs = [stage.weights[f"conv{p + 1}_coef{b}"] for b in range(1, spec.stages[s].depth)]
            assert all(c.shape == (3,) and c.grad.abs().sum() > 0 for c in coefs)
            assert stage.weights[f"conv{p + 1}_0"].shape == spec.conv_shape(s, 0, p)  # block 0: its own
            assert f"conv{p + 1}_1" not in stage.weights


def test_params_are_templates_plus_coefficients_plus_first_blocks():
    spec = soft_tiny(k=2)
    hard = build_model(spec.without_soft())
    expected = count_params(hard)
    for s, p in soft_positions(spec):
        d, n = spec.stages[s].depth, torch.Size(spec.conv_shape(s, 1, p)).numel()
        expected += (2 - (d - 1)) * n + (d - 1) * 2  # k templates instead of d-1 weights, plus coefficients
    assert count_params(build_model(spec)) == expected


def test_coefficients_start_orthogonal_as_far_as_k_allows_and_templates_kaiming():
    torch.manual_seed(0)
    few = build_model(tiny_spec(depths=(4, 3)).with_soft({(0, 1): 5}))  # 3 layers, 5 templates
    alpha = torch.stack([few.stages[0].weights[f"conv2_coef{b}"] for b in (1, 2, 3)]).detach()
    assert torch.allclose(alpha @ alpha.T, torch.eye(3), atol=1e-6)  # orthonormal rows
    many = build_model(tiny_spec(depths=(4, 3)).with_soft({(0, 1): 2}))  # 3 layers, 2 templates
    alpha = torch.stack([many.stages[0].weights[f"conv2_coef{b}"] for b in (1, 2, 3)]).detach()
    assert torch.allclose(alpha.T @ alpha, torch.eye(2), atol=1e-6)  # orthonormal columns
    bank = build_model(tiny_spec(depths=(4, 3)).with_soft({(1, 1): 8})).stages[1].weights["conv2_bank"].detach()
    fan_out = 16 * 9  # Kaiming normal, fan_out, ReLU gain, as every hard conv
    assert bank.std().item() == pytest.approx((2 / fan_out) ** 0.5, rel=0.05)


def test_hard_specs_draw_the_same_initial_weights_as_before():
    # Soft banks are drawn only when present: a hard spec's seeded init is what it was before
    # soft sharing existed (this sum was measured on the code before the change).
    torch.manual_seed(0)
    state = build_model(tiny_spec(depths=(3, 2))).state_dict()
    assert sum(float(v.double().abs().sum()) for v in state.values() if v.is_floating_point()) == \
        pytest.approx(1553.1937948638697, rel=1e-12)


def test_the_weight_mix_is_counted_in_flops():
    spec = soft_tiny(k=2)
    mix = sum((spec.stages[s].depth - 1) * 2 * torch.Size(spec.conv_shape(s, 1, p)).numel()
              for s, p in soft_positions(spec))
    hard = count_flops(build_model(spec.without_soft()), (3, 16, 16))
    assert count_flops(build_model(spec), (3, 16, 16)) == hard + mix > hard


def test_coefficients_get_no_weight_decay_and_templates_do():
    model = build_model(soft_tiny())
    decay, no_decay = make_optimizer(model, Recipe()).param_groups
    ids = lambda group: {id(p) for p in group["params"]}  # noqa: E731
    coefs = [p for n, p in model.named_parameters() if "_coef" in n]
    banks = [p for n, p in model.named_parameters() if n.endswith("_bank")]
    assert coefs and {id(p) for p in coefs} <= ids(no_decay) and no_decay["weight_decay"] == 0.0
    assert banks and {id(p) for p in banks} <= ids(decay) and decay["weight_decay"] > 0


# --- training ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def digits():
    return load_data("digits")


def test_soft_net_trains_checkpoints_and_rebuilds(digits, tmp_path, one_thread):
    spec = tiny_spec(depths=(3, 3)).with_soft({(0, 1): 2, (1, 1): 2})
    spec = ArchSpec.from_dict({**spec.to_dict(), "in_channels": 1, "num_classes": 10})
    recipe = Recipe(epochs=3, batch_size=64, lr=0.2, warmup_epochs=0.5, seed=0)
    result = train(spec, recipe, digits, checkpoint_dir=tmp_path)
    assert result.val_acc_best > 0.5  # chance is 0.1
    model, ckpt = load_checkpoint(tmp_path / "last.pt")
    assert ckpt["arch_id"] == spec.arch_id and model.spec == spec
    x = torch.randn(3, 1, 8, 8)
    fresh = build_model(spec)
    fresh.load_state_dict(ckpt["model"])
    assert torch.equal(model.eval()(x), fresh.eval()(x))
    coef = ckpt["model"]["stages.0.weights.conv2_coef1"]
    assert not torch.equal(coef, build_model(spec).state_dict()["stages.0.weights.conv2_coef1"])  # it learned


# --- similarity and proposals ------------------------------------------------------------

def test_similarity_is_abs_cosine():
    alpha = torch.tensor([[1.0, 0.0], [-2.0, 0.0], [0.0, 3.0], [1.0, 1.0]])
    sim = similarity(alpha)
    assert sim[0, 1] == pytest.approx(1.0) and sim[0, 2] == pytest.approx(0.0)
    assert sim[0, 3] == pytest.approx(2 ** -0.5) and torch.allclose(sim, sim.T)


def test_complete_linkage_keeps_every_pair_above_the_threshold():
    # 0-1 and 1-2 are close, 0-2 is not: complete linkage must not chain them together.
    sim = torch.tensor([[1.0, 0.95, 0.5, 0.1],
                        [0.95, 1.0, 0.9, 0.1],
                        [0.5, 0.9, 1.0, 0.2],
                        [0.1, 0.1, 0.2, 1.0]])
    assert cluster(sim, 0.99) == (0, 1, 2, 3)
    assert cluster(sim, 0.9) == (0, 0, 1, 2)  # the closest pair merges first; 2 cannot join (0-2 is 0.5)
    assert cluster(sim, 0.5) == (0, 0, 0, 1)
    assert cluster(sim, 0.0) == (0, 0, 0, 0)
    rng = torch.Generator().manual_seed(0)
    for _ in range(20):
        a = torch.randn(7, 3, generator=rng)
        s = similarity(a)
        for t in (0.3, 0.6, 0.9):
            for members in M.groups(cluster(s, t)).values():
                assert all(s[i, j] >= t for i in members for j in members)
    assert mask_of((0, 1, 0)) == (0, 1, 2, 1)  # block 0 alone, then the clusters


def test_contiguous_clustering_merges_neighbouring_runs_only():
    # 0 and 2 are twins, 1 is unlike both: free clustering pairs 0 with 2, contiguous cannot.
    sim = torch.tensor([[1.0, 0.1, 0.99, 0.2],
                        [0.1, 1.0, 0.1, 0.9],
                        [0.99, 0.1, 1.0, 0.3],
                        [0.2, 0.9, 0.3, 1.0]])
    assert cluster(sim, 0.8) == (0, 1, 0, 1)
    assert cluster(sim, 0.8, contiguous=True) == (0, 1, 2, 3)  # 1-3 are not neighbours either
    assert cluster(sim, 0.25, contiguous=True) == (0, 1, 2, 2)  # 2-3 (0.3) only
    assert cluster(sim, 0.0, contiguous=True) == (0, 0, 0, 0)
    rng = torch.Generator().manual_seed(1)
    for _ in range(20):
        labels = cluster(similarity(torch.randn(8, 3, generator=rng)), 0.5, contiguous=True)
        assert list(labels) == sorted(labels)  # runs: labels never go back


def _parallel(model, spec, pairs):
    """Make coefficient rows scaled copies: {(s, p): [(b, b_ref, c), ...]} sets coef_b = c * coef_b_ref."""
    with torch.no_grad():
        for (s, p), rules in pairs.items():
            w = model.stages[s].weights
            for b, ref, c in rules:
                w[f"conv{p + 1}_coef{b}"].copy_(c * w[f"conv{p + 1}_coef{ref}"])
        for m in model.modules():  # BatchNorms with real statistics, so a wrong rescale shows
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.normal_()
                m.running_var.uniform_(0.5, 2.0)
                m.weight.normal_()
                m.bias.normal_()


def test_proposals_follow_the_thresholds_and_dedupe():
    torch.manual_seed(0)
    spec = tiny_spec(depths=(4, 3)).with_soft({(0, 1): 3, (1, 1): 3})
    model = build_model(spec)
    # stage 0: block 3 = -2 x block 1, block 2 orthogonal to both (the init is orthonormal)
    _parallel(model, spec, {(0, 1): [(3, 1, -2.0)]})
    with torch.no_grad():  # stage 1: its two layers at |cos| 0.8
        model.stages[1].weights["conv2_coef1"].copy_(torch.tensor([1.0, 0.0, 0.0]))
        model.stages[1].weights["conv2_coef2"].copy_(torch.tensor([0.8, 0.6, 0.0]))
    props = propose(spec, model.state_dict(), (0.99, 0.9, 0.75, 0.0))
    got = [(p.spec.stages[0].mask(1), p.spec.stages[1].mask(1), p.thresholds) for p in props]
    assert got == [((0, 1, 2, 1), (0, 1, 2), (0.99, 0.9)), ((0, 1, 2, 1), (0, 1, 1), (0.75,)),
                   ((0, 1, 1, 1), (0, 1, 1), (0.0,))]
    assert all(not p.spec.is_soft and p.spec.stages[0].mask(0) == M.none(4) for p in props)
    assert propose(spec, model.state_dict(), (0.999999,))[0].spec.stages[1].mask(1) == M.none(3)
    high = propose(tiny_spec(depths=(4, 3)).with_soft({(1, 1): 3}), build_model(
        tiny_spec(depths=(4, 3)).with_soft({(1, 1): 3})).state_dict(), (0.99,))
    assert high == []  # orthogonal at init: nothing shares, and the plain child is no proposal


# --- folding -----------------------------------------------------------------------------

@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: "-".join(map(str, v.values())))
def test_an_exactly_foldable_net_gives_identical_outputs_after_folding(variant):
    torch.manual_seed(0)
    spec = soft_tiny(**variant)
    model = build_model(spec)
    n_pos = len(spec.positions)
    # Scaled copies, negative scales included; a pre-act block's last conv has no BatchNorm after
    # it to absorb a scale, so there the copies are equal.
    scale = lambda p, c: 1.0 if (spec.preact and p == n_pos - 1) else c  # noqa: E731
    _parallel(model, spec, {(0, p): [(3, 1, scale(p, -2.0))] for p in range(n_pos)}
              | {(1, p): [(2, 1, scale(p, 0.5))] for p in range(n_pos)})
    model.eval()
    (child,) = propose(spec, model.state_dict(), (0.999,))
    assert child.spec.stages[0].mask(0) == (0, 1, 2, 1) and child.spec.stages[1].mask(n_pos - 1) == (0, 1, 1)
    folded = fold(spec, model.state_dict(), child.spec)
    hard = build_model(child.spec)
    hard.load_state_dict(folded.state)
    hard.eval()
    x = torch.randn(4, 3, 16, 16)
    assert folded.residual < 1e-6
    assert count_params(hard) < count_params(build_model(spec.unshared()))
    with torch.no_grad():
        assert torch.allclose(hard(x), model(x), rtol=1e-4, atol=1e-5)


def test_an_inexact_fold_reports_its_residual_and_changes_the_outputs():
    torch.manual_seed(0)
    spec = soft_tiny(preact=True)  # conv2 is last: a scale there cannot be absorbed
    model = build_model(spec)
    _parallel(model, spec, {(0, 1): [(3, 1, -2.0)]})
    model.eval()
    child = spec.without_soft().with_masks({(0, 1): (0, 1, 2, 1)})
    folded = fold(spec, model.state_dict(), child)
    hard = build_model(child)
    hard.load_state_dict(folded.state)
    x = torch.randn(4, 3, 16, 16)
    assert folded.residual > 0.1
    with torch.no_grad():
        assert not torch.allclose(hard.eval()(x), model(x), atol=1e-3)


def test_fold_refuses_what_it_cannot_fold():
    spec = soft_tiny()
    state = build_model(spec).state_dict()
    with pytest.raises(FoldError, match="block 0 keeps its own weight"):
        fold(spec, state, spec.without_soft().with_masks({(0, 1): (0, 0, 1, 1)}))
    with pytest.raises(FoldError, match="differs from the soft net elsewhere"):
        fold(spec, state, dataclasses.replace(spec.without_soft(), num_classes=7))
    with pytest.raises(FoldError, match="must be a hard spec"):
        fold(spec, state, spec)
    with pytest.raises(FoldError, match="share_norm"):
        shared = ArchSpec.from_dict({**spec.to_dict(), "share_norm": True})
        fold(shared, build_model(shared).state_dict(), shared.without_soft())


def test_inheritance_refuses_soft_nets_in_one_line():
    from sharesnet.inherit import InheritError, check_fits

    with pytest.raises(InheritError, match="soft-shared net"):
        check_fits(tiny_spec(depths=(4, 3)), soft_tiny())
