"""The module map stays true: every module says its job and docs/architecture.md lists it."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import boso

PACKAGE = Path(boso.__file__).parent
MODULES = sorted(
    p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts
)
ARCHITECTURE = PACKAGE.parents[1] / "docs" / "architecture.md"


def _rows() -> list[str]:
    return [
        line for line in ARCHITECTURE.read_text(encoding="utf-8").splitlines() if line[:2] == "| "
    ]


@pytest.mark.parametrize("module", MODULES)
def test_every_module_opens_with_a_docstring(module: str) -> None:
    tree = ast.parse((PACKAGE / module).read_text(encoding="utf-8"))
    doc = ast.get_docstring(tree)
    assert doc and len(doc.split()) >= 4, f"{module}: no docstring saying its job"


@pytest.mark.parametrize("module", [m for m in MODULES if not m.endswith("__init__.py")])
def test_every_module_has_a_line_in_architecture_md(module: str) -> None:
    folder, _, name = module.rpartition("/")
    for row in _rows():
        first_cell = row.split("|")[1]
        names = re.findall(r"`([^`]+)`", first_cell)
        if module in names:
            return
        # A row may name several modules of one folder: `reports/worker.py`, `runner.py`.
        if folder and name in names and any(n.startswith(f"{folder}/") for n in names):
            return
        if not folder and name in names and not any("/" in n for n in names):
            return
    pytest.fail(f"docs/architecture.md has no line for {module}")
