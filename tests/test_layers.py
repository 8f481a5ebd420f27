"""The domain's packages import only what their docstrings say they may, and careplan/
never imports the interfaces (web/, where the CLI and the web app live)."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

CAREPLAN = Path(__file__).resolve().parent.parent / "careplan"
PACKAGES = sorted(p.name for p in CAREPLAN.iterdir() if (p / "__init__.py").exists())


def imported(path: Path) -> set[str]:
    """Every top-level module or careplan package a file imports."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def may_import(package: str) -> set[str]:
    doc = importlib.import_module(f"careplan.{package}").__doc__ or ""
    found = re.search(r"May import: ([^.]+)\.", doc)
    assert found, f"careplan/{package}/__init__.py does not say what it may import"
    return {name.strip() for name in found.group(1).split(",")}


@pytest.mark.parametrize("package", [p for p in PACKAGES if p != "models"])
def test_a_package_imports_only_what_its_docstring_allows(package: str):
    allowed = may_import(package)
    wrong = []
    for path in sorted((CAREPLAN / package).glob("*.py")):
        for module in imported(path):
            parts = module.split(".")
            if parts[0] == "careplan" and len(parts) > 1 and parts[1] not in allowed:
                wrong.append(f"{path.name} imports {module}")
    assert not wrong, wrong


def test_the_domain_never_imports_the_interfaces():
    wrong = [
        f"{path.relative_to(CAREPLAN)} imports {module}"
        for path in sorted(CAREPLAN.rglob("*.py"))
        for module in imported(path)
        if module.split(".")[0] in ("web", "fastapi", "starlette", "uvicorn")
    ]
    assert not wrong, wrong
