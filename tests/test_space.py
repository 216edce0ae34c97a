"""Every malformed space gets one clear line per problem: file, key path, expectation."""
from pathlib import Path

import pytest
import yaml

from nas.space.parse import load_space, parse_space
from nas.space.problems import SpaceError

GOOD = {
    "name": "t", "data": {"dataset": "digits"}, "base": {"preset": "cifar_resnet20"},
    "vary": {"depth": [1, 2], "sharing": {"positions": ["conv2"], "patterns": ["none", "stage"]}},
    "train": {"recipe": "fast", "epochs": 1, "warmup_epochs": 0}, "objectives": ["val_acc", "params"],
    "constraints": {"max_params": 1e6}, "sampler": {"name": "random", "seed": 1}, "trials": 3,
}


def _with(path: str, value):
    d = yaml.safe_load(yaml.safe_dump(GOOD))
    node, keys = d, path.split(".")
    for k in keys[:-1]:
        node = node.setdefault(k, {})
    if value is _DELETE:
        node.pop(keys[-1])
    else:
        node[keys[-1]] = value
    return d


_DELETE = object()


def test_good_space_loads_with_dataset_defaults():
    s = parse_space(GOOD, "good.yaml")
    assert s.base.in_channels == 1 and s.base.num_classes == 10  # digits: 1 channel, 10 classes
    assert s.depth == ((1, 2),) * 3 and s.recipe.epochs == 1 and s.max_params == 1e6
    assert s.metric_names == ["val_acc", "params"] and s.modes == ["max", "min"]


@pytest.mark.parametrize("path,value,expected", [
    ("trails", 3, "trails: unknown key; did you mean 'trials'?"),
    ("data.dataset", "cifar11", "data.dataset: expected one of digits, cifar10, cifar100, imagefolder, got 'cifar11' (did you mean 'cifar10'?)"),
    ("data.val_fraction", 1.5, "data.val_fraction: expected a fraction in (0, 1)"),
    ("base.preset", "resnet21", "did you mean 'resnet18'"),
    ("vary.depth", [0, 2], "vary.depth: expected a non-empty list of integers >= 1"),
    ("vary.depth", [[1], [2]], "vary.depth: expected 3 lists (one per stage of the base), got 2"),
    ("vary.sharing.positions", ["conv3"], "vary.sharing.positions[0]: expected one of conv1, conv2"),
    ("vary.sharing.patterns", ["stage", "zigzag"], "vary.sharing.patterns[1]: expected one of none, stage"),
    ("vary.sharing.k", [0], "vary.sharing.k: expected a non-empty list of integers >= 1"),
    ("vary.width_mult", [-1], "vary.width_mult: expected a non-empty list of positive numbers"),
    ("train.recipe", "slow", "train.recipe: expected one of"),
    ("train.epocs", 2, "did you mean 'epochs'"),
    ("objectives", ["val_acc", "latency"], "objectives[1]: expected one of val_acc, train_acc, params, flops"),
    ("objectives", [{"name": "params", "direction": "max"}], "params is always minimised"),
    ("constraints.max_params", -5, "constraints.max_params: expected a positive number"),
    ("constraints.max_parms", 5, "constraints.max_parms: unknown key; did you mean 'max_params'?"),
    ("sampler.name", "cmaes", "sampler.name: expected one of nsga2, nsga3, tpe, random, qmc, gp"),
    ("sampler.population_size", 1, "sampler.population_size: expected an integer >= 2"),
    ("trials", 0, "trials: expected a positive integer"),
    ("warm_start", ["paper", "best"], "warm_start[1]: expected one of plain, paper"),
    ("early_stopping", {"grace_epochs": 0}, "early_stopping.grace_epochs: expected an integer >= 1"),
    ("base", {"preset": "cifar_resnet20", "spec": {}}, "give exactly one of base.preset"),
    ("data.dataset", "imagefolder", "data.data_dir: imagefolder needs data_dir"),
])
def test_malformed_space_messages(path, value, expected):
    with pytest.raises(SpaceError) as e:
        parse_space(_with(path, value), "spaces/bad.yaml")
    assert "spaces/bad.yaml: " in str(e.value) and expected in str(e.value)


def test_all_problems_reported_at_once():
    bad = _with("trials", 0) | {"sampler": {"name": "cmaes"}}
    with pytest.raises(SpaceError, match="2 problems") as e:
        parse_space(bad, "x.yaml")
    assert "trials" in str(e.value) and "sampler.name" in str(e.value)


def test_file_errors(tmp_path):
    with pytest.raises(SpaceError, match="no such search-space file"):
        load_space(tmp_path / "nope.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("data: {dataset: digits\n")
    with pytest.raises(SpaceError, match="broken.yaml: not valid YAML"):
        load_space(broken)
    top = tmp_path / "list.yaml"
    top.write_text("- 1\n- 2\n")
    with pytest.raises(SpaceError, match=r"\(top level\): expected a mapping"):
        load_space(top)


def test_bad_base_spec_names_the_key():
    d = _with("base", {"spec": {"stages": [{"depth": 2, "width": 8, "strid": 1}]}})
    with pytest.raises(SpaceError, match=r"base.spec: base.spec.stages\[0\]: unknown key 'strid'; did you mean 'stride'"):
        parse_space(d, "s.yaml")


SHIPPED = sorted(Path(__file__).resolve().parents[1].glob("search_spaces/*.yaml"))


@pytest.mark.parametrize("path", SHIPPED, ids=[p.name for p in SHIPPED])
def test_shipped_spaces_load_with_the_values_they_state(path):
    """Every shipped space loads, and its parsed values are the file's own (none lost to a default)."""
    raw = yaml.safe_load(path.read_text())
    s = load_space(path)
    assert s.name == raw.get("name", path.stem)
    assert s.trials == raw["trials"]
    assert s.recipe.epochs == raw["train"]["epochs"]
    assert [n for n, _ in s.objectives] == list(raw["objectives"])
    assert s.sampler.name == raw["sampler"]["name"]
    assert s.data.dataset == raw["data"]["dataset"]
    stated = (raw.get("constraints") or {}).get("max_params")
    assert s.max_params == (float(stated) if stated is not None else None)  # YAML reads 1.8e6 as text


def test_every_shipped_space_is_tested():
    assert {p.name for p in SHIPPED} >= {"quickstart.yaml", "cifar10-cpu.yaml", "gpu-check.yaml", "cifar.yaml"}


@pytest.mark.parametrize("written,meant", [("nsgaii", "nsga2"), ("NSGA-II", "nsga2"), ("nsga_iii", "nsga3"),
                                           ("TPE", "tpe"), ("Random", "random")])
def test_a_name_spelled_another_way_gets_that_name(written, meant):
    # `nsgaii` once got "did you mean 'nsga3'?": edit distance ties it with nsga2.
    with pytest.raises(SpaceError, match=rf"got '{written}' \(did you mean '{meant}'\?\)"):
        parse_space(_with("sampler.name", written), "bad.yaml")


@pytest.mark.parametrize("key,value,expected", [
    ("epochs", -3, "bad.yaml: train.epochs: must be a positive integer, got -3"),
    ("batch_size", 0, "bad.yaml: train.batch_size: must be a positive integer, got 0"),
    ("lr", -0.1, "bad.yaml: train.lr: must be positive, got -0.1"),
    ("label_smoothing", 1.5, "bad.yaml: train.label_smoothing: must be in [0, 1), got 1.5"),
    ("epocs", 3, "bad.yaml: train.epocs: unknown key; did you mean 'epochs'?"),
    ("lr", "fast", "bad.yaml: train.lr: must be positive, got 'fast'"),  # not "'>' not supported between ..."
    ("milestones", ["a"], "bad.yaml: train.milestones: must be positive numbers, got ('a',)"),
    ("stop_after", 99, "bad.yaml: train.stop_after: must be an epoch of the"),
])
def test_a_bad_train_value_is_named_by_its_key_in_the_space(key, value, expected):
    # A negative train.epochs was reported under "train: recipe.epochs".
    with pytest.raises(SpaceError) as e:
        parse_space(_with(f"train.{key}", value), "bad.yaml")
    assert expected in str(e.value)


def test_shipped_digits_spaces_state_their_real_validation_size():
    # quickstart.yaml said "360 validation images" where the run has 359.
    import re

    from sharesnet.data import load_data

    for path in (Path(__file__).resolve().parents[1] / "search_spaces").glob("*.yaml"):
        stated = re.search(r"# ([\d,]+) validation images", path.read_text())
        space = load_space(path)
        if stated and space.data.dataset == "digits":
            data = load_data(**space.data.load_kwargs())
            assert int(stated[1].replace(",", "")) == len(data.val), path.name


def test_a_float_written_as_yaml_1_1_reads_it_is_the_number_it_means():
    # `lr: 1.0e8` is a string to YAML 1.1; it failed with "train: '>' not supported between 'str' and 'int'".
    assert parse_space(_with("train.lr", "1.0e8"), "s.yaml").recipe.lr == 1e8
