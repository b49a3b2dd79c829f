"""Golden trees: the committed output of each case is exactly what generate produces, and it
passes ruff and mypy --strict."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from eventspec.loader import load_project
from eventspec.plan import drift, make_plan

from tests.golden_cases import CASES

BIN = Path(sys.executable).parent
RUFF_RULES = "E4,E7,E9,F,B,UP,W"


@pytest.mark.parametrize("case", sorted(CASES))
def test_generated_tree_is_current(case: str) -> None:
    project, diagnostics = load_project(CASES[case] / "eventspec.yaml")
    assert project is not None, [d.render() for d in diagnostics]
    changes = drift(make_plan(project))
    assert not changes, (
        "run `make golden` and review:\n" + "".join(changes.diff)[:5000] + str(changes)
    )


def package_dir(case: str) -> tuple[Path, str]:
    project, _ = load_project(CASES[case] / "eventspec.yaml")
    assert project is not None
    output = (project.root / project.output).resolve()
    parts = project.package.split(".")
    return output.parents[len(parts) - 1], parts[0]


@pytest.mark.parametrize("case", sorted(CASES))
def test_generated_code_passes_ruff(case: str) -> None:
    base, top = package_dir(case)
    for args in (
        ["check", "--isolated", "--select", RUFF_RULES, "--line-length", "100", top],
        ["format", "--isolated", "--line-length", "100", "--check", top],
        # What ruff reports with no configuration at all (a user's project): its default rules,
        # and import order as its isort sorts it.
        ["check", "--isolated", top],
        ["check", "--isolated", "--select", "I", top],
    ):
        result = subprocess.run([BIN / "ruff", *args], cwd=base, capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("case", sorted(CASES))
def test_generated_code_passes_mypy_strict(case: str) -> None:
    base, top = package_dir(case)
    result = subprocess.run(
        [BIN / "mypy", "--strict", "--no-incremental", "-p", top],
        cwd=base,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_flags_a_caller_passing_a_wrong_type(tmp_path: Path) -> None:
    base, _ = package_dir("accounts")
    caller = tmp_path / "caller.py"
    caller.write_text(
        "from sqlalchemy.orm import Session\n"
        "from accounts.data.actions import user as users\n\n\n"
        "def good(session: Session) -> None:\n"
        "    users.create(session, email='a@b.c', role='admin')\n\n\n"
        "def bad(session: Session) -> None:\n"
        "    users.create(session, email=42)\n"
        "    users.create(session, given_name='no email')\n"
        "    users.update(session, None, given_name='x')\n"
    )
    result = subprocess.run(
        [BIN / "mypy", "--strict", "--no-incremental", str(caller)],
        cwd=base,
        capture_output=True,
        text=True,
        env={"MYPYPATH": str(base), "PATH": str(BIN)},
    )
    errors = [line for line in result.stdout.splitlines() if ": error:" in line]
    assert [line.split(":")[1] for line in errors] == ["10", "11", "12"], result.stdout
