"""The package layout issues 10 and 20 asked for, kept: no import circles, steps/ never asks which backend
it has, and a step module is a command, never a library for another command.

Static checks over the source (ast): every `import` counts, module-level, inside a function or under
`if TYPE_CHECKING:` (an annotation-only import still ties two modules: a reader of one must know the
other).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "nikkei_deepar"
PACKAGE = "nikkei_deepar"


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith(PACKAGE)}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(PACKAGE):
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names}
    return found


def _graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in SRC.rglob("*.py")}
    return {name: {m for m in _imports(path) if m in modules and m != name} for name, path in modules.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every elementary circle's smallest member first, found by DFS from each module (the graph is small)."""
    found: set[tuple[str, ...]] = set()
    for start in graph:
        stack = [(start, [start])]
        while stack:
            node, path = stack.pop()
            for nxt in graph[node]:
                if nxt == start:
                    found.add(tuple(path))
                elif nxt not in path and nxt > start:
                    stack.append((nxt, [*path, nxt]))
    return [list(c) for c in sorted(found)]


def test_the_import_graph_has_no_circles() -> None:
    # A package importing its own submodules (backends/local/__init__ re-exporting backend.py) is the
    # package's face, not a circle: the submodule never needs the package's other members.
    graph = {
        name: {m for m in deps if not (name.count(".") and m.startswith(name + "."))}
        for name, deps in _graph().items()
    }
    assert _cycles(graph) == []


def test_steps_hold_one_module_per_subcommand() -> None:
    steps = sorted(p.stem for p in (SRC / "steps").glob("*.py") if p.stem != "__init__")
    assert steps == [
        "backtest",
        "configure",
        "deploy",
        "doctor",
        "import_resource",
        "predict",
        "prepare",
        "provision",
        "retrain",
        "score",
        "state",
        "status",
        "teardown",
        "train",
        "wait",
    ]


_BACKEND_TYPE_TESTS = [
    r"isinstance\([^)]*(Backend|backend)",
    r"backend\.name\s*[!=]=\s*['\"]",
    r"settings\.backend\s*[!=]=",
    r"\.gateway\(",
    r"backends\.(sagemaker|local)\b",
]


@pytest.mark.parametrize("path", sorted((SRC / "steps").glob("*.py")), ids=lambda p: p.name)
def test_no_step_asks_which_backend_it_has(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    found = [p for p in _BACKEND_TYPE_TESTS if re.search(p, text)]
    assert found == [], f"{path.name} tests the backend's type or reaches a backend package: {found}"


def test_the_shared_vocabulary_imports_nothing_backend_specific() -> None:
    graph = _graph()
    specific = (f"{PACKAGE}.backends.sagemaker", f"{PACKAGE}.backends.local", f"{PACKAGE}.aws")
    for name in ("base", "plan", "removal", "probe", "checks", "env", "expiry"):
        module = f"{PACKAGE}.backends.{name}"
        # what a backend is given holds the (lazily built) AWS gateways, by type only
        services = {f"{PACKAGE}.aws.services", f"{PACKAGE}.aws.services.AwsServices"}
        allowed = services if name == "env" else set()
        leaks = {m for m in graph[module] if m.startswith(specific)} - allowed
        assert leaks == set(), f"{module} imports {leaks}"


def test_no_step_imports_another_step_but_retrain() -> None:
    """Steps are commands, not libraries: what two commands share lives in lifecycle/ (or lower).
    `retrain` composes prepare, train and deploy, and may import them."""
    graph = _graph()
    steps = {m for m in graph if m.startswith(f"{PACKAGE}.steps.")}
    found = {
        (name.rsplit(".", 1)[-1], dep.rsplit(".", 1)[-1])
        for name in steps
        if not name.endswith(".retrain")
        for dep in graph[name]
        if dep in steps
    }
    assert found == set()


def test_nothing_below_the_cli_imports_a_step() -> None:
    graph = _graph()
    users = {
        name
        for name, deps in graph.items()
        if not name.startswith(f"{PACKAGE}.steps") and name != f"{PACKAGE}.cli"
        for dep in deps
        if dep.startswith(f"{PACKAGE}.steps.")
    }
    assert users == set()
