"""The CLI is click declarations over the commands layer, which never reaches back into it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

GENERATOR = Path(__file__).resolve().parent.parent / "generator"
COMMANDS = sorted((GENERATOR / "commands").glob("*.py"))


def imported(path: Path) -> list[tuple[str, list[str]]]:
    """``(module as written, names)`` of every import in the file, relative dots kept."""
    found: list[tuple[str, list[str]]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            module = "." * node.level + (node.module or "")
            found.append((module, [alias.name for alias in node.names]))
        elif isinstance(node, ast.Import):
            found += [(alias.name, []) for alias in node.names]
    return found


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: p.name)
def test_the_commands_layer_never_imports_the_cli(path: Path) -> None:
    for module, names in imported(path):
        assert module not in ("..cli", "eventspec.cli"), path.name
        assert not (module == ".." and "cli" in names), path.name


@pytest.mark.parametrize("cli", ["cli.py", "cli_data.py"])
def test_the_cli_imports_command_modules_not_private_names(cli: str) -> None:
    text = (GENERATOR / cli).read_text(encoding="utf-8")
    assert "noqa: E402" not in text
    for module, names in imported(GENERATOR / cli):
        assert not any(name.startswith("_") for name in names), (module, names)
        if module.startswith(".commands"):
            assert module == ".commands" and all(
                (GENERATOR / "commands" / f"{name}.py").exists() for name in names
            ), (module, names)


def test_every_command_module_is_under_400_lines() -> None:
    for path in [GENERATOR / "cli.py", GENERATOR / "cli_data.py", *COMMANDS]:
        assert len(path.read_text(encoding="utf-8").splitlines()) < 400, path.name
