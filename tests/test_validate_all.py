"""`validate` reports every error in one run: a document that fails its schema check is left out,
the others are still built and verified, and references into the left-out ones are not reported."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from eventspec.cli import main
from eventspec.loader import load_project

VALID = Path(__file__).parent / "fixtures" / "valid"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    shutil.copytree(VALID, tmp_path / "project")
    return tmp_path / "project"


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def _codes(project: Path) -> list[tuple[str, str]]:
    loaded, diagnostics = load_project(project / "eventspec.yaml")
    assert loaded is None
    return [(d.file, d.code) for d in diagnostics]


def _unknown_accept(project: Path) -> None:
    """A semantic error (ES214) in specs/user.yaml, independent of every other file."""
    _edit(project / "specs" / "user.yaml", "accept: [given_name]", "accept: [given_name, nick]")


def test_a_schema_error_and_a_semantic_error_in_other_files_show_together(project: Path) -> None:
    # Org (left out: unknown key) is the destination of User.org: no "unknown resource" follows.
    _edit(project / "specs" / "org.yaml", "name: Org\n", "name: Org\ncolour: red\n")
    _unknown_accept(project)
    assert _codes(project) == [("specs/org.yaml", "ES102"), ("specs/user.yaml", "ES214")]


def test_the_cli_exits_2_and_writes_nothing(project: Path) -> None:
    _edit(project / "specs" / "org.yaml", "name: Org\n", "name: Org\ncolour: red\n")
    _unknown_accept(project)
    before = sorted(p.relative_to(project) for p in project.rglob("*"))
    old = Path.cwd()
    os.chdir(project)
    try:
        runner = CliRunner()
        validated = runner.invoke(main, ["validate"], catch_exceptions=False)
        generated = runner.invoke(main, ["generate"], catch_exceptions=False)
    finally:
        os.chdir(old)
    for result in (validated, generated):
        assert result.exit_code == 2, result.output
        assert "specs/org.yaml:3:1: ES102" in result.output
        assert "specs/user.yaml" in result.output
        assert "ES214" in result.output
        assert "ES210" not in result.output
    assert sorted(p.relative_to(project) for p in project.rglob("*")) == before


def test_an_event_log_left_out_is_not_an_unknown_event_log(project: Path) -> None:
    _edit(project / "specs" / "event.yaml", "primary_key_type: integer", "primary_key_type: 7")
    _unknown_accept(project)
    # Three resources name the event log Event: none of them reports ES230.
    assert _codes(project) == [("specs/event.yaml", "ES104"), ("specs/user.yaml", "ES214")]


def test_an_actor_and_a_route_target_left_out_are_not_unknown(project: Path) -> None:
    # The event log's actor and replay override both name User, whose document is left out.
    _edit(project / "specs" / "user.yaml", "kind: resource\n", "kind: resource\nstatus: x\n")
    _edit(project / "specs" / "org.yaml", "accept: [name]}\n  update", "accept: [nme]}\n  update")
    assert _codes(project) == [("specs/org.yaml", "ES214"), ("specs/user.yaml", "ES102")]


def test_a_name_that_no_document_has_is_still_unknown(project: Path) -> None:
    _edit(project / "specs" / "org.yaml", "name: Org\n", "name: Org\ncolour: red\n")
    _edit(project / "specs" / "user.yaml", "destination: UserRole", "destination: UserRoles")
    assert _codes(project) == [("specs/org.yaml", "ES102"), ("specs/user.yaml", "ES210")]


def test_a_file_that_is_not_yaml_hides_reference_checks_only(project: Path) -> None:
    # Which names the broken file held cannot be known: no reference is called unknown, while
    # every other rule still runs on the files that were read.
    _edit(project / "specs" / "org.yaml", "name: Org\n", "name: [Org\n")
    _edit(project / "specs" / "user.yaml", "destination: UserRole", "destination: UserRoles")
    _unknown_accept(project)
    assert _codes(project) == [("specs/org.yaml", "ES001"), ("specs/user.yaml", "ES214")]


def test_a_document_without_a_readable_name_hides_reference_checks_only(project: Path) -> None:
    _edit(project / "specs" / "org.yaml", "name: Org\n", "name: 3\n")
    _unknown_accept(project)
    assert _codes(project) == [("specs/org.yaml", "ES103"), ("specs/user.yaml", "ES214")]


def test_config_errors_and_spec_schema_errors_show_together(project: Path) -> None:
    _edit(project / "eventspec.yaml", "output: src/accounts/data", "output: 5")
    _edit(project / "specs" / "org.yaml", "name: Org\n", "name: Org\ncolour: red\n")
    _unknown_accept(project)
    # Nothing is built without valid settings, so the semantic error waits for the next run.
    assert _codes(project) == [("eventspec.yaml", "ES103"), ("specs/org.yaml", "ES102")]


PROJECTS = [
    Path(__file__).parent / "golden" / "features",
    Path(__file__).parent / "golden" / "minimal",
    Path(__file__).parent / "golden" / "upcasting",
    Path(__file__).parent.parent / "examples" / "accounts",
]


def _documents() -> list[tuple[Path, str, int]]:
    """(project, spec file, index of a document in it) for every document of every project."""
    out = []
    for folder in PROJECTS:
        for path in sorted((folder / "specs").glob("*.yaml")):
            count = sum(1 for line in path.read_text().splitlines() if line.startswith("kind:"))
            out += [(folder, path.name, i) for i in range(count)]
    return out


@pytest.mark.parametrize(
    ("folder", "name", "index"),
    _documents(),
    ids=lambda v: v.name if isinstance(v, Path) else str(v),
)
def test_any_one_document_left_out_reports_only_its_own_error(
    tmp_path: Path, folder: Path, name: str, index: int
) -> None:
    project = tmp_path / "project"
    shutil.copytree(folder / "specs", project / "specs")
    shutil.copy(folder / "eventspec.yaml", project / "eventspec.yaml")
    path = project / "specs" / name
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    kinds = [i for i, line in enumerate(lines) if line.startswith("kind:")]
    lines.insert(kinds[index] + 1, "zz_unknown: 1\n")
    path.write_text("".join(lines), encoding="utf-8")
    assert _codes(project) == [(f"specs/{name}", "ES102")]


@pytest.mark.parametrize("folder", PROJECTS, ids=lambda p: p.name)
def test_any_one_file_that_is_not_yaml_reports_only_its_own_error(
    tmp_path: Path, folder: Path
) -> None:
    for path in sorted((folder / "specs").glob("*.yaml")):
        project = tmp_path / path.stem
        shutil.copytree(folder / "specs", project / "specs")
        shutil.copy(folder / "eventspec.yaml", project / "eventspec.yaml")
        (project / "specs" / path.name).write_text("kind: [resource\n", encoding="utf-8")
        assert _codes(project) == [(f"specs/{path.name}", "ES001")]
