"""The package layout and the layering of DESIGN.md §1 / STYLE.md rule 13, read from the imports.

Installed, the repository's folders live under ``bitsmith`` (``setup.py``), so every
absolute import of project code must name ``bitsmith.<folder>``; a bare ``import hw``
would only work from a source checkout. ``hw`` never imports ``generator``; ``sim`` and
``boards`` import only the generator's core (errors, IR, registry).
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("generator", "hw", "sim", "boards", "templates")
CORE = ("bitsmith.generator.errors", "bitsmith.generator.ir", "bitsmith.generator.registry")


def _sources():
    for folder in FOLDERS + ("bitsmith",):
        yield from sorted((ROOT / folder).rglob("*.py"))


def _absolute_imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.append((node.lineno, node.module))
    return out


def _resolved_imports(path: Path) -> list[tuple[int, str]]:
    """Absolute and relative imports as absolute ``bitsmith.*`` module names."""
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    package = (["bitsmith"] if parts[0] != "bitsmith" else []) + parts[:-1]
    if parts[-1] == "__init__":
        package = (["bitsmith"] if parts[0] != "bitsmith" else []) + parts[:-1]
    tree = ast.parse(path.read_text(), filename=str(path))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module
            out.append((node.lineno, name))
    return out


@pytest.mark.parametrize("path", list(_sources()), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_generic_top_level_import(path):
    bad = [f"line {n}: {name}" for n, name in _absolute_imports(path) if name.split(".")[0] in FOLDERS]
    assert not bad, f"{path.relative_to(ROOT)} imports a top-level folder instead of bitsmith.*: {bad}"


def _imports_of(folder: str) -> list[str]:
    out = []
    for path in sorted((ROOT / folder).rglob("*.py")):
        for n, name in _resolved_imports(path):
            out.append((f"{path.relative_to(ROOT)}:{n}", name))
    return out


def test_hw_never_imports_generator():
    bad = [f"{where} {name}" for where, name in _imports_of("hw") if name.startswith("bitsmith.generator")]
    assert not bad, bad


@pytest.mark.parametrize("folder", ["sim", "boards"])
def test_sim_and_boards_import_only_the_generator_core(folder):
    bad = [f"{where} {name}" for where, name in _imports_of(folder)
           if name.startswith("bitsmith.generator") and not name.startswith(CORE)]
    assert not bad, bad


def test_installation_puts_nothing_generic_on_the_path(tmp_path):
    """Outside the checkout, ``bitsmith.hw`` imports and a bare ``hw`` does not."""
    code = ("import importlib.util as u, bitsmith.hw.top, bitsmith.generator.cli, bitsmith.templates; "
            f"print([n for n in {FOLDERS!r} if u.find_spec(n) is not None])")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                         env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
