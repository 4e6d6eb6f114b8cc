"""How the test tree is put together: test modules share code through tests/helpers/ only.

A test module importing another (``from tests.test_configs import _compose``) or conftest
(``from tests.conftest import REPO``) runs the imported module a second time under another
name (pytest imports it as ``test_configs`` / ``conftest``), collects nothing from it and
couples the two files. And tests/helpers/ is imported by one spelling, ``tests.helpers``:
``helpers`` is importable too (pytest puts tests/ on sys.path), but would be a second copy.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.helpers import REPO

TESTS = REPO / "tests"


def import_statements(source: str) -> list[tuple[int, list[str]]]:
    """``(line, dotted names)`` of every ``import`` statement in the source, also those inside
    functions: ``import a.b, c`` names ``a.b`` and ``c``; ``from a import b`` names ``a`` and
    ``a.b`` (``b`` may be a module). Relative imports keep their leading dots."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.append((node.lineno, [alias.name for alias in node.names]))
        elif isinstance(node, ast.ImportFrom):
            base = "." * node.level + (node.module or "")
            joiner = "" if base.endswith(".") else "."
            found.append((node.lineno, [base, *(f"{base}{joiner}{a.name}" for a in node.names if a.name != "*")]))
    return sorted(found)


def is_test_module(name: str) -> bool:
    """Whether the dotted ``name`` is (inside) a test module or a conftest."""
    return any(part.startswith("test_") or part == "conftest" for part in name.split("."))


def offending_imports(path: Path, root: Path = REPO) -> list[str]:
    """``file:line`` and what is wrong, for each import in ``path`` of a test module or
    conftest, or of tests/helpers/ spelt ``helpers``."""
    bad = []
    for line, names in import_statements(path.read_text()):
        where = f"{path.relative_to(root)}:{line}"
        tests = [name for name in names if is_test_module(name)]
        if tests:
            bad.append(f"{where} imports {tests[0]}: move what it shares to tests/helpers/")
        elif any(name.split(".")[0] == "helpers" for name in names):
            bad.append(f"{where} imports {names[0]}: spell it tests.helpers")
    return bad


def test_no_test_module_imports_another_or_conftest():
    files = sorted(TESTS.rglob("*.py"))
    assert TESTS / "conftest.py" in files and TESTS / "helpers" / "cli.py" in files
    bad = [msg for path in files for msg in offending_imports(path)]
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize(
    "source, offending",
    [
        ("from tests.test_configs import _compose", ["tests.test_configs"]),
        ("from tests.conftest import REPO", ["tests.conftest"]),
        ("import os, conftest", ["conftest"]),
        ("from tests import helpers, test_evaluate_cli", ["tests.test_evaluate_cli"]),
        ("def f():\n    from test_release import release\n", ["test_release"]),
        ("from . import test_x", [".test_x"]),
        ("from tests.helpers.cli import run_cli\nimport tests.helpers.configs\nfrom data.testing import x", []),
    ],
    ids=["from-test-module", "from-conftest", "import-conftest", "from-tests-import", "inside-function", "relative",
         "allowed"],
)
def test_the_check_finds_every_spelling(source, offending):
    found = [next(n for n in names if is_test_module(n)) for _, names in import_statements(source)
             if any(is_test_module(n) for n in names)]  # fmt: skip
    assert found == offending


def test_the_check_names_file_and_line(tmp_path):
    path = tmp_path / "tests" / "test_a.py"
    path.parent.mkdir()
    path.write_text("import os\n\nfrom helpers.cli import run_cli\nfrom tests.test_b import x\nimport tests.helpers\n")
    assert offending_imports(path, root=tmp_path) == [
        "tests/test_a.py:3 imports helpers.cli: spell it tests.helpers",
        "tests/test_a.py:4 imports tests.test_b: move what it shares to tests/helpers/",
    ]
