"""An impossible budget is refused at load; a search that ends with an empty front fails (issue 17, item 3)."""
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from nas.space.codec import decode, smallest
from nas.space.datacheck import check_data
from nas.space.parse import parse_space
from nas.space.problems import SpaceError
from sharesnet import build_model, count_flops, count_params
from tests.test_data import write_imagefolder
from tests.test_search import BASE, TRAIN, write_space

ROOT = Path(__file__).resolve().parents[1]
SMALL = {"name": "small", "data": {"dataset": "digits"}, "base": BASE, "train": TRAIN,
         "vary": {"depth": [1, 2], "width_mult": [0.5, 1.0],
                  "sharing": {"positions": ["conv1", "conv2"], "patterns": ["none", "ranges", "cycle"], "k": [2]}}}


class _Walk:
    """A Suggester that answers the i-th question with path[i] (else the first choice), noting every question."""

    def __init__(self, path: list[int]):
        self.path, self.sizes, self.answers = path, [], []

    def suggest_categorical(self, name, choices):
        i = len(self.answers)
        self.answers.append(self.path[i] if i < len(self.path) else 0)
        self.sizes.append(len(choices))
        return choices[self.answers[-1]]


def every_architecture(space) -> dict:
    """Every spec `decode` can give, found by walking the tree of its questions (later ones depend on earlier answers)."""
    found, todo = {}, [[]]
    while todo:
        walk = _Walk(todo.pop())
        spec = decode(walk, space)
        found[spec.arch_id] = spec
        for j in range(len(walk.path), len(walk.sizes)):
            todo += [walk.answers[:j] + [k] for k in range(1, walk.sizes[j])]
    return found


def _costs(spec, size=(1, 8, 8)):
    model = build_model(spec)
    return count_params(model), count_flops(model, size)


def test_smallest_is_the_cheapest_architecture_of_the_space():
    space = parse_space(SMALL)
    specs = every_architecture(space)
    assert len(specs) >= 30  # distinct architectures: depth, width and every mask the patterns give
    cheapest = smallest(space)
    assert cheapest.arch_id in specs  # one the space really builds
    params, flops = _costs(cheapest)
    for spec in specs.values():
        p, f = _costs(spec)
        assert p >= params and f >= flops, spec.arch_id


@pytest.mark.parametrize("key", ["max_params", "max_flops"])
def test_a_budget_below_the_smallest_architecture_is_refused_at_load_with_its_cost(key):
    # `max_params: 10` used to run: 27 rejections, 139 resamples, an empty front and exit 0.
    need = dict(zip(("max_params", "max_flops"), _costs(smallest(parse_space(SMALL)))))[key]
    with pytest.raises(SpaceError) as e:
        parse_space(SMALL | {"constraints": {key: need - 1}}, "s.yaml")
    text = str(e.value)
    assert f"s.yaml: constraints.{key}: {need - 1:,} is below the smallest architecture of this space" in text
    assert f"raise it to at least {need:,}" in text and len(text.splitlines()) == 2
    assert getattr(parse_space(SMALL | {"constraints": {key: need}}), key) == need  # exactly enough is fine


def test_an_image_folder_budget_on_flops_is_checked_once_its_size_is_read(tmp_path):
    root = write_imagefolder(tmp_path / "imgs", side=12)
    raw = SMALL | {"data": {"dataset": "imagefolder", "data_dir": str(root)}, "constraints": {"max_flops": 10}}
    space = parse_space(raw, "f.yaml")  # the images' own size is not known at load
    with pytest.raises(SpaceError, match=r"f.yaml: constraints.max_flops: 10 is below the smallest"):
        check_data(space, log=lambda m: None)


def test_a_search_that_ends_with_an_empty_front_fails_and_says_why(tmp_path):
    # Every training diverges (lr 1e8): nothing is evaluated, and `search.py && train_final.py` must stop.
    space = write_space(tmp_path, train=TRAIN | {"lr": 1e8}, trials=1, warm_start=[],
                        vary={"sharing": {"positions": ["conv2"], "patterns": ["none"]}})
    p = subprocess.run([sys.executable, str(ROOT / "scripts/search.py"), "--space", str(space), "--out",
                        str(tmp_path)], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert p.returncode == 1, p.stdout[-2000:] + p.stderr[-2000:]
    assert "Pareto front: empty: no architecture finished its training with a result" in p.stdout
    assert "hypervolume" not in p.stdout.lower() and "[search] done" not in p.stdout
    last = p.stderr.strip().splitlines()[-1]
    assert last.startswith("[search] FAILED after ") and "the front is empty" in last and "1 failed" in last, last
    assert "diverged" in last and yaml.safe_load((tmp_path / "tiny/pareto.yaml").read_text())["front"] == []
