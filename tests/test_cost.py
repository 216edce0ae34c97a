import logging

import pytest
import torch
from fvcore.nn import FlopCountAnalysis
from torch.utils.flop_counter import FlopCounterMode

from sharesnet import build_model, count_flops, count_params, get_spec
from sharesnet import masks as M
from sharesnet.table import main as table_main
from tests.conftest import tiny_spec


def _conv_and_linear_macs_fvcore(model, x) -> int:
    a = FlopCountAnalysis(model.eval(), x).unsupported_ops_warnings(False)
    ops = a.by_operator()
    return ops.get("conv", 0) + ops.get("linear", 0) + ops.get("addmm", 0)


@pytest.mark.parametrize("name", ["cifar_resnet20", "sharesnet164", "resnet18"])
def test_fvcore_matches_torch_flop_counter(name):
    spec = get_spec(name)
    model = build_model(spec).eval()
    x = torch.zeros(1, 3, 64, 64)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(x)
    # torch counts a multiply-add as 2 flops, fvcore as 1.
    assert _conv_and_linear_macs_fvcore(model, x) == counter.get_total_flops() // 2


def test_shared_conv_counted_at_every_use():
    spec = tiny_spec(depths=(4, 2)).with_masks({(0, 1): M.stage(4), (1, 1): M.stage(2)})
    shared, plain = build_model(spec), build_model(spec.unshared())
    assert count_params(shared) < count_params(plain)
    assert count_flops(shared, (3, 16, 16)) == count_flops(plain, (3, 16, 16))


def test_count_flops_restores_mode_and_is_quiet(caplog):
    model = build_model(tiny_spec()).train()
    with caplog.at_level(logging.WARNING):
        flops = count_flops(model, (3, 8, 8))
    assert model.training and flops > 0
    assert not [r for r in caplog.records if "fvcore" in r.name]


def test_published_flops_resnet20_and_resnet18():
    # He et al. 2016: ResNet-20 ~41M; torchvision ResNet-18: 1.81 GMACs (1.8 "GFLOPs").
    assert count_flops(build_model(get_spec("cifar_resnet20")), (3, 32, 32)) / 1e6 == pytest.approx(41, rel=0.03)
    assert count_flops(build_model(get_spec("resnet18")), (3, 224, 224)) / 1e9 == pytest.approx(1.82, rel=0.01)


def test_table_prints_markdown(capsys):
    table_main(["--names", "cifar_resnet20,sharesnet164"])
    out = capsys.readouterr().out
    assert "| cifar_resnet20 | 0.270M |" in out and "sharesnet164" in out and "1 MAC = 1 flop" in out
