"""The column mapping: one table definition per resource and event log, built from the IR.

``models.py`` renders these definitions as Python source and the migration planner turns the very
same definitions into snapshots and SQLAlchemy ``Table`` objects, so models and migrations cannot
disagree. Column types come from the one type table (:mod:`eventspec.typemap`), defaults from the
one default renderer (:mod:`eventspec.defaults`).
"""

from __future__ import annotations

from . import ir
from .defaults import default_source, server_default_of
from .printer import py
from .pyfmt import Call, Expr
from .table_model import ColumnDef as ColumnDef
from .table_model import ForeignKeyDef as ForeignKeyDef
from .table_model import IndexDef as IndexDef
from .table_model import TableDef as TableDef
from .table_model import UniqueDef as UniqueDef
from .typemap import SUPPORT, ColumnType, Import, column_type
from .typemap import sa_type as sa_type  # the migrations read a column's type through here

NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

_ON_DELETE = {"cascade": "CASCADE", "restrict": "RESTRICT", "set_null": "SET NULL"}


def default_of(default: ir.Default | None, type_: ir.TypeRef) -> tuple[Expr | None, set[Import]]:
    """The Python-side default (``default=`` of ``mapped_column``) and the imports it needs."""
    if default is None or (default.kind == "literal" and default.value is None):
        return None, set()
    source = default_source(default, type_)
    return source.text, set(source.imports)


# --- tables -----------------------------------------------------------------------------------


def table_defs(project: ir.Project) -> tuple[TableDef, ...]:
    """Every table of the project (resources, event logs, checkpoints), sorted by table name."""
    tables = [resource_table(project, r) for r in project.resources]
    tables += [event_log_table(log) for log in project.event_logs]
    tables += [subject_keys_table(log) for log in project.event_logs if log.personal_data]
    tables += [table for log in project.event_logs if log.archive for table in snapshot_tables(log)]
    if followed_logs(project):
        tables.append(checkpoint_table())
    return tuple(sorted(tables, key=lambda t: t.name))


def resource_table(project: ir.Project, resource: ir.Resource) -> TableDef:
    columns: list[ColumnDef] = []
    for attr in resource.attributes:
        ctype = column_type(
            attr.type,
            table=resource.table,
            column=attr.name,
            max_length=attr.constraints.max_length,
            primary_key=attr.primary_key,
        )
        default, imports = default_of(attr.default, attr.type)
        onupdate, more = default_of(attr.update_default, attr.type)
        columns.append(
            ColumnDef(
                name=attr.name,
                key=attr.name,
                type=ctype,
                nullable=attr.allow_nil and not attr.primary_key,
                primary_key=attr.primary_key,
                default=default,
                onupdate=onupdate,
                server_default=server_default_of(attr.default, attr.type),
                foreign_key=_foreign_key(project, resource, attr),
                renamed_from=attr.renamed_from,
                imports=frozenset(imports | more),
            )
        )
    uniques = tuple(
        UniqueDef(f"uq_{resource.table}_{identity.name}", resource.identity_keys(identity))
        for identity in resource.identities
    )
    return TableDef(
        name=resource.table,
        class_name=resource.name,
        columns=tuple(columns),
        uniques=tuple(sorted(uniques, key=lambda u: u.name)),
        renamed_from=resource.renamed_from,
        source=resource.origin.source.name,
    )


def _foreign_key(
    project: ir.Project, resource: ir.Resource, attr: ir.Attribute
) -> ForeignKeyDef | None:
    if attr.belongs_to is None:
        return None
    rel = next(r for r in resource.relationships if r.name == attr.belongs_to)
    destination = project.resource(rel.destination)
    assert destination is not None, f"unknown destination {rel.destination}"
    column = rel.destination_attribute or (
        destination.primary_key.name if destination.primary_key else "id"
    )
    name = f"fk_{resource.table}_{attr.name}_{destination.table}"
    ondelete = _ON_DELETE[rel.on_delete] if rel.on_delete else None
    return ForeignKeyDef(name, destination.table, column, ondelete)


def event_log_table(log: ir.EventLog) -> TableDef:
    table = log.table
    if log.primary_key_type == "uuidv7":
        id_column = ColumnDef(
            "id",
            "id",
            column_type(ir.TypeRef("uuid"), table=table, column="id"),
            nullable=False,
            primary_key=True,
            default="uuidv7",
            imports=frozenset({(SUPPORT, "uuidv7")}),
        )
    else:
        id_type = column_type(ir.TypeRef("big_integer"), table=table, column="id", primary_key=True)
        id_column = ColumnDef(
            "id", "id", id_type, nullable=False, primary_key=True, autoincrement=True
        )
    record_ir = {"uuid": "uuid", "integer": "big_integer", "string": "string"}[log.record_id_type]

    def plain(name: str, type_name: str) -> ColumnDef:
        ctype = column_type(ir.TypeRef(type_name), table=table, column=name)
        return ColumnDef(name, name, ctype, nullable=False)

    if log.encryption_key_env is not None:
        map_type = ColumnType(
            Call("EncryptedJSON", [py(log.encryption_key_env)]),
            "dict[str, Any]",
            frozenset({(SUPPORT, "EncryptedJSON"), ("typing", "Any")}),
            {"type": "binary"},
        )
    else:
        map_type = column_type(ir.TypeRef("map"), table=table, column="data")

    def json_map(name: str, key: str) -> ColumnDef:
        return ColumnDef(name, key, map_type, nullable=False, default="dict")

    columns = [
        id_column,
        plain("record_id", record_ir),
        ColumnDef(
            "version",
            "version",
            column_type(ir.TypeRef("integer"), table=table, column="version"),
            nullable=False,
            default="1",
            server_default="1",
        ),
        ColumnDef(
            "occurred_at",
            "occurred_at",
            column_type(ir.TypeRef("utc_datetime_usec"), table=table, column="occurred_at"),
            nullable=False,
            default="utcnow",
            imports=frozenset({(SUPPORT, "utcnow")}),
        ),
        plain("resource", "string"),
        plain("action", "string"),
        plain("action_type", "string"),
        json_map("data", "data"),
        json_map("metadata", "metadata_"),
        json_map("changed_attributes", "changed_attributes"),
    ]
    for actor in log.actors:
        ctype = column_type(actor.attribute_type, table=table, column=actor.name)
        columns.append(ColumnDef(actor.name, actor.name, ctype, nullable=actor.allow_nil))
    indexes = [
        IndexDef(f"ix_{table}_resource_record_id", ("resource", "record_id")),
        IndexDef(f"ix_{table}_occurred_at", ("occurred_at",)),
    ]
    indexes += [IndexDef(f"ix_{table}_{a.name}", (a.name,)) for a in log.actors]
    if log.personal_data:  # whose key encrypted the event's personal values (docs/privacy.md)
        columns.append(
            ColumnDef(
                "subject",
                "subject",
                column_type(ir.TypeRef("string"), table=table, column="subject"),
                nullable=True,
            )
        )
        # Covering what erase reads: the records an erased subject's events touched.
        indexes.append(IndexDef(f"ix_{table}_subject", ("subject", "resource", "record_id")))
    return TableDef(
        name=table,
        class_name=log.name,
        columns=tuple(columns),
        indexes=tuple(indexes),
        source=log.origin.source.name,
        partitioning=log.partitioning,
    )


# --- subject keys (crypto-shredding) ------------------------------------------------------------


def subject_keys_name(log: ir.EventLog) -> str:
    return f"{log.table}_subject_keys"


def subject_key_class(log: ir.EventLog) -> str:
    return f"{log.name}SubjectKey"


def subject_keys_table(log: ir.EventLog) -> TableDef:
    """``<events>_subject_keys``: one key per data subject, wrapped by the log's master key;
    erasing the subject sets ``wrapped_key`` to null (see docs/privacy.md)."""
    name = subject_keys_name(log)

    def column(key: str, type_name: str, nullable: bool = True, **extra: object) -> ColumnDef:
        ctype = column_type(ir.TypeRef(type_name), table=name, column=key)
        return ColumnDef(key, key, ctype, nullable=nullable, **extra)  # type: ignore[arg-type]

    return TableDef(
        name=name,
        class_name=subject_key_class(log),
        columns=(
            column("subject", "string", nullable=False, primary_key=True),
            column("wrapped_key", "binary"),
            column(
                "created_at",
                "utc_datetime_usec",
                nullable=False,
                default="utcnow",
                imports=frozenset({(SUPPORT, "utcnow")}),
            ),
            column("erased_at", "utc_datetime_usec"),
            column("erased_by", "string"),
            column("reason", "text"),
        ),
        source=log.origin.source.name,
    )


# --- snapshots of archived logs ------------------------------------------------------------------


def snapshot_table_names(log: ir.EventLog) -> tuple[str, str]:
    """The tables of an archived log's snapshots: the headers, and their rows."""
    return (f"{log.table}_snapshots", f"{log.table}_snapshot_rows")


def snapshot_class_names(log: ir.EventLog) -> tuple[str, str]:
    return (f"{log.name}Snapshot", f"{log.name}SnapshotRow")


def snapshot_tables(log: ir.EventLog) -> tuple[TableDef, TableDef]:
    """``<events>_snapshots``: one row per state snapshot, the state after ``last_event_id``;
    ``<events>_snapshot_rows``: its rows, one JSON object per tracked record (encrypted with the
    log's keys when the log is encrypted, as its events are)."""
    headers, rows = snapshot_table_names(log)
    header_class, row_class = snapshot_class_names(log)
    events = event_log_table(log)

    def typed(table: str, name: str, type_name: str, nullable: bool = False) -> ColumnDef:
        ctype = column_type(ir.TypeRef(type_name), table=table, column=name)
        return ColumnDef(name, name, ctype, nullable=nullable)

    key_type = column_type(ir.TypeRef("big_integer"), table=headers, column="id", primary_key=True)
    event_id = events.columns[0]
    header = TableDef(
        name=headers,
        class_name=header_class,
        columns=(
            ColumnDef("id", "id", key_type, nullable=False, primary_key=True, autoincrement=True),
            ColumnDef("last_event_id", "last_event_id", event_id.type, nullable=False),
            typed(headers, "last_occurred_at", "utc_datetime_usec"),
            typed(headers, "event_count", "big_integer"),
            typed(headers, "row_count", "big_integer"),
            typed(headers, "checksum", "string"),
            typed(headers, "taken_at", "utc_datetime_usec"),
            typed(headers, "archived_at", "utc_datetime_usec", nullable=True),
            typed(headers, "archive", "string", nullable=True),
        ),
        source=log.origin.source.name,
    )
    # No foreign key to the header: only the runtime writes and deletes these rows, each time
    # with their header, and its derived name would be over PostgreSQL's 63 bytes for most logs.
    row_key = column_type(ir.TypeRef("big_integer"), table=rows, column="snapshot_id")
    body = next(c for c in events.columns if c.name == "data")
    row = TableDef(
        name=rows,
        class_name=row_class,
        columns=(
            ColumnDef(
                "snapshot_id",
                "snapshot_id",
                row_key,
                nullable=False,
                primary_key=True,
            ),
            ColumnDef(
                "position",
                "position",
                column_type(ir.TypeRef("big_integer"), table=rows, column="position"),
                nullable=False,
                primary_key=True,
            ),
            typed(rows, "table_name", "string"),
            ColumnDef("row", "row", body.type, nullable=False, imports=body.imports),
            # Whose key sealed the row's personal values: how an erase finds archived records.
            *([typed(rows, "subject", "string", nullable=True)] if log.personal_data else []),
        ),
        indexes=(IndexDef(f"ix_{rows}_subject", ("subject",)),) if log.personal_data else (),
        source=log.origin.source.name,
    )
    return header, row


# --- consumer checkpoints -----------------------------------------------------------------------

CHECKPOINTS_TABLE = "eventspec_checkpoints"
CHECKPOINT_CLASS = "EventspecCheckpoint"


def followed_logs(project: ir.Project) -> tuple[ir.EventLog, ...]:
    """The logs ``<package>.log`` reads after a checkpoint: those with integer ids (a uuidv7 id
    is made by the writer, not by the database, so its order is not the order of commits)."""
    return tuple(log for log in project.event_logs if log.primary_key_type == "integer")


def checkpoint_table() -> TableDef:
    """``eventspec_checkpoints``: one row per named consumer, the id of the last event it did."""
    name = CHECKPOINTS_TABLE

    def type_of(column: str, type_name: str) -> ColumnType:
        return column_type(ir.TypeRef(type_name), table=name, column=column)

    return TableDef(
        name=name,
        class_name=CHECKPOINT_CLASS,
        columns=(
            ColumnDef("name", "name", type_of("name", "string"), nullable=False, primary_key=True),
            ColumnDef("position", "position", type_of("position", "big_integer"), nullable=False),
            ColumnDef(
                "updated_at",
                "updated_at",
                type_of("updated_at", "utc_datetime_usec"),
                nullable=False,
                default="utcnow",
                imports=frozenset({(SUPPORT, "utcnow")}),
            ),
        ),
        source="the eventspec runtime",
    )
