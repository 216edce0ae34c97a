"""The docs say what the code does: the search-space schema, the resolved space, the Quickstart's time (issue 17, item 5)."""
import dataclasses
import re
from pathlib import Path

import pytest
import yaml

from nas.space.config import TOP_KEYS, DataConfig, SamplerConfig, SharingConfig
from nas.space.parse import parse_space

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "search_spaces/README.md"


def _block() -> dict:
    """The commented example at the top of search_spaces/README.md, as YAML."""
    text = SCHEMA.read_text()
    return yaml.safe_load(re.search(r"```yaml\n(name: my-search.*?)```", text, re.S)[1])


def test_the_schema_block_shows_the_defaults_a_missing_key_takes():
    # It showed max_params 300000, depth [1,2,3], width_mult [0.5,1.0], epochs 4 and batch 64,
    # where a missing key gives no cap, fixed depth and width, 15 epochs and batch 256.
    block = _block()
    assert parse_space(block, "my-search.yaml") == parse_space({"base": block["base"]}, "my-search.yaml")


def test_the_schema_block_lists_every_key_of_the_schema():
    block = _block()
    fields = {f.name for f in dataclasses.fields(DataConfig)}
    assert set(block) == set(TOP_KEYS) and set(block["data"]) == fields
    assert set(block["sampler"]) == {f.name for f in dataclasses.fields(SamplerConfig)}
    assert set(block["vary"]["sharing"]) == {f.name for f in dataclasses.fields(SharingConfig)}
    assert set(block["vary"]) | {"width"} == {"depth", "width", "width_mult", "sharing"}  # width: a comment
    assert "# width: [[" in SCHEMA.read_text() and set(block["constraints"]) == {"max_params", "max_flops"}


def test_the_resolved_space_shows_every_stage_choice():
    # space.yaml left out the depth choices.
    cifar = parse_space(yaml.safe_load((ROOT / "search_spaces/cifar10-cpu.yaml").read_text()), "c.yaml").resolved()
    assert cifar["resolved"]["depth"] == [[3, 5, 7]] * 3 and cifar["resolved"]["width"] == [[16], [32], [64]]
    quick = parse_space(yaml.safe_load((ROOT / "search_spaces/quickstart.yaml").read_text()), "q.yaml").resolved()
    assert quick["resolved"]["depth"] == [[3]] * 3 and quick["resolved"]["width_mult"] is None
    assert quick["resolved"]["early_stopping"] is None
    gpu = parse_space(yaml.safe_load((ROOT / "search_spaces/gpu-check.yaml").read_text()), "g.yaml").resolved()
    assert gpu["resolved"]["width"] is None and gpu["resolved"]["width_mult"] == [0.5, 0.75]


def test_the_quickstart_time_is_stated_once():
    # "about two minutes", "about 1.5 minutes" and "a few minutes" for one command.
    stated = "in 1 min 34 s on 2 CPU cores (the\nsearch 59 s of it"
    readme = (ROOT / "README.md").read_text()
    assert readme.count(stated) == 1 and readme.index(stated) < readme.index("```bash")  # the Quickstart's top
    for path in ("README.md", "search_spaces/README.md", "search_spaces/quickstart.yaml", "scripts/search.py"):
        for line in (ROOT / path).read_text().replace(stated, "").splitlines():
            if "quickstart" in line.lower() and not line.startswith("["):  # a console transcript keeps its own
                assert not re.search(r"minute|\d+ s\b", line), f"{path}: {line}"


def test_the_readme_installs_the_cpu_build_of_every_torch_package_first():
    # `pip install -e .` on a CPU-only machine pulled the CUDA build of torch: a 6.3 GB venv.
    import tomllib

    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    torch_family = {re.match(r"[\w-]+", d)[0] for d in deps if d.startswith("torch")}
    readme = (ROOT / "README.md").read_text()
    quick = readme[readme.index("## Quickstart"):readme.index("## Architectures as data")]
    cpu = next(line for line in quick.splitlines() if "download.pytorch.org/whl/cpu" in line)
    assert cpu.startswith("pip install ") and "--index-url https://download.pytorch.org/whl/cpu" in cpu
    assert torch_family == {"torch", "torchvision"} and torch_family <= set(cpu.split())
    assert quick.index(cpu) < quick.index("pip install -e . &&")  # first


def test_the_cifar10_spaces_say_how_to_get_their_folder():
    for name in ("cifar10-cpu.yaml", "cifar10-cpu-prefix.yaml"):
        assert "scripts/cifar10_to_folder.py" in (ROOT / "search_spaces" / name).read_text()
    user_docs = "".join((ROOT / p).read_text() for p in ("README.md", "docs/results.md", "docs/gpu-check.md"))
    assert "python scripts/cifar10_to_folder.py --data-dir data/cifar10 --out /tmp/cifar10" in user_docs
    assert "bash scripts/gpu_check.sh --out gpu-check --data-dir /tmp/cifar10" in user_docs
    assert ".gpukit" not in user_docs and "../shared" not in user_docs  # the kit lives in docs/development.md
    assert "source .gpukit/setup.sh" in (ROOT / "docs/development.md").read_text()


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as dashes."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    found, code = set(), False
    for line in path.read_text().splitlines():
        code = code != line.startswith("```")
        m = re.match(r"#+ (.*)", line)
        if m and not code:
            found.add(_slug(m.group(1)))
    return found


DOCS = [ROOT / "README.md", ROOT / "search_spaces/README.md", *sorted((ROOT / "docs").glob("*.md"))]


@pytest.mark.parametrize("doc", DOCS, ids=[str(d.relative_to(ROOT)) for d in DOCS])
def test_every_relative_link_resolves(doc):
    """README and docs/ link each other: every file and #anchor they name must exist."""
    text = re.sub(r"```.*?```", "", doc.read_text(), flags=re.S)
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+://", target):
            continue
        path, _, anchor = target.partition("#")
        file = (doc.parent / path).resolve() if path else doc
        if not file.exists():
            broken.append(target)
        elif anchor and file.suffix == ".md" and anchor not in _anchors(file):
            broken.append(target)
    assert not broken, f"{doc.relative_to(ROOT)}: broken links {broken}"


def test_readme_is_one_screen_and_indexes_every_doc():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 250
    for page in sorted((ROOT / "docs").glob("*.md")):
        assert f"docs/{page.name}" in readme, f"README's index misses docs/{page.name}"
