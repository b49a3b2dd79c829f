"""Loader behaviour: positions, documents, safe loading, schemas, and the IR of a valid project."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from eventspec.diagnostics import Origin
from eventspec.ir import TypeRef
from eventspec.loader import load_project, load_schema, read_documents

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
