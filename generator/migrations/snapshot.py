"""Schema snapshots: one sorted-key JSON file per table, as the applied migrations left it.

A snapshot is plain JSON data (``Snap``). It is built from a :class:`~eventspec.tables.TableDef`,
compared with the previous one by :mod:`.diff`, and turned into SQLAlchemy ``Table`` objects for
alembic's operation objects by :func:`to_table`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa

from ..tables import NAMING_CONVENTION, TableDef, sa_type

FORMAT = 1
Snap = dict[str, Any]


def snapshot_of(table: TableDef) -> Snap:
    """The snapshot a freshly created ``table`` would have."""
    columns = [
        {
            "name": c.name,
            "type": c.type.db,
            "nullable": c.nullable,
            "primary_key": c.primary_key,
            "autoincrement": c.autoincrement,
            "server_default": c.server_default,
        }
        for c in table.columns
    ]
    foreign_keys = [
        {
            "name": c.foreign_key.name,
            "columns": [c.name],
            "referred_table": c.foreign_key.table,
            "referred_columns": [c.foreign_key.column],
            "ondelete": c.foreign_key.ondelete,
        }
        for c in table.columns
        if c.foreign_key is not None
    ]
    return {
        "table": table.name,
        "columns": columns,
        "foreign_keys": sorted(foreign_keys, key=lambda f: f["name"]),
        "unique_constraints": sorted(
            ({"name": u.name, "columns": list(u.columns)} for u in table.uniques),
            key=lambda u: u["name"],
        ),
        "indexes": sorted(
            (
                {"name": i.name, "columns": list(i.columns), "unique": i.unique}
                for i in table.indexes
            ),
            key=lambda i: i["name"],
        ),
        "deferred": [],
    }


def content_hash(snap: Mapping[str, Any]) -> str:
    body = {k: v for k, v in snap.items() if k not in ("format", "hash")}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def dump(snap: Mapping[str, Any]) -> str:
    body = {k: v for k, v in snap.items() if k not in ("format", "hash")}
    document = {"format": FORMAT, "hash": content_hash(body), **body}
    return json.dumps(document, sort_keys=True, indent=2) + "\n"


class SnapshotError(ValueError):
    """A snapshot file that cannot be read: unknown format or edited by hand."""


def load(text: str, name: str) -> Snap:
    try:
        document: Snap = json.loads(text)
    except json.JSONDecodeError as error:
        raise SnapshotError(f"{name}: not valid JSON ({error})") from error
    if document.get("format") != FORMAT:
        raise SnapshotError(f"{name}: unknown snapshot format {document.get('format')!r}")
    if document.get("hash") != content_hash(document):
        raise SnapshotError(
            f"{name}: content does not match its hash (edited by hand?); restore it from version "
            "control, snapshots must describe what the migrations did"
        )
    return {k: v for k, v in document.items() if k not in ("format", "hash")}


def column(snap: Mapping[str, Any], name: str) -> dict[str, Any] | None:
    return next((c for c in snap["columns"] if c["name"] == name), None)


def to_column(data: Mapping[str, Any]) -> sa.Column[Any]:
    kwargs: dict[str, Any] = {"nullable": data["nullable"], "primary_key": data["primary_key"]}
    if data.get("autoincrement"):
        kwargs["autoincrement"] = True
    if data.get("server_default") is not None:
        kwargs["server_default"] = data["server_default"]
    return sa.Column(data["name"], sa_type(data["type"]), **kwargs)


def to_table(snap: Mapping[str, Any], metadata: sa.MetaData) -> sa.Table:
    items: list[Any] = [to_column(c) for c in snap["columns"]]
    for fk in snap["foreign_keys"]:
        refs = [f"{fk['referred_table']}.{col}" for col in fk["referred_columns"]]
        items.append(
            sa.ForeignKeyConstraint(fk["columns"], refs, name=fk["name"], ondelete=fk["ondelete"])
        )
    for unique in snap["unique_constraints"]:
        items.append(sa.UniqueConstraint(*unique["columns"], name=unique["name"]))
    for index in snap["indexes"]:
        items.append(sa.Index(index["name"], *index["columns"], unique=index["unique"]))
    return sa.Table(snap["table"], metadata, *items)


def metadata_of(snaps: Iterable[Mapping[str, Any]]) -> sa.MetaData:
    """The tables of ``snaps``, plus stand-ins for tables their foreign keys refer to."""
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
    ordered = sorted(snaps, key=lambda s: str(s["table"]))
    for snap in ordered:
        to_table(snap, metadata)
    for snap in ordered:
        for fk in snap["foreign_keys"]:
            if fk["referred_table"] not in metadata.tables:
                columns = [sa.Column(c, sa.Integer()) for c in fk["referred_columns"]]
                sa.Table(fk["referred_table"], metadata, *columns)
    return metadata
