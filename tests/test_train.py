"""Training engine: real training on digits and a tiny ImageFolder; resume, divergence, recipes."""
from __future__ import annotations

import dataclasses

import pytest
import torch

from sharesnet import ArchSpec, StageSpec
from sharesnet.data import load_data
from sharesnet.train import DivergedError, Recipe, get_recipe, list_recipes, load_checkpoint, load_recipe, train
from sharesnet.train.recipe import RecipeError
from sharesnet.train.schedule import lr_factor
from tests.test_data import write_imagefolder

TINY = ArchSpec(stages=(StageSpec(1, 8, 1), StageSpec(1, 16, 2)), in_channels=1, num_classes=10,
                stem_width=8, name="tiny")
QUICK = Recipe(epochs=4, batch_size=64, lr=0.2, weight_decay=5e-4, schedule="cosine",
               warmup_epochs=0.5, seed=0)


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def digits():
    return load_data("digits")


def test_digits_learns_well_above_chance(digits):
    seen = []
    result = train(TINY, QUICK, digits, on_epoch=lambda e, m: seen.append((e, m)), evaluate_test=True)
    assert result.val_acc_best > 0.5 and result.test_acc > 0.5  # chance is 0.1
    assert [e for e, _ in seen] == [1, 2, 3, 4] and result.epochs_run == 4
    assert set(seen[0][1]) == {"epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr",
                               "images_per_s", "epoch_time_s"}
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"]
    assert result.spec == TINY.to_dict() and result.seed == 0 and not result.stopped_early
    assert 0 < result.train_time_s <= result.wall_time_s and result.images_per_s > 0
    assert result.to_dict()["recipe"]["lr"] == 0.2


def test_train_plus_val_reports_no_val_and_test_only_on_request(digits):
    lines = []
    r = train(TINY, dataclasses.replace(QUICK, epochs=1), digits, train_on="train+val", log=lines.append)
    assert r.val_acc_best is None and r.history[0]["val_acc"] is None and r.test_acc is None
    assert any(line.startswith("epoch 1/1 train loss ") and " acc " in line and " val " not in line for line in lines)


def test_epoch_lines_name_every_number(digits):
    # `train 2.822/0.133` did not say which number was the loss and which the accuracy.
    import re

    lines = []
    train(TINY, dataclasses.replace(QUICK, epochs=1), digits, log=lines.append)
    (line,) = [x for x in lines if x.startswith("epoch ")]
    assert re.fullmatch(r"epoch 1/1 train loss \d\.\d{3} acc \d\.\d{3} val loss \d\.\d{3} acc \d\.\d{3} "
                        r"lr \d\.\d{4} \d+ img/s \d+\.\ds", line), line


def test_same_seed_same_init_and_result(digits):
    one = dataclasses.replace(QUICK, epochs=1)
    a, b = train(TINY, one, digits), train(TINY, one, digits)
    c = train(TINY, dataclasses.replace(one, seed=1), digits)
    assert a.history[0]["train_loss"] == b.history[0]["train_loss"]
    assert a.history[0]["train_loss"] != c.history[0]["train_loss"]


def test_resume_is_bit_identical(digits, tmp_path):
    recipe = dataclasses.replace(QUICK, epochs=3)
    train(TINY, recipe, digits, checkpoint_dir=tmp_path / "full")
    stopped = train(TINY, recipe, digits, checkpoint_dir=tmp_path / "part", on_epoch=lambda e, m: e == 2)
    assert stopped.stopped_early and stopped.epochs_run == 2
    resumed = train(TINY, recipe, digits, checkpoint_dir=tmp_path / "part")
    assert resumed.epochs_run == 3 and [h["epoch"] for h in resumed.history] == [1, 2, 3]
    full = torch.load(tmp_path / "full" / "last.pt", weights_only=True)
    part = torch.load(tmp_path / "part" / "last.pt", weights_only=True)
    for key, tensor in full["model"].items():
        assert torch.equal(tensor, part["model"][key]), key
    assert full["history"][-1]["train_loss"] == part["history"][-1]["train_loss"]
    assert torch.equal(full["rng"]["data"], part["rng"]["data"])


def test_stop_after_trains_exactly_the_start_of_the_whole_schedule(digits, tmp_path):
    recipe = dataclasses.replace(QUICK, epochs=3)
    full = train(TINY, recipe, digits)
    lines = []
    prefix = train(TINY, dataclasses.replace(recipe, stop_after=2), digits, checkpoint_dir=tmp_path, log=lines.append)
    assert [x.split(" train")[0] for x in lines if x.startswith("epoch ")] == ["epoch 1/2 (of 3)", "epoch 2/2 (of 3)"]
    # the lr follows the 3-epoch schedule, so the first two epochs are the full run's own
    def metrics(history):  # without the timings
        return [{k: v for k, v in h.items() if k not in ("images_per_s", "epoch_time_s")} for h in history]
    assert prefix.epochs_run == 2 and metrics(prefix.history) == metrics(full.history[:2])
    assert prefix.images_trained * 3 == full.images_trained * 2
    again = train(TINY, dataclasses.replace(recipe, stop_after=2), digits, checkpoint_dir=tmp_path)  # nothing left
    assert again.resumed_at_epoch == 2 and metrics(again.history) == metrics(prefix.history)
    assert "stop_after" not in recipe.to_dict()  # absent unless used: older recipes keep their hashes
    assert recipe.with_epochs(6).stop_after is None and dataclasses.replace(recipe, stop_after=2).last_epoch == 2
    for bad in (0, 4, 2.5):
        with pytest.raises(RecipeError, match=r"recipe.stop_after: must be an epoch of the 3-epoch schedule \(1\.\.3\)"):
            dataclasses.replace(recipe, stop_after=bad)


def test_checkpoint_rebuilds_model_alone(digits, tmp_path):
    train(TINY, dataclasses.replace(QUICK, epochs=1), digits, checkpoint_dir=tmp_path)
    model, ckpt = load_checkpoint(tmp_path / "last.pt")
    assert ckpt["spec"] == TINY.to_dict() and ckpt["seed"] == 0 and ckpt["arch_id"] == TINY.arch_id
    assert ckpt["data"]["split_seed"] == 0 and ckpt["epoch"] == 1
    assert model(torch.zeros(2, 1, 8, 8)).shape == (2, 10)
    assert not list(tmp_path.glob("*.tmp"))  # atomic write left no temp file


def test_resume_refuses_another_recipe(digits, tmp_path):
    train(TINY, dataclasses.replace(QUICK, epochs=1), digits, checkpoint_dir=tmp_path)
    with pytest.raises(ValueError, match=r"recipe.lr: 0.2 in checkpoint vs 0.3 now"):
        train(TINY, dataclasses.replace(QUICK, epochs=1, lr=0.3), digits, checkpoint_dir=tmp_path)


def test_huge_lr_diverges_with_epoch_and_keeps_checkpoint(digits, tmp_path):
    calm = dataclasses.replace(QUICK, epochs=3, lr=0.2)
    train(TINY, calm, digits, checkpoint_dir=tmp_path, on_epoch=lambda e, m: True)
    wild = dataclasses.replace(calm, lr=1e6)
    with pytest.raises(DivergedError) as err:
        train(TINY, wild, load_data("digits"), checkpoint_dir=tmp_path / "wild")
    assert err.value.epoch == 1 and "non-finite" in err.value.reason
    assert isinstance(err.value, RuntimeError)
    assert torch.load(tmp_path / "last.pt", weights_only=True)["epoch"] == 1  # untouched


def test_spec_that_does_not_fit_the_data(digits):
    with pytest.raises(ValueError, match="in_channels=1"):
        train(dataclasses.replace(TINY, in_channels=3), QUICK, digits)


def test_imagefolder_trains_above_chance(tmp_path):
    data = load_data("imagefolder", data_dir=write_imagefolder(tmp_path / "ds"), val_fraction=0.25)
    spec = dataclasses.replace(TINY, in_channels=3, num_classes=2)
    recipe = Recipe(epochs=15, batch_size=10, lr=0.1, schedule="cosine", seed=0)
    result = train(spec, recipe, data, evaluate_test=True)
    assert result.test_acc >= 0.8  # chance is 0.5; the colours separate the classes


def test_recipe_unknown_key_and_presets(tmp_path):
    with pytest.raises(RecipeError, match="unknown key 'epoch'; did you mean 'epochs'"):
        Recipe.from_dict({"epoch": 3})
    with pytest.raises(RecipeError, match="did you mean 'weight_decay'"):
        get_recipe("fast", weight_decai=1e-4)
    assert set(list_recipes()) >= {"he2016", "wrn", "fast"}
    wrn = get_recipe("wrn")
    assert (wrn.epochs, wrn.milestones, wrn.gamma, wrn.weight_decay) == (200, (60, 120, 160), 0.2, 5e-4)
    assert get_recipe("he2016").milestones == (91, 136)
    assert Recipe.from_dict(wrn.to_dict()) == wrn
    path = tmp_path / "r.yaml"
    path.write_text("base: fast\nepochs: 3\n")
    assert load_recipe(path) == get_recipe("fast", epochs=3)
    with pytest.raises(RecipeError, match="warmup_epochs"):
        Recipe(epochs=2, warmup_epochs=-1)


def test_schedules():
    he = get_recipe("he2016")
    assert lr_factor(he, 0, 100) == 1.0 and lr_factor(he, 91 * 100, 100) == pytest.approx(0.1)
    assert lr_factor(he, 136 * 100, 100) == pytest.approx(0.01)
    frac = Recipe(epochs=10, schedule="multistep", milestones=(0.5,), gamma=0.2)
    assert lr_factor(frac, 499, 100) == 1.0 and lr_factor(frac, 500, 100) == pytest.approx(0.2)
    cos = Recipe(epochs=10, warmup_epochs=1)
    assert lr_factor(cos, 0, 100) == pytest.approx(0.01) and lr_factor(cos, 99, 100) == 1.0
    assert lr_factor(cos, 999, 100) < 1e-3
    assert Recipe(batch_size=256, lr=0.1).effective_lr == pytest.approx(0.2)


def test_fewer_epochs_scale_the_milestones():
    wrn6 = get_recipe("wrn", epochs=6)
    assert wrn6.milestones == pytest.approx((0.3, 0.6, 0.8))
    spe = 10
    assert lr_factor(wrn6, 0, spe) == 1.0 and lr_factor(wrn6, 6 * spe - 1, spe) == pytest.approx(0.2 ** 3)
    assert get_recipe("wrn").with_epochs(6) == wrn6 and get_recipe("wrn", epochs=200) == get_recipe("wrn")
    he4 = get_recipe("he2016").with_epochs(4)
    assert lr_factor(he4, 4 * spe - 1, spe) == pytest.approx(0.01)
    assert get_recipe("wrn", epochs=6, milestones=[2, 4]).milestones == (2, 4)  # given milestones win


def test_recipe_file_with_base_scales_too(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("base: wrn\nepochs: 10\n")
    assert load_recipe(path).milestones == pytest.approx((0.3, 0.6, 0.8))


def test_a_milestone_past_the_run_is_an_error():
    with pytest.raises(RecipeError, match=r"recipe.milestones: 60 is not below epochs \(6\)"):
        Recipe(epochs=6, schedule="multistep", milestones=(60, 120, 160))


NARROW = ArchSpec(stages=(StageSpec(depth=1, width=4, stride=1), StageSpec(depth=1, width=8, stride=2)),
                  stem_width=4, in_channels=1)


def test_narrow_nets_train_nchw_on_the_cpu_and_wide_ones_channels_last():
    from sharesnet.train.engine import use_channels_last

    cpu = torch.device("cpu")
    assert not use_channels_last(NARROW, cpu)
    assert use_channels_last(dataclasses.replace(NARROW, stem_width=8,
                                                 stages=tuple(dataclasses.replace(s, width=8) for s in NARROW.stages)), cpu)
    assert use_channels_last(NARROW, torch.device("cuda"))  # the oneDNN bug is the CPU's


def test_a_net_with_a_4_channel_strided_shortcut_trains_on_one_thread():
    # torch 2.14.1's oneDNN corrupted the heap here and the process died (a search's trial
    # came back as a Ray worker crash); in a subprocess, so a regression fails, not kills, the suite.
    import subprocess
    import sys

    code = f"""
import torch
torch.set_num_threads(1)
from sharesnet import ArchSpec
from sharesnet.data import load_data
from sharesnet.train import get_recipe, train
spec = ArchSpec.from_dict({NARROW.to_dict()!r})
data = load_data("digits", limit=400, val_fraction=0.2)
for seed in range(3):
    train(spec, get_recipe("fast", epochs=2, warmup_epochs=0, batch_size=64, seed=seed), data)
print("trained")
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "trained" in done.stdout, done.stderr[-2000:]
