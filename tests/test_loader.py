"""Loader behaviour: positions, documents, safe loading, schemas, and the IR of a valid project."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from eventspec.cli import main
from eventspec.diagnostics import Origin
from eventspec.ir import TypeRef
from eventspec.loader import (
    MAX_DEPTH,
    MAX_FILE_BYTES,
    MAX_NODES,
    load_project,
    load_schema,
    read_documents,
)

VALID = Path(__file__).parent / "fixtures" / "valid"


def _write(tmp_path: Path, text: str, name: str = "spec.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_nodes_keep_line_and_column(tmp_path: Path) -> None:
    path = _write(tmp_path, "kind: resource\nattributes:\n  email: {type: strng}\n")
    [document], diagnostics = read_documents(path, "spec.yaml")
    assert diagnostics == []
    assert document.source.locate(("attributes", "email", "type")) == (3, 17)
    assert document.source.locate_key(("attributes", "email")) == (3, 3)


def test_several_documents_per_file_skip_empty_ones(tmp_path: Path) -> None:
    path = _write(tmp_path, "---\nkind: a\n---\n# nothing\n---\nkind: b\n...\n")
    documents, diagnostics = read_documents(path, "spec.yaml")
    assert diagnostics == []
    assert [d.value for d in documents] == [{"kind": "a"}, {"kind": "b"}]
    assert documents[1].source.locate(("kind",)) == (6, 7)


def test_plain_values_keep_keys_as_written(tmp_path: Path) -> None:
    path = _write(tmp_path, "on: yes\n1: 2024-01-02\nnull: ~\nf: 1.5\n")
    [document], _ = read_documents(path, "spec.yaml")
    assert document.value == {"on": True, "1": "2024-01-02", "null": None, "f": 1.5}


def test_anchors_and_merge_keys(tmp_path: Path) -> None:
    text = "base: &b {type: string, allow_nil: false}\nname:\n  <<: *b\n  allow_nil: true\n"
    [document], diagnostics = read_documents(_write(tmp_path, text), "spec.yaml")
    assert diagnostics == []
    value: Any = document.value
    assert value["name"] == {"type": "string", "allow_nil": True}


def test_duplicate_keys_are_located_at_the_second_one(tmp_path: Path) -> None:
    path = _write(tmp_path, "a: 1\nb:\n  c: 1\n  c: 2\n")
    documents, diagnostics = read_documents(path, "spec.yaml")
    assert documents == []
    assert [d.render() for d in diagnostics] == [
        "spec.yaml:4:3: ES002 duplicate key 'c' (first defined at line 3)"
    ]


@pytest.mark.parametrize(
    "payload",
    [
        "!!python/object/apply:os.system ['touch {marker}']",
        "!!python/object/new:os.system ['touch {marker}']",
        "!!python/name:os.system",
    ],
)
def test_unsafe_tags_are_reported_and_never_executed(tmp_path: Path, payload: str) -> None:
    marker = tmp_path / "pwned"
    path = _write(tmp_path, "kind: resource\nname: " + payload.format(marker=marker) + "\n")
    documents, diagnostics = read_documents(path, "spec.yaml")
    assert documents == []
    assert [(d.line, d.col, d.code) for d in diagnostics] == [(2, 7, "ES003")]
    assert not marker.exists()


def test_syntax_errors_are_located(tmp_path: Path) -> None:
    path = _write(tmp_path, "a: 1\nb: [1, 2\nc: 3\n")
    _, [diagnostic] = read_documents(path, "spec.yaml")
    assert diagnostic.code == "ES001"
    assert diagnostic.line == 3


BILLION_LAUGHS = "".join(
    f"{name}: &{name} [{','.join([item] * 9)}]\n"
    for name, item in zip("abcdefghi", ['"lol"', *(f"*{c}" for c in "abcdefgh")], strict=True)
)


def _located(diagnostics: list[Any]) -> list[tuple[int, int, str]]:
    return [(d.line, d.col, d.code) for d in diagnostics]


def test_an_alias_bomb_is_refused_where_it_passes_the_limit(tmp_path: Path) -> None:
    assert len(BILLION_LAUGHS.encode()) < 400  # a few hundred bytes, 9**9 values expanded
    documents, diagnostics = read_documents(_write(tmp_path, BILLION_LAUGHS), "spec.yaml")
    assert documents == []
    # e holds 9**4 + ... values; f, on line 6, is the first anchor past 100,000
    assert _located(diagnostics) == [(6, 8, "ES006")]
    assert "100,000" in diagnostics[0].hint


def test_the_node_limit_counts_values_without_aliases_too(tmp_path: Path) -> None:
    path = _write(tmp_path, "[" + ", ".join(["1"] * MAX_NODES) + "]\n")
    _, diagnostics = read_documents(path, "spec.yaml")
    assert [d.code for d in diagnostics] == ["ES006"]
    path = _write(tmp_path, "[" + ", ".join(["1"] * (MAX_NODES - 1)) + "]\n")
    [document], diagnostics = read_documents(path, "spec.yaml")
    assert diagnostics == [] and len(document.value) == MAX_NODES - 1  # type: ignore[arg-type]


def test_nesting_beyond_the_limit_is_located_not_a_recursion_error(tmp_path: Path) -> None:
    path = _write(tmp_path, "a: " + "[" * 500 + "]" * 500 + "\n")
    documents, diagnostics = read_documents(path, "spec.yaml")
    assert documents == []
    assert _located(diagnostics) == [(1, 3 + MAX_DEPTH, "ES007")]  # the map is level 1
    text = "a: " + "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1) + "\n"
    [_document], diagnostics = read_documents(_write(tmp_path, text), "spec.yaml")
    assert diagnostics == []


def test_depth_counts_what_an_alias_brings_in(tmp_path: Path) -> None:
    half = MAX_DEPTH // 2 + 1
    text = f"a: &deep {'[' * half}{']' * half}\nb: {'[' * half}*deep{']' * half}\n"
    _, diagnostics = read_documents(_write(tmp_path, text), "spec.yaml")
    assert _located(diagnostics) == [(2, 4 + half, "ES007")]


@pytest.mark.parametrize("text", ["a: &x [1, *x]\n", "a: &x {b: {c: *x}}\n"])
def test_an_alias_inside_its_own_anchor_is_refused(tmp_path: Path, text: str) -> None:
    documents, diagnostics = read_documents(_write(tmp_path, text), "spec.yaml")
    assert documents == []
    assert [(d.line, d.code) for d in diagnostics] == [(1, "ES009")]
    assert "'*x'" in diagnostics[0].message


def test_anchors_do_not_leak_across_documents(tmp_path: Path) -> None:
    text = "a: &x [1, 2]\nb: *x\n---\nc: &x [3]\nd: *x\n"
    documents, diagnostics = read_documents(_write(tmp_path, text), "spec.yaml")
    assert diagnostics == []
    assert [d.value for d in documents] == [{"a": [1, 2], "b": [1, 2]}, {"c": [3], "d": [3]}]


def test_a_file_above_the_size_limit_is_refused_unread(tmp_path: Path) -> None:
    path = _write(tmp_path, "a: '" + "x" * MAX_FILE_BYTES + "'\n")
    documents, diagnostics = read_documents(path, "spec.yaml")
    assert documents == []
    assert _located(diagnostics) == [(1, 1, "ES008")]
    assert "1 MiB" in diagnostics[0].message
    path = _write(tmp_path, "a: '" + "x" * (MAX_FILE_BYTES - 10) + "'\n")
    [_document], diagnostics = read_documents(path, "spec.yaml")
    assert diagnostics == []


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("9" * 5000, "too many digits"),  # int() refuses it (CVE-2020-10735)
        ("0x" + "f" * 5000, "too many digits"),  # int() would take it, str() of it fails
        ("0x" + "f" * 4000, "too many digits"),  # short enough to read, 16,000 bits
        (":".join(["59"] * 300_000), "too many digits"),  # base 60, quadratic to build
        ("!!int abc", "not a valid value"),
        ("!!float abc", "not a valid value"),
        ("!!bool abc", "not a valid value"),
    ],
)
def test_scalars_that_cannot_be_read_are_located(tmp_path: Path, value: str, reason: str) -> None:
    path = _write(tmp_path, f"kind: resource\nmax: {value}\n")
    documents, diagnostics = read_documents(path, "spec.yaml")
    assert documents == []
    assert _located(diagnostics) == [(2, 6, "ES001")]
    assert diagnostics[0].message.endswith(reason)


def test_big_but_readable_integers_and_base_60_still_load(tmp_path: Path) -> None:
    path = _write(tmp_path, f"a: {'9' * 3000}\nb: 1:30\nc: 0x{'f' * 900}\n")
    [document], diagnostics = read_documents(path, "spec.yaml")
    assert diagnostics == []
    assert document.value == {"a": int("9" * 3000), "b": 90, "c": 16**900 - 1}


def test_spec_text_in_a_message_cannot_add_lines_or_colours(tmp_path: Path) -> None:
    (tmp_path / "specs").mkdir()
    (tmp_path / "eventspec.yaml").write_text("package: app.data\noutput: app/data\n")
    forged = "x\nspecs/ok.yaml:1:1: ES000 \x1b[32mall good\x00"
    text = f'kind: event_log\nname: Event\n"{forged.encode("unicode_escape").decode()}": 1\n'
    (tmp_path / "specs" / "log.yaml").write_text(text)
    _, [diagnostic] = load_project(tmp_path / "eventspec.yaml")
    assert diagnostic.code == "ES102" and forged in diagnostic.message
    line = diagnostic.render()
    assert "\n" not in line and line.isprintable()
    assert "unknown key 'x\\nspecs/ok.yaml:1:1: ES000 \\x1b[32mall good\\x00'" in line


def test_a_huge_value_is_shortened_in_messages(tmp_path: Path) -> None:
    (tmp_path / "specs").mkdir()
    (tmp_path / "eventspec.yaml").write_text("package: app.data\noutput: app/data\n")
    text = f"kind: event_log\nname: Event\nadvisory_lock_key_generator: '{'E' * 5000}'\n"
    (tmp_path / "specs" / "log.yaml").write_text(text)
    _, diagnostics = load_project(tmp_path / "eventspec.yaml")
    [message] = [d.message for d in diagnostics if d.code == "ES104"]
    assert f"'{'E' * 60}...' (5,000 characters)" in message and len(message) < 300


def test_unknown_keys_are_listed_up_to_a_hundred_per_map(tmp_path: Path) -> None:
    (tmp_path / "specs").mkdir()
    (tmp_path / "eventspec.yaml").write_text("package: app.data\noutput: app/data\n")
    keys = "".join(f"k{i}: {i}\n" for i in range(12_000))
    (tmp_path / "specs" / "log.yaml").write_text(f"kind: event_log\nname: Event\n{keys}")
    _, diagnostics = load_project(tmp_path / "eventspec.yaml")
    assert len(diagnostics) == 101 and {d.code for d in diagnostics} == {"ES102"}
    assert (
        diagnostics[0]
        .render()
        .startswith(
            "specs/log.yaml:1:1: ES102 11,900 more unknown keys in event log 'Event' (not listed)"
        )
    )
    assert "unknown key 'k99'" in diagnostics[-1].message


def test_validate_on_an_alias_bomb_exits_2_with_the_located_error(tmp_path: Path) -> None:
    (tmp_path / "specs").mkdir()
    (tmp_path / "eventspec.yaml").write_text("package: app.data\noutput: app/data\n")
    (tmp_path / "specs" / "bomb.yaml").write_text("kind: resource\n" + BILLION_LAUGHS)
    result = CliRunner().invoke(main, ["validate", "--config", str(tmp_path / "eventspec.yaml")])
    assert result.exit_code == 2, result.output
    assert result.output.startswith("specs/bomb.yaml:7:8: ES006 ")


def test_unreadable_config_is_a_diagnostic(tmp_path: Path) -> None:
    project, [diagnostic] = load_project(tmp_path / "eventspec.yaml")
    assert project is None
    assert diagnostic.code == "ES005"


@pytest.mark.parametrize("name", ["project", "resource", "event_log"])
def test_every_schema_property_has_a_description(name: str) -> None:
    missing: list[str] = []

    def walk(node: Any, where: str) -> None:
        if isinstance(node, dict):
            if node.get("type") == "object" or "properties" in node:
                assert node.get("additionalProperties") is not True, where
                if "properties" in node:
                    assert "additionalProperties" in node, f"{where} is open"
            for key, value in node.get("properties", {}).items():
                if "description" not in value:
                    missing.append(f"{where}.{key}")
            for key, value in node.items():
                if key not in ("if", "then"):  # conditions, not documented keys
                    walk(value, f"{where}.{key}")
        elif isinstance(node, list):
            for i, item in enumerate(node):
                walk(item, f"{where}[{i}]")

    walk(load_schema(name), name)
    assert missing == []


def test_valid_project_loads_into_the_expected_ir() -> None:
    project, diagnostics = load_project(VALID / "eventspec.yaml")
    assert [d.render() for d in diagnostics] == []
    assert project is not None
    assert project.package == "accounts.data"
    assert [r.name for r in project.resources] == ["Org", "User", "UserRole"]
    user = project.resource("User")
    assert user is not None and user.table == "users"
    assert user.attributes[-1].name == "org_id"
    assert user.attributes[-1].belongs_to == "org"
    assert user.attributes[-1].type == TypeRef("uuid")
    assert user.primary_key is not None and user.primary_key.name == "id"
    assert [a.name for a in user.tracked_actions()] == [
        "create",
        "create_upsert",
        "update",
        "destroy",
        "soft_destroy",
    ]
    create = user.action("create")
    assert create is not None
    assert [c.kind for c in create.changes] == [
        "set_attribute",
        "set_attribute",
        "call",
        "after_action",
    ]
    assert [v.kind for v in create.validations] == ["present", "match", "call"]
    assert user.events is not None and user.events.version_of("create") == 2
    assert user.events.strategy_of("update") == "as_arguments"
    org = project.resource("Org")
    assert org is not None
    assert org.relationships[0].destination_attribute == "org_id"
    role = project.resource("UserRole")
    assert role is not None and role.table == "user_roles"
    assert role.attribute("user_id") is not None
    [log] = project.event_logs
    assert (log.name, log.table, log.record_id_type) == ("Event", "events", "uuid")
    assert [(a.name, a.attribute_type.name, a.primary_key) for a in log.actors] == [
        ("user_id", "uuid", "id"),
        ("system_actor", "string", "name"),
    ]
    assert log.replay_overrides[0].route_to[0].action == "create_v1"
    assert isinstance(user.origin, Origin)
    assert user.origin.source.name == "specs/user.yaml"


def test_spec_order_does_not_matter(tmp_path: Path) -> None:
    import shutil

    shutil.copytree(VALID, tmp_path / "p")
    specs = tmp_path / "p" / "specs"
    (specs / "event.yaml").rename(specs / "zz_event.yaml")
    (specs / "nested").mkdir()
    (specs / "org.yaml").rename(specs / "nested" / "aa_org.yml")
    moved, diagnostics = load_project(tmp_path / "p" / "eventspec.yaml")
    original, _ = load_project(VALID / "eventspec.yaml")
    assert diagnostics == []
    assert moved is not None and original is not None
    assert moved.resources == original.resources
    assert moved.event_logs == original.event_logs
