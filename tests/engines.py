"""The one way the tests make an engine: SQLite enforces foreign keys, as PostgreSQL always does.

SQLite ignores ``FOREIGN KEY`` clauses unless each connection turns ``PRAGMA foreign_keys`` on, so
without it a clear-order or delete-order bug would pass on SQLite and fail only on PostgreSQL.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy
from sqlalchemy import Engine, event


def create_engine(url: str, **kwargs: Any) -> Engine:
    """``sqlalchemy.create_engine``, with ``PRAGMA foreign_keys=ON`` on every SQLite connection."""
    engine = sqlalchemy.create_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _enforce_foreign_keys)
    return engine


def _enforce_foreign_keys(dbapi_connection: Any, connection_record: Any) -> None:
    del connection_record
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys=ON")
    finally:
        cursor.close()
