import copy

import pytest
import torch
import torchvision

from sharesnet import ArchSpec, build_model, checkpoint_bytes, count_params, get_spec, list_models
from sharesnet import masks as M
from tests.conftest import random_valid_masks, tiny_spec

VARIANTS = [dict(block=b, preact=p, shortcut=s) for b in ("basic", "bottleneck")
            for p in (False, True) for s in ("A", "B")]


def _forward_backward(model, spec, side=16):
    x = torch.randn(2, spec.in_channels, side, side)
    out = model(x)
    assert out.shape == (2, spec.num_classes)
    out.sum().backward()
    return out


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: "-".join(map(str, v.values())))
def test_random_masks_forward_backward_and_sharing(variant, rng):
    for _ in range(3):
        spec = random_valid_masks(tiny_spec(depths=(4, 3), **variant), rng)
        model = build_model(spec)
        _forward_backward(model, spec)
        # Every conv weight is a Parameter with a gradient, and one per sharing group.
        for s, stage in enumerate(model.stages):
            for p in range(len(spec.positions)):
                groups = M.groups(spec.stages[s].mask(p))
                keys = [k for k in stage.weights if k.startswith(f"conv{p + 1}_")]
                assert len(keys) == len(groups)
                assert all(stage.weights[k].grad is not None for k in keys)
        assert count_params(model) == count_params(build_model(spec.unshared())) - saved_params(spec)


def saved_params(spec: ArchSpec) -> int:
    """Parameters removed by sharing: each extra member of a group saves one weight."""
    total = 0
    for s, st in enumerate(spec.stages):
        for p in range(len(spec.positions)):
            for members in M.groups(st.mask(p)).values():
                shape = spec.conv_shape(s, members[0], p)
                total += (len(members) - 1) * shape[0] * shape[1] * shape[2] * shape[3]
    return total


@pytest.mark.parametrize("name", [n for n in list_models() if n not in {
    "cifar_resnet1202", "preact_resnet1001", "resnet101", "resnet152", "sharesnet101", "sharesnet152",
    "wrn_28_10", "sha_wrn_28_10"}])
def test_presets_forward_backward(name):
    spec = get_spec(name, num_classes=7)
    model = build_model(spec)
    _forward_backward(model, spec, side=64 if spec.stem == "imagenet" else 16)


def test_shared_conv_is_one_parameter_and_grads_accumulate():
    spec = tiny_spec(depths=(3, 1)).with_masks({(0, 1): M.stage(3)})
    model = build_model(spec)
    shared = model.stages[0].weights["conv2_0"]
    assert sum(1 for p in model.parameters() if p is shared) == 1
    assert "stages.0.weights.conv2_0" in model.state_dict() and "stages.0.weights.conv2_1" not in model.state_dict()
    # The shared grad equals the sum of the grads of three unshared copies of it.
    plain = build_model(spec.unshared())
    sd = plain.state_dict()
    for k, v in model.state_dict().items():
        if k in sd:
            sd[k] = v.clone()
    for b in range(3):
        sd[f"stages.0.weights.conv2_{b}"] = shared.detach().clone()
    plain.load_state_dict(sd)
    x = torch.randn(4, 3, 8, 8)
    model(x).square().sum().backward()
    plain(x).square().sum().backward()
    want = sum(plain.stages[0].weights[f"conv2_{b}"].grad for b in range(3))
    torch.testing.assert_close(shared.grad, want, rtol=1e-4, atol=1e-5)


def test_optimizer_sees_shared_parameter_once():
    spec = tiny_spec(depths=(4, 2)).with_masks({(0, 1): M.stage(4), (0, 0): M.cycle(4, 2)})
    model = build_model(spec)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    ids = [id(p) for g in opt.param_groups for p in g["params"]]
    assert len(ids) == len(set(ids)) == len(list(model.parameters()))


@pytest.mark.parametrize("depth", [18, 34, 50, 101, 152])
def test_torchvision_parameter_parity(depth):
    ours = count_params(build_model(get_spec(f"resnet{depth}")))
    theirs = sum(p.numel() for p in getattr(torchvision.models, f"resnet{depth}")().parameters())
    assert ours == theirs


@pytest.mark.parametrize("depth", [18, 50])
def test_unshared_equals_torchvision_function(depth):
    """Load torchvision's weights into ours: identical outputs prove the same network."""
    tv = getattr(torchvision.models, f"resnet{depth}")().eval()
    ours = build_model(get_spec(f"resnet{depth}")).eval()
    ours.load_state_dict(_from_torchvision(tv.state_dict()))
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), tv(x), rtol=1e-4, atol=1e-4)


def _from_torchvision(sd: dict) -> dict:
    out = {}
    for k, v in sd.items():
        parts = k.split(".")
        if parts[0] in ("conv1", "bn1"):
            out[f"stem.{'conv' if parts[0] == 'conv1' else 'bn'}.{parts[1]}"] = v
        elif parts[0] == "fc":
            out[f"head.{k}"] = v
        else:
            s, b, layer = int(parts[0][5:]) - 1, int(parts[1]), parts[2]
            if layer == "downsample":
                out[f"stages.{s}.blocks.{b}.shortcut.{'conv' if parts[3] == '0' else 'bn'}.{parts[4]}"] = v
            elif layer.startswith("conv"):
                out[f"stages.{s}.weights.{layer}_{b}"] = v
            else:
                out[f"stages.{s}.norms.{layer}_{b}.{parts[3]}"] = v
    return out


@pytest.mark.parametrize("name,published", [
    ("cifar_resnet20", "0.27"), ("cifar_resnet56", "0.85"), ("cifar_resnet110", "1.7"),
    ("preact_resnet164", "1.7"), ("wrn_28_10", "36.5"), ("wrn_40_4", "8.9"),
    ("sharesnet164", "0.93")])  # millions: He et al. 2016a/b, Zagoruyko 2016, Boulch 2017 tables
def test_published_parameter_counts(name, published):
    """Equal to the published figure at the precision it was published with."""
    decimals = len(published.split(".")[1])
    assert round(count_params(build_model(get_spec(name))) / 1e6, decimals) == float(published)


def test_sharesnet152_saves_39_percent():
    plain = count_params(build_model(get_spec("resnet152")))
    shared = count_params(build_model(get_spec("sharesnet152")))
    assert 1 - shared / plain == pytest.approx(0.39, abs=0.005)  # Boulch 2017, abstract


def test_paper_rule_masks():
    s164 = get_spec("sharesnet164")
    assert all(st.mask(1) == M.stage(18, skip_first=True) and st.mask(0) == M.none(18) for st in s164.stages)
    s50 = get_spec("sharesnet50")
    assert s50.stages[0].mask(1) == M.stage(3)  # stride-1 first block shares
    assert s50.stages[1].mask(1) == M.stage(4, skip_first=True)  # strided first block keeps its own
    assert get_spec("sharesnet34").stages[1].mask(1) == M.stage(4)
    assert get_spec("sha_wrn_28_10").stages[0].mask(0) == M.none(4)


def test_state_dict_round_trip_and_checkpoint_shrinks(tmp_path):
    spec = get_spec("sharesnet164")
    model = build_model(spec)
    torch.save(model.state_dict(), tmp_path / "m.pt")
    again = build_model(spec)
    again.load_state_dict(torch.load(tmp_path / "m.pt"))
    for (k, a), (k2, b) in zip(model.state_dict().items(), again.state_dict().items()):
        assert k == k2 and torch.equal(a, b)
    assert list(model.state_dict()) == list(build_model(copy.deepcopy(spec)).state_dict())
    plain = checkpoint_bytes(build_model(spec.unshared()))
    assert checkpoint_bytes(model) < 0.6 * plain
    assert (tmp_path / "m.pt").stat().st_size == pytest.approx(checkpoint_bytes(model), rel=0.05)
