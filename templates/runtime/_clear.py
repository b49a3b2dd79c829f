"""Why clearing the tracked tables before a replay failed: the foreign key that blocked it.

A table the event log does not track, with a foreign key into one it does, keeps the tracked rows
it points at from being deleted. PostgreSQL names the constraint and the referencing table;
SQLite names neither, so the tables that are not cleared are searched for a row that still points
into a cleared one.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import column, exists, inspect, select, table
from sqlalchemy.engine.interfaces import ReflectedForeignKeyConstraint
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import ColumnClause

from .errors import ReplayError

# The table being cleared, the table whose rows point into it, the constraint (None: unnamed).
Blocker = tuple[str, str, str | None]


def blocked_clear(
    session: Session, log: str, step: str, cleared: Collection[str], error: Exception
) -> ReplayError:
    """The ``ReplayError`` of ``step``, the clear function of ``log``, which raised ``error``
    while deleting the rows of the ``cleared`` tables (its SAVEPOINT already rolled back)."""
    blocker = _blocker(session, cleared, error) if isinstance(error, IntegrityError) else None
    if blocker is None:
        return ReplayError(None, step, error)
    blocked, referencing, constraint = blocker
    key = f" (foreign key {constraint})" if constraint else ""
    if referencing in cleared:
        detail = f"table {referencing} still references {blocked}{key}: delete {referencing} first"
    else:
        detail = (
            f"table {referencing}, which {log} does not track, references {blocked}{key}\n"
            f"  track its resource in {log} too, or clear it in a clear_records_for_replay "
            "function of your own"
        )
    replay_error = ReplayError(None, step, error, detail=detail)
    replay_error.table = blocked
    replay_error.referencing_table = referencing
    replay_error.constraint = constraint
    return replay_error


def _blocker(session: Session, cleared: Collection[str], error: IntegrityError) -> Blocker | None:
    inspector = inspect(session.connection())
    diag = getattr(error.orig, "diag", None)
    constraint = getattr(diag, "constraint_name", None)
    referencing = getattr(diag, "table_name", None)
    if constraint and referencing:  # PostgreSQL: find the table the constraint points into
        for key in inspector.get_foreign_keys(referencing):
            if key["name"] == constraint:
                return (key["referred_table"], referencing, constraint)
        return None
    if "FOREIGN KEY" not in str(error.orig).upper():
        return None
    # SQLite: the first table left alone with a row whose foreign key points into a cleared one.
    for name in sorted(set(inspector.get_table_names()) - set(cleared)):
        for key in inspector.get_foreign_keys(name):
            if key["referred_table"] in cleared and _has_reference(session, name, key):
                return (key["referred_table"], name, key.get("name"))
    return None


def _has_reference(session: Session, name: str, key: ReflectedForeignKeyConstraint) -> bool:
    columns: list[ColumnClause[Any]] = [column(c) for c in key["constrained_columns"]]
    rows = table(name, *columns)
    condition = exists().select_from(rows).where(*(c.is_not(None) for c in columns))
    return bool(session.scalar(select(condition)))
