"""The event-schema lock and breaking-change detection, through the command line.

Each breaking kind: `generate` and `generate --check` and `validate` exit 2 with the located
error, and nothing is written; compatible changes pass and update the lock.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from eventspec.cli import main

CONFIG = "package: shop_data\noutput: shop_data\n"
LOG = """\
kind: event_log
name: Event
"""
ORG = """\
kind: resource
name: Org
attributes:
  id: {type: uuid, primary_key: true, default: uuid4, writable: false}
  name: {type: string, allow_nil: false}
  size: integer
  kind: {type: enum, values: [a, b]}
actions:
  create: {type: create, accept: [name, size, kind]}
  update: {type: update, accept: [name]}
  destroy: {type: destroy}
events:
  event_log: Event
  current_action_versions: {create: 2}
"""
LOCK = Path("migrations/event_schema.lock.json")


def run(project: Path, *args: str) -> Result:
    old = Path.cwd()
    try:
        os.chdir(project)
        return CliRunner().invoke(main, list(args), catch_exceptions=False)
    finally:
        os.chdir(old)


def tree(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "specs").mkdir()
    (tmp_path / "eventspec.yaml").write_text(CONFIG)
    (tmp_path / "specs" / "event.yaml").write_text(LOG)
    (tmp_path / "specs" / "org.yaml").write_text(ORG)
    result = run(tmp_path, "generate")
    assert result.exit_code == 0, result.output
    return tmp_path


def edit(project: Path, *replacements: tuple[str, str]) -> None:
    spec = project / "specs" / "org.yaml"
    text = spec.read_text()
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new)
    spec.write_text(text)


def lock(project: Path) -> dict[str, object]:
    document = json.loads((project / LOCK).read_text())
    events = document["event_logs"]["Event"]
    assert isinstance(events, dict)
    return events


CREATE = "  create: {type: create, accept: [name, size, kind]}\n"
BREAKS = {
    "input_removed": ("ES301", "specs/org.yaml:9:", [(CREATE, CREATE.replace("size, ", ""))]),
    "input_renamed_without_renamed_from": (
        "ES301",
        "specs/org.yaml:9:",
        [("  size: integer", "  headcount: integer"), ("name, size", "name, headcount")],
    ),
    "type_narrowed": ("ES302", "specs/org.yaml:9:", [("  size: integer", "  size: string")]),
    "enum_value_removed": ("ES302", "specs/org.yaml:9:", [("values: [a, b]", "values: [a]")]),
    "made_required": (
        "ES303",
        "specs/org.yaml:9:",
        [("  size: integer", "  size: {type: integer, allow_nil: false}")],
    ),
    "required_input_added": (
        "ES304",
        "specs/org.yaml:10:",
        [
            ("  size: integer", "  size: integer\n  code: {type: string, allow_nil: false}"),
            ("name, size, kind", "name, size, kind, code"),
        ],
    ),
    "action_removed": ("ES305", "specs/org.yaml:8:1:", [("  destroy: {type: destroy}\n", "")]),
    "action_renamed": ("ES305", "specs/org.yaml:8:1:", [("  update: {type", "  rename: {type")]),
    "resource_renamed": ("ES306", "specs/event.yaml:2:7:", [("name: Org", "name: Company")]),
    "version_lowered": ("ES307", "specs/org.yaml:14:", [("{create: 2}", "{create: 1}")]),
    "action_type_reused": (
        "ES308",
        "specs/org.yaml:10:",
        [("update: {type: update, accept: [name]}", "update: {type: destroy}")],
    ),
}


@pytest.mark.parametrize("kind", sorted(BREAKS))
def test_a_breaking_change_is_a_located_error_and_nothing_is_written(
    project: Path, kind: str
) -> None:
    code, location, replacements = BREAKS[kind]
    edit(project, *replacements)
    before = tree(project)
    for args in (("generate",), ("generate", "--check"), ("generate", "--dry-run"), ("validate",)):
        result = run(project, *args)
        assert result.exit_code == 2, (args, result.output)
        line = next(x for x in result.output.splitlines() if f": {code} " in x)
        assert line.startswith(location), line
        assert "--accept-breaking " + code in result.output  # the hint names the ways out
        assert "nothing was written" in result.output
    assert tree(project) == before


def test_a_removed_resource_is_located_at_its_event_log(project: Path) -> None:
    (project / "specs" / "org.yaml").unlink()
    result = run(project, "generate")
    assert result.exit_code == 2
    assert result.output.startswith("specs/event.yaml:2:7: ES306 resource Org has recorded events")


def test_accepting_a_break_is_loud_and_drops_the_lock_entries(project: Path) -> None:
    edit(project, ("  destroy: {type: destroy}\n", ""))
    result = run(project, "generate", "--accept-breaking", "ES305")
    assert result.exit_code == 0, result.output
    assert "warning: accepted breaking change ES305" in result.output
    assert "destroy" not in lock(project)["Org"]  # type: ignore[operator]
    assert run(project, "generate", "--check").exit_code == 0  # the break is settled


def test_accepting_another_code_does_not_accept_this_one(project: Path) -> None:
    edit(project, ("  destroy: {type: destroy}\n", ""))
    assert run(project, "generate", "--accept-breaking", "ES301").exit_code == 2


COMPATIBLE = {
    "optional_input_added": [
        ("  size: integer", "  size: integer\n  note: text"),
        ("name, size, kind", "name, size, kind, note"),
    ],
    "action_added": [
        ("  destroy: {type: destroy}\n", "  destroy: {type: destroy}\n  touch: {type: update}\n")
    ],
    "type_widened": [
        ("  size: integer", "  size: big_integer"),
        ("values: [a, b]", "values: [a, b, c]"),
    ],
    "renamed_with_renamed_from": [
        ("  size: integer", "  headcount: {type: integer, renamed_from: size}"),
        ("name, size", "name, headcount"),
    ],
    "bump_with_legacy_route": [
        (CREATE, CREATE.replace("size, ", "") + CREATE.replace("create:", "create_v2:")),
        ("{create: 2}", "{create: 3}\n  ignore_actions: [create_v2]"),
    ],
    "bump_with_upcaster": [
        (CREATE, CREATE.replace("size, ", "")),
        (
            "{create: 2}",
            "{create: 3}\n  upcasters:\n    create:\n"
            "      - from_version: 2\n        steps: [{move: {key: size, to: changed_attributes}}]",
        ),
    ],
    "optional_argument_added_to_an_update": [
        (
            "update: {type: update, accept: [name]}",
            "update: {type: update, accept: [name], arguments: {reason: string}}",
        ),
    ],
}


@pytest.mark.parametrize("kind", sorted(COMPATIBLE))
def test_a_compatible_change_passes_and_updates_the_lock(project: Path, kind: str) -> None:
    if kind == "bump_with_legacy_route":
        route = (
            "replay_overrides:\n  - resource: Org\n    action: create\n    versions: [2]\n"
            "    route_to: [{resource: Org, action: create_v2}]\n"
        )
        (project / "specs" / "event.yaml").write_text(LOG + route)
    before = lock(project)
    edit(project, *COMPATIBLE[kind])
    result = run(project, "generate")
    assert result.exit_code == 0, result.output
    assert "warning" not in result.output
    after = lock(project)
    assert after != before
    # Every version recorded before is still there.
    for action, versions in before["Org"].items():  # type: ignore[attr-defined]
        assert set(versions) <= set(after["Org"][action])  # type: ignore[index]
    assert run(project, "generate", "--check").exit_code == 0


def test_the_lock_records_contracts_routes_and_upcasts(project: Path) -> None:
    edit(project, *COMPATIBLE["bump_with_upcaster"])
    assert run(project, "generate").exit_code == 0
    create = lock(project)["Org"]["create"]  # type: ignore[index]
    assert sorted(create) == ["2", "3"]
    assert create["2"]["upcast_to"] == 3
    assert create["2"]["inputs"]["size"] == {
        "allow_nil": True,
        "default": False,
        "kind": "attribute",
        "required": False,
        "sensitive": False,
        "type": "integer",
    }
    assert "size" not in create["3"]["inputs"]
    assert create["3"]["inputs"]["kind"]["type"] == {"enum": ["a", "b"]}


def test_a_project_without_a_lock_gets_one_silently(project: Path) -> None:
    (project / LOCK).unlink()
    edit(project, ("  size: integer", "  size: string"))  # no lock: nothing to break
    result = run(project, "generate")
    assert result.exit_code == 0, result.output
    assert (project / LOCK).exists()


def test_a_hand_edited_lock_is_an_error(project: Path) -> None:
    path = project / LOCK
    path.write_text(path.read_text().replace('"integer"', '"string"'))
    result = run(project, "validate")
    assert result.exit_code == 2
    assert "ES300" in result.output and "edited by hand" in result.output


def test_the_lock_is_deterministic(project: Path) -> None:
    first = (project / LOCK).read_bytes()
    (project / LOCK).unlink()
    assert run(project, "generate").exit_code == 0
    assert (project / LOCK).read_bytes() == first
    assert first.decode().startswith('{\n  "event_logs": {')


RENAMED = [
    ("  size: integer", "  headcount: {type: integer, renamed_from: size}"),
    ("name, size", "name, headcount"),
]


def test_the_lock_remembers_names_events_were_recorded_under(project: Path) -> None:
    edit(project, *RENAMED)
    assert run(project, "generate").exit_code == 0
    inputs = lock(project)["Org"]["create"]["2"]["inputs"]  # type: ignore[index]
    assert inputs["headcount"]["recorded_as"] == ["size"]


@pytest.mark.parametrize(
    "second",
    [
        # A second rename: renamed_from holds one name, so events recorded as 'size' are orphaned.
        (
            "headcount: {type: integer, renamed_from: size}",
            "staff: {type: integer, renamed_from: headcount}",
        ),
        # Dropping renamed_from once the column is migrated: the same.
        ("headcount: {type: integer, renamed_from: size}", "headcount: integer"),
    ],
    ids=["renamed_again", "renamed_from_dropped"],
)
def test_events_recorded_before_a_rename_keep_needing_it(
    project: Path, second: tuple[str, str]
) -> None:
    edit(project, *RENAMED)
    assert run(project, "generate").exit_code == 0
    edit(project, second, ("name, headcount", "name, staff") if "staff" in second[1] else ("", ""))
    result = run(project, "generate")
    assert result.exit_code == 2, result.output
    assert "was recorded as 'size' before a rename" in result.output
