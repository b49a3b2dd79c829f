"""Failure fixtures: each tests/invalid/<case>/ holds a broken project and its exact diagnostics."""

from __future__ import annotations

from pathlib import Path

import pytest
from eventspec.loader import load_project

CASES = sorted(p for p in (Path(__file__).parent / "invalid").iterdir() if p.is_dir())


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_invalid_project_reports_exactly_the_expected_diagnostics(case: Path) -> None:
    project, diagnostics = load_project(case / "eventspec.yaml")
    expected = (case / "expected.txt").read_text(encoding="utf-8").splitlines()
    assert project is None
    assert expected, "a failure fixture must expect at least one diagnostic"
    assert "\n".join(d.render() for d in diagnostics).splitlines() == expected


def test_there_are_enough_fixtures() -> None:
    assert len(CASES) >= 35
