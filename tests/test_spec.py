import json

import pytest

from sharesnet import ArchSpec, SpecError, StageSpec, get_spec, list_models
from sharesnet import masks as M
from tests.conftest import random_valid_masks, tiny_spec


def test_two_spellings_one_arch_id():
    a = tiny_spec(depths=(4, 2)).with_masks({(0, 1): (5, 5, 9, 9)})
    b = tiny_spec(depths=(4, 2)).with_masks({(0, 1): M.sequence(4, 2)})
    assert a == b and hash(a) == hash(b) and a.arch_id == b.arch_id


def test_name_is_not_part_of_identity():
    spec = get_spec("cifar_resnet20")
    import dataclasses

    assert dataclasses.replace(spec, name="other").arch_id == spec.arch_id


def test_different_masks_differ():
    base = tiny_spec(depths=(4, 2))
    assert base.arch_id != base.with_masks({(0, 1): M.stage(4)}).arch_id


@pytest.mark.parametrize("name", list_models())
def test_dict_yaml_json_round_trip(name):
    spec = get_spec(name)
    assert ArchSpec.from_dict(spec.to_dict()) == spec
    assert ArchSpec.from_yaml(spec.to_yaml()) == spec
    assert ArchSpec.from_dict(json.loads(spec.to_json())) == spec
    assert ArchSpec.from_yaml(spec.to_yaml()).arch_id == spec.arch_id


def test_round_trip_random_masks(rng):
    for _ in range(20):
        spec = random_valid_masks(tiny_spec(block=rng.choice(["basic", "bottleneck"]), depths=(4, 3)), rng)
        assert ArchSpec.from_yaml(spec.to_yaml()) == spec


def test_shape_violation_names_stage_blocks_conv_and_shapes():
    # conv1 of block 0 in stage 1 reads 8 channels, the others 16: they cannot share.
    with pytest.raises(SpecError) as e:
        tiny_spec(depths=(2, 3)).with_masks({(1, 0): M.stage(3)})
    msg = str(e.value)
    assert "stages[1].share.conv1" in msg and "blocks 0 and 1" in msg
    assert "16x8x3x3" in msg and "16x16x3x3" in msg


def test_strided_conv_may_share_with_unstrided():
    # Bottleneck stride sits on conv2 (3x3), whose shape does not change: sharing is legal.
    spec = tiny_spec(block="bottleneck", depths=(2, 3)).with_masks({(1, 1): M.stage(3)})
    assert spec.conv_stride(1, 0, 1) == 2 and spec.conv_stride(1, 1, 1) == 1
    assert spec.conv_shape(1, 0, 1) == spec.conv_shape(1, 1, 1)


@pytest.mark.parametrize("change,match", [
    (dict(block="dense"), "block: must be one of"),
    (dict(stem="mnist"), "stem: must be one of"),
    (dict(shortcut="C"), "shortcut: must be one of"),
    (dict(num_classes=0), "num_classes: must be a positive integer"),
    (dict(stages=()), "at least one stage"),
    (dict(stages=(StageSpec(2, 8, 3),)), r"stages\[0\].stride"),
    (dict(stages=(StageSpec(2, 4, 1),), shortcut="A"), "shortcut A zero-pads"),
    (dict(stages=(StageSpec(2, 8, 1, share=((0, 0, 0), (0, 1))),)), "3 labels for 2 blocks"),
])
def test_validation_errors(change, match):
    kw = dict(stages=(StageSpec(2, 8, 1),), stem_width=8) | change
    with pytest.raises(SpecError, match=match):
        ArchSpec(**kw)


def test_bottleneck_width_must_divide():
    with pytest.raises(SpecError, match="not divisible by expansion"):
        ArchSpec((StageSpec(1, 10, 1),), block="bottleneck")


def test_from_dict_unknown_key_suggests():
    d = tiny_spec().to_dict()
    d["num_clases"] = 3
    with pytest.raises(SpecError, match="did you mean 'num_classes'"):
        ArchSpec.from_dict(d)
    d = tiny_spec().to_dict()
    d["stages"][0]["share"]["conv9"] = [0, 0, 0]
    with pytest.raises(SpecError, match=r"stages\[0\].share: unknown key 'conv9'"):
        ArchSpec.from_dict(d)


def test_load_reports_file(tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text("stages: [ {depth: 2, width: 8")
    with pytest.raises(SpecError, match="bad.yaml: not valid YAML"):
        ArchSpec.load(f)
    with pytest.raises(SpecError, match="no such spec file"):
        ArchSpec.load(tmp_path / "missing.yaml")


def test_sharing_summary():
    assert get_spec("resnet34").sharing_summary() == "none"
    assert get_spec("sharesnet34").sharing_summary().startswith("s1.conv2=000 s2.conv2=0000")
