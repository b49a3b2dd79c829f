"""Typed snapshots: committed files read and written back byte for byte, anything else refused."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from eventspec.loader import load_project
from eventspec.migrations import SnapshotError
from eventspec.migrations.snapshot import Table, content_hash, dump, load, snapshot_of
from eventspec.tables import table_defs

ROOT = Path(__file__).resolve().parent.parent
COMMITTED = sorted(
    p
    for folder in (ROOT / "examples", ROOT / "tests" / "golden", ROOT / "bench")
    for p in folder.rglob("migrations/snapshots/*.json")
)


def test_there_are_committed_snapshots_to_check() -> None:
    assert len(COMMITTED) >= 10


@pytest.mark.parametrize("path", COMMITTED, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_committed_snapshots_round_trip_byte_for_byte(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    table = load(text, path.name)
    assert dump(table) == text
    assert Table.from_json(table.to_json()) == table


def test_a_spec_table_survives_dump_and_load() -> None:
    project, diagnostics = load_project(ROOT / "tests" / "fixtures" / "valid" / "eventspec.yaml")
    assert project is not None, diagnostics
    for definition in table_defs(project):
        table = snapshot_of(definition)
        assert load(dump(table), "x.json") == table
        assert [c.type.to_json() for c in table.columns] == [c.type.db for c in definition.columns]


def _document(body: Any) -> str:
    if isinstance(body, dict):
        body = {"format": 1, "hash": content_hash(body), **body}
    return json.dumps(body)


def _valid_body() -> dict[str, Any]:
    text = next(p for p in COMMITTED if p.name == "events.json").read_text(encoding="utf-8")
    body: dict[str, Any] = json.loads(text)
    del body["format"], body["hash"]
    return body


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ([1, 2], "unknown snapshot format"),
        ("text", "unknown snapshot format"),
        ({"table": "t"}, "not a table snapshot"),
        (
            {
                "table": "t",
                "columns": 3,
                "foreign_keys": [],
                "unique_constraints": [],
                "indexes": [],
            },
            "not a table snapshot",
        ),
    ],
)
def test_a_snapshot_that_is_no_table_is_a_snapshot_error(body: Any, reason: str) -> None:
    with pytest.raises(SnapshotError, match=reason):
        load(_document(body), "t.json")


def test_a_snapshot_with_keys_eventspec_does_not_know_is_refused() -> None:
    # Read and written back, an unknown key would silently go: say so instead.
    body = _valid_body()
    body["columns"][0]["type"]["collation"] = "C"
    with pytest.raises(SnapshotError, match="does not read"):
        load(_document(body), "events.json")
    body = _valid_body()
    body["comment"] = "hi"
    with pytest.raises(SnapshotError, match="does not read"):
        load(_document(body), "events.json")
    body = _valid_body()
    body["columns"][0]["nullable"] = "yes"
    with pytest.raises(SnapshotError, match="does not read"):
        load(_document(body), "events.json")


def test_an_edited_snapshot_is_still_refused_by_its_hash() -> None:
    document = json.loads(_document(_valid_body()))
    document["columns"][0]["nullable"] = not document["columns"][0]["nullable"]
    with pytest.raises(SnapshotError, match="does not match its hash"):
        load(json.dumps(document), "events.json")
