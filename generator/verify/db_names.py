"""Database names the generator derives from a spec, checked where they land.

Every table, column, constraint, index, enum type and sequence name fits PostgreSQL's 63 bytes
(ES272), no two are equal ignoring case (ES273), tables avoid the names SQLite and alembic own
(ES274), and no two tables differ only in case (ES275).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, replace

from ..diagnostics import Diagnostic, Origin, at
from ..ir import EventLog, Project, Resource
from ..tables import (
    NAMING_CONVENTION,
    TableDef,
    event_log_table,
    resource_table,
    snapshot_tables,
)
from .common import Rule, node_at

PG_MAX_IDENTIFIER = 63  # bytes: PostgreSQL's NAMEDATALEN - 1
ALEMBIC_VERSION_TABLE = "alembic_version"
RENAMED_ENUM_SUFFIX = "_old"  # a migration that drops enum values renames the type to this first


@dataclass(frozen=True)
class DbName:
    name: str
    what: str
    origin: Origin
    steps: tuple[str | int, ...] = ()
    key: bool = False
    namespace: str = ""  # "" for names PostgreSQL keeps per table (columns, foreign keys)
    table: str = ""
    covered_by: str = ""  # a name this one extends: when that is too long, only it is reported


def _table_origin(unit: Resource | EventLog) -> tuple[Origin, tuple[str, ...]]:
    return unit.origin, (("table",) if node_at(unit.origin, "table") else ("name",))


def _db_names(project: Project) -> Iterator[DbName]:
    units: list[Resource | EventLog] = [*project.resources, *project.event_logs]
    for unit in units:
        table = _table_def(project, unit)
        if table is not None:
            yield from (replace(n, table=table.name) for n in _table_names(unit, table))
    for log in (log for log in project.event_logs if log.archive):
        headers, rows = snapshot_tables(log)
        for table in (headers, rows):
            for name in _table_names(log, table):
                if not name.what.startswith("sequence of"):  # as the log's id: not for these
                    yield replace(name, table=table.name)
        yield DbName(
            f"{headers.name}_id_seq",
            f"sequence of column '{headers.name}.id'",
            *_table_origin(log),
            namespace="relation",
            table=headers.name,
        )


def _table_names(unit: Resource | EventLog, table: TableDef) -> Iterator[DbName]:
    origin, steps = _table_origin(unit)
    yield DbName(table.name, f"table '{table.name}'", origin, steps, namespace="relation")
    yield DbName(
        NAMING_CONVENTION["pk"] % {"table_name": table.name},
        f"primary key constraint of table '{table.name}'",
        origin,
        steps,
    )
    for column in table.columns:
        where, column_steps = _column_origin(unit, column.name)
        yield DbName(
            column.name,
            f"column '{table.name}.{column.name}'",
            where,
            column_steps,
            key=True,
            namespace=f"column:{table.name.casefold()}",
        )
        enum = column.type.db.get("name") if column.type.db.get("type") == "enum" else None
        if enum:
            what = f"enum type '{enum}' of column '{table.name}.{column.name}'"
            yield DbName(enum, what, where, column_steps, key=True, namespace="relation")
            yield DbName(
                f"{enum}{RENAMED_ENUM_SUFFIX}",
                f"{what}, while a migration replaces it",
                where,
                column_steps,
                key=True,
                covered_by=enum,
            )
        if column.primary_key and _sequenced(unit, column.name):
            yield DbName(
                f"{table.name}_{column.name}_seq",
                f"sequence of column '{table.name}.{column.name}'",
                where,
                column_steps,
                key=True,
                namespace="relation",
            )
        if column.foreign_key is not None:
            yield DbName(
                column.foreign_key.name,
                f"foreign key constraint of column '{table.name}.{column.name}'",
                where,
                column_steps,
                key=True,
            )
    for unique in table.uniques:
        identity = unique.name.removeprefix(f"uq_{table.name}_")
        yield DbName(
            unique.name,
            f"unique constraint of identity '{identity}'",
            unit.origin,
            ("identities", identity),
            key=True,
            namespace="relation",
        )
    for index in table.indexes:
        where, index_steps = _column_origin(unit, index.columns[-1])
        if index.columns[-1] in ("occurred_at", "record_id"):
            where, index_steps = origin, steps
        yield DbName(
            index.name,
            f"index '{index.name}'",
            where,
            index_steps,
            key=bool(index_steps and index_steps[0] != "name" and index_steps[0] != "table"),
            namespace="relation",
        )


def _sequenced(unit: Resource | EventLog, column: str) -> bool:
    if isinstance(unit, EventLog):
        return unit.primary_key_type == "integer"
    attribute = unit.attribute(column)
    return (
        attribute is not None
        and attribute.default is None
        and attribute.type.name in ("integer", "big_integer")
    )


def _column_origin(unit: Resource | EventLog, column: str) -> tuple[Origin, tuple[str, ...]]:
    if isinstance(unit, EventLog):
        actor = next((a for a in unit.actors if a.name == column), None)
        return (actor.origin, ()) if actor else _table_origin(unit)
    attribute = unit.attribute(column)
    if attribute is None:
        return _table_origin(unit)
    return attribute.origin, ()


def _table_def(project: Project, unit: Resource | EventLog) -> TableDef | None:
    if isinstance(unit, EventLog):
        return event_log_table(unit)
    for rel in unit.relationships:
        if rel.type == "belongs_to" and project.resource(rel.destination) is None:
            return None  # reported as ES210; the foreign key has no name yet
    # Defaults name nothing, and an invalid one is ES280: leave them out of the table.
    plain = tuple(replace(a, default=None, update_default=None) for a in unit.attributes)
    return resource_table(project, replace(unit, attributes=plain))


def database_names(project: Project) -> Iterator[Diagnostic]:
    # A name Python reads as another one is ES270 already.
    names = sorted(
        (n for n in _db_names(project) if unicodedata.normalize("NFKC", n.name) == n.name),
        key=_db_position,
    )
    truncated: dict[bytes, list[DbName]] = {}
    for item in names:
        encoded = item.name.encode("utf-8")
        if len(encoded) > PG_MAX_IDENTIFIER and item.namespace:
            truncated.setdefault(encoded[:PG_MAX_IDENTIFIER], []).append(item)
    for item in names:
        size = len(item.name.encode("utf-8"))
        if size <= PG_MAX_IDENTIFIER:
            continue
        if len(item.covered_by.encode("utf-8")) > PG_MAX_IDENTIFIER:
            continue  # the name it extends is reported
        message = f"{item.what}: '{item.name}' is {size} bytes, over PostgreSQL's 63"
        peers = truncated.get(item.name.encode("utf-8")[:PG_MAX_IDENTIFIER], [])
        same = [o.name for o in peers if o is not item]
        if same:
            message += f"; truncated, it would be the same name as '{same[0]}'"
        yield at(
            item.origin,
            "ES272",
            message,
            *item.steps,
            key=item.key,
            hint="shorten the table, attribute or identity name it is derived from",
        )
    units: list[Resource | EventLog] = [*project.resources, *project.event_logs]
    tables = [u.table.casefold() for u in units]
    duplicated = {t for t in tables if tables.count(t) > 1}
    seen: dict[tuple[str, str], DbName] = (
        {
            ("relation", ALEMBIC_VERSION_TABLE): DbName(
                ALEMBIC_VERSION_TABLE, "alembic's version table", Origin(names[0].origin.source)
            )
        }
        if names
        else {}
    )
    for item in names:
        if not item.namespace or item.table.casefold() in duplicated:
            continue
        other = seen.setdefault((item.namespace, item.name.casefold()), item)
        if other is item:
            continue
        if other.what.startswith("alembic"):
            continue  # a table of that name is ES274
        if item.what.startswith("table") and other.what.startswith("table"):
            continue  # ES207 / ES275
        if item.namespace.startswith("column"):
            if item.name == other.name:
                continue  # one name twice in one table: ES205 / ES247
            message = (
                f"{item.what} and '{other.name}' are one column on SQLite, which "
                "ignores case in column names"
            )
        else:
            message = f"{item.what} and {other.what} are both named '{item.name}' in the database"
        yield at(
            item.origin,
            "ES273",
            message,
            *item.steps,
            key=item.key,
            hint="rename one of the names it is derived from",
        )


def _db_position(item: DbName) -> tuple[str, int, int, str]:
    where = item.origin.at(*item.steps)
    locate = where.source.locate_key if item.key else where.source.locate
    line, col = locate(where.path)
    return (where.source.name, line, col, item.name)


def table_names(project: Project) -> Iterator[Diagnostic]:
    first: dict[str, Resource | EventLog] = {}
    units: list[Resource | EventLog] = sorted(
        (*project.resources, *project.event_logs),
        key=lambda u: _db_position(DbName(u.table, "", *_table_origin(u))),
    )
    for unit in units:
        origin, steps = _table_origin(unit)
        folded = unit.table.casefold()
        if folded.startswith("sqlite_"):
            message = f"table name '{unit.table}': SQLite reserves names starting with sqlite_"
            yield at(origin, "ES274", message, *steps, hint="choose another table name")
        elif folded == ALEMBIC_VERSION_TABLE:
            message = f"table name '{unit.table}' is alembic's own table of applied migrations"
            yield at(origin, "ES274", message, *steps, hint="choose another table name")
        other = first.setdefault(folded, unit)
        if other is not unit and other.table != unit.table:
            message = (
                f"table '{unit.table}' of '{unit.name}' and table '{other.table}' of "
                f"'{other.name}' are one table on SQLite, which ignores case in names"
            )
            yield at(origin, "ES275", message, *steps, hint="choose another table name")


RULES: tuple[Rule, ...] = (database_names, table_names)
