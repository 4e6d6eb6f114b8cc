"""The import rules of docs/architecture (README "Architecture"): layers import only downward,
and no project import hides inside a function to dodge a cycle."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.helpers import REPO

# Lowest first: a package may import only the packages before it (and itself).
LAYERS = ("conf", "data", "models", "evaluate", "train")


def _imports(path: Path, package: str) -> list[tuple[str, int, bool]]:
    """``(top-level package, line, inside a function)`` of every import in ``path``, a module
    of ``package`` (relative imports resolve to it)."""
    tree = ast.parse(path.read_text(), str(path))
    found: list[tuple[str, int, bool]] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import):
                found.extend((a.name.split(".")[0], child.lineno, in_function) for a in child.names)
            elif isinstance(child, ast.ImportFrom):
                top = package if child.level else (child.module or "").split(".")[0]
                found.append((top, child.lineno, in_function))
            visit(child, in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)))

    visit(tree, False)
    return found


def _sources(package: str) -> list[Path]:
    return sorted((REPO / package).rglob("*.py"))


@pytest.mark.parametrize("package", LAYERS)
def test_imports_point_down(package):
    allowed = set(LAYERS[: LAYERS.index(package) + 1])
    upward = [
        f"{path.relative_to(REPO)}:{line} imports {top}"
        for path in _sources(package)
        for top, line, _ in _imports(path, package)
        if top in LAYERS and top not in allowed
    ]
    assert not upward, f"{package} may import only {sorted(allowed)}:\n" + "\n".join(upward)


@pytest.mark.parametrize("package", LAYERS)
def test_no_project_import_inside_a_function(package):
    hidden = [
        f"{path.relative_to(REPO)}:{line} imports {top} inside a function"
        for path in _sources(package)
        for top, line, inside in _imports(path, package)
        if inside and top in LAYERS
    ]
    assert not hidden, "\n".join(hidden)


def test_the_checker_sees_violations(tmp_path):
    """The rules can fail: an upward import inside a function, and a relative one, are found."""
    probe = tmp_path / "probe.py"
    probe.write_text("from . import sibling\n\ndef f():\n    import train.app\n    from evaluate import score\n")
    assert _imports(probe, "models") == [("models", 1, False), ("train", 4, True), ("evaluate", 5, True)]
