"""The files of a proposal run (scripts/propose.py) and reading them back.

<out>/
  proposals.yaml        the index: soft net (spec, seed, recipe, data, accuracy), similarity
                        matrices, and every proposal with its spec, costs and folded accuracy
  proposals.csv, .md    the table
  similarity.png        the layer similarity matrices
  soft.yaml             the soft net's spec (train_final.py --arch retrains it)
  soft/last.pt          its checkpoint (spec, recipe, seed and weights inside)
  specs/<name>.yaml     one hard spec per proposal (train_final.py --arch takes the file or the folder)

A search takes the proposals as warm starts with `warm_start: [plain, paper, {proposals: <out>}]`.
"""
from __future__ import annotations

from pathlib import Path

import yaml

from nas.space.problems import SpaceError
from sharesnet.spec import ArchSpec, SpecError

KIND = "sharesnet-nas proposals"  # the index's `kind`, so a wrong file is refused by name
INDEX = "proposals.yaml"
SPECS = "specs"


def index_path(path: str | Path) -> Path:
    """The proposals.yaml of a proposal folder, or the file itself."""
    path = Path(path)
    return path / INDEX if path.is_dir() else path


def read_proposals(path: str | Path, where: str = "warm_start") -> list[tuple[str, ArchSpec]]:
    """(name, hard spec) of every proposal of a run; SpaceError in one line when the file is missing or foreign."""
    file = index_path(path)
    if not file.is_file():
        raise SpaceError(f"{where}: proposals: {path}: no {INDEX} there; run scripts/propose.py --space SPACE "
                         f"--out {path} first (or fix the path: relative paths start where the command runs)")
    try:
        doc = yaml.safe_load(file.read_text())
    except yaml.YAMLError as e:
        raise SpaceError(f"{where}: proposals: {file}: not valid YAML: {e}") from None
    if not isinstance(doc, dict) or doc.get("kind") != KIND:
        raise SpaceError(f"{where}: proposals: {file} is not a proposals file written by scripts/propose.py")
    try:
        return [(p["name"], ArchSpec.from_dict(p["spec"], where=f"{file}: {p['name']}.spec"))
                for p in doc.get("proposals") or []]
    except (KeyError, TypeError, SpecError) as e:
        raise SpaceError(f"{where}: proposals: {file}: a malformed proposal ({e}); write it again with "
                         f"scripts/propose.py") from None
