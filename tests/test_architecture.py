"""The layering of docs/architecture.md, enforced: who may import whom, and no import circles.

Imports are read from the source (ast), module-level and inside functions alike, except
those under `if TYPE_CHECKING:` (types only, never run).
"""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("sharesnet", "nas")
# Ray and Optuna stay where trials are proposed, run and scheduled; the rest of nas/ is plain Python.
RAY_OPTUNA = {"nas.run.cluster", "nas.run.driver", "nas.retrain.jobs", "nas.run.parent", "nas.bench.sampler", "nas.search.samplers",
              "nas.search.searcher", "nas.run.shared_folder", "nas.run.trainable"}


def _module(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


MODULES = {_module(p): p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")}


def imports(path: Path) -> set[str]:
    """Every module `path` imports when it runs: `from a import b` names a.b if that is a module, else a."""
    found: set[str] = set()

    class Visitor(ast.NodeVisitor):
        def visit_If(self, node: ast.If) -> None:
            test = node.test
            if getattr(test, "id", None) == "TYPE_CHECKING" or getattr(test, "attr", None) == "TYPE_CHECKING":
                for n in node.orelse:
                    self.visit(n)
                return
            self.generic_visit(node)

        def visit_Import(self, node: ast.Import) -> None:
            found.update(a.name for a in node.names)

        def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
            if node.module and node.level == 0:
                subs = {f"{node.module}.{a.name}" for a in node.names} & set(MODULES)
                found.update(subs or {node.module})

    Visitor().visit(ast.parse(path.read_text()))
    return found


GRAPH = {m: {i for i in imports(p) if i in MODULES and i != m} for m, p in MODULES.items()}


def test_there_are_modules_to_check():
    assert "sharesnet.spec" in MODULES and "nas.run.driver" in MODULES and GRAPH["nas.run.driver"]


def test_no_import_circles():
    def reach(start: str) -> set[str]:
        seen, todo = set(), [start]
        while todo:
            for nxt in GRAPH[todo.pop()] - seen:
                seen.add(nxt)
                todo.append(nxt)
        return seen

    circles = sorted(m for m in GRAPH if m in reach(m))
    assert not circles, f"modules on an import circle: {circles}"


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m.startswith("sharesnet")))
def test_sharesnet_knows_no_search(module):
    """The model and the trainer are plain PyTorch: no Ray, no Optuna, nothing of nas/."""
    bad = {i for i in imports(MODULES[module]) if i.split(".")[0] in ("ray", "optuna", "nas")}
    assert not bad, f"{module} imports {sorted(bad)}"


def test_ray_and_optuna_stay_in_their_layer():
    users = {m for m, p in MODULES.items() if {i.split(".")[0] for i in imports(p)} & {"ray", "optuna"}}
    assert users <= RAY_OPTUNA, f"Ray/Optuna imported outside their layer: {sorted(users - RAY_OPTUNA)}"
