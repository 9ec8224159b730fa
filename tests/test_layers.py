"""Imports follow the layers of the architecture (README "Layout"): proxies and spaces are leaves that know
nothing of each other; data and benchmarks sit beside them; scoring and training above; evaluation and search
above those; report above; the pipeline and the CLI on top. Checked on the source, every import statement,
module-level or inside a function."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "zcnas"

SHARED = {"atomic", "layer_marks", "__version__"}   # tiny conventions every layer may use
ALLOWED: dict[str, set[str] | None] = {
    "atomic": set(),
    "layer_marks": set(),
    "__init__": None,  # the package root re-exports the public API lazily
    "proxies": {"proxies"} | SHARED,
    "spaces": {"spaces"} | SHARED,
    "data": {"data"} | SHARED,
    "benchmarks": {"benchmarks", "spaces", "data"} | SHARED,
    "scoring": {"scoring", "proxies", "spaces", "data", "benchmarks"} | SHARED,
    "training": {"training", "scoring", "proxies", "spaces", "data", "benchmarks"} | SHARED,
    "evaluation": {"evaluation", "scoring", "proxies", "spaces", "data", "benchmarks"} | SHARED,
    "search": {"search", "evaluation", "scoring", "training", "proxies", "spaces", "data", "benchmarks"} | SHARED,
    "report": {"report", "evaluation"} | SHARED,
    "pipeline": {"pipeline", "report", "search", "evaluation", "training", "scoring", "proxies", "spaces", "data",
                 "benchmarks"} | SHARED,
    "cli": None,  # the top may import anything
}
#: Modules that re-export names lazily (PEP 562 ``__getattr__``) or parse commands, where a function-level import
#: of our own modules keeps ``import zcnas`` / ``zcnas --help`` cheap; nowhere else may a function import zcnas.
LAZY_OK = {"__init__.py", "cli.py"}


def _layer(path: Path) -> str:
    rel = path.relative_to(SRC)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def _imports(tree: ast.AST) -> list[tuple[str, int, bool]]:
    """(imported zcnas layer, line, inside a function) for every import of a zcnas module."""
    found = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
            names = []
            if isinstance(child, ast.Import):
                names = [a.name for a in child.names]
            elif isinstance(child, ast.ImportFrom) and child.level == 0 and child.module:
                names = [child.module] if child.module != "zcnas" else [f"zcnas.{a.name}" for a in child.names]
            for name in names:
                if name == "zcnas" or name.startswith("zcnas."):
                    parts = name.split(".")
                    found.append((parts[1] if len(parts) > 1 else "zcnas", child.lineno, in_function))
            visit(child, inner)

    visit(tree, False)
    return found


MODULES = sorted(p for p in SRC.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(SRC)))
def test_imports_follow_the_layers(path):
    layer = _layer(path)
    allowed = ALLOWED.get(layer, set())
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for target, line, in_function in _imports(tree):
        if allowed is not None:
            assert target in allowed, f"{path.relative_to(SRC)}:{line} ({layer}) imports zcnas.{target}"
        if in_function and path.name not in LAZY_OK:
            pytest.fail(f"{path.relative_to(SRC)}:{line} imports zcnas.{target} inside a function; import it at "
                        "the top (function-level imports are for optional heavy packages only)")


def test_every_layer_is_declared():
    layers = {_layer(p) for p in MODULES}
    assert layers <= set(ALLOWED), sorted(layers - set(ALLOWED))


def test_the_report_opens_no_store_and_no_benchmark():
    for path in (SRC / "report").glob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "ResultStore" not in text and "get_benchmark" not in text and "load_nb201" not in text, path.name
