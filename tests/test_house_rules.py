"""The house rules a newcomer relies on, checked on every run: the tests tree mirrors the packages,
no module imports another module's private names, and modules and functions stay small enough to
read in one sitting. (Complexity is ruff's C901, configured in pyproject.toml.)"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.support.env import REPO, TESTS

PACKAGES = ("vault", "importers", "exporters")
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 60


def sources(*roots: str) -> list[Path]:
    return sorted(p for root in roots for p in (REPO / root).rglob("*.py"))


def test_every_test_folder_names_a_package():
    """tests/<pkg>/<sub>/ exists only where <pkg>/<sub>/ does: a test's place says what it tests."""
    strays = []
    for folder in (p for p in TESTS.rglob("*") if p.is_dir()):
        rel = folder.relative_to(TESTS)
        if rel.parts[0] not in PACKAGES or "__pycache__" in rel.parts:
            continue
        if not (REPO / rel).is_dir():
            strays.append(str(rel))
    assert strays == []


def test_test_files_live_in_the_tree():
    """Only this file and conftest.py sit at the top of tests/; every other test is filed by package."""
    assert sorted(p.name for p in TESTS.glob("test_*.py")) == [Path(__file__).name]


def _private_imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    found.append(f"{path.relative_to(REPO)}:{node.lineno} imports {alias.name} from {'.' * node.level}{node.module or ''}")
    return found


def test_no_module_imports_another_modules_private_names():
    found = [hit for path in sources(*PACKAGES, "bench") for hit in _private_imports(path)]
    assert found == []


@pytest.mark.parametrize("root", [*PACKAGES, "bench"])
def test_modules_stay_under_the_line_limit(root):
    long = {str(p.relative_to(REPO)): n for p in sources(root) if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES}
    assert long == {}


def test_functions_stay_short():
    long = []
    for path in sources(*PACKAGES):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1
                if n > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(REPO)}:{node.lineno} {node.name} ({n} lines)")
    assert long == []
