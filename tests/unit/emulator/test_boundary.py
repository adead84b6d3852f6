"""The product never imports the emulator; only its CLI commands do, lazily."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[3] / "src" / "switchboard"


def _imports(tree: ast.AST) -> list[tuple[str, ast.AST]]:
    found: list[tuple[str, ast.AST]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.append((node.module, node))
        elif isinstance(node, ast.Import):
            found.extend((alias.name, node) for alias in node.names)
    return found


def test_no_product_module_imports_the_emulator() -> None:
    offenders = []
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC)
        if rel.parts[0] == "emulator" or rel == Path("cli/emulator_commands.py"):
            continue
        for module, _node in _imports(ast.parse(path.read_text())):
            if module.startswith("switchboard.emulator"):
                offenders.append(str(rel))
    assert offenders == []


def test_emulator_commands_import_the_emulator_only_inside_functions() -> None:
    tree = ast.parse((SRC / "cli" / "emulator_commands.py").read_text())
    top_level = [
        module
        for node in tree.body
        for module, _n in _imports(node)
        if isinstance(node, ast.Import | ast.ImportFrom)
    ]
    assert not [m for m in top_level if m.startswith("switchboard.emulator")]
