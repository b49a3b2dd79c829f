"""The one way the tests make an engine: SQLite enforces foreign keys, as PostgreSQL always does.

SQLite ignores ``FOREIGN KEY`` clauses unless each connection turns ``PRAGMA foreign_keys`` on, so
without it a clear-order or delete-order bug would pass on SQLite and fail only on PostgreSQL.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy
import sqlalchemy.ext.asyncio
from sqlalchemy import Engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine


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


def create_async_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An async engine on the database ``url`` names: ``sqlite:`` through aiosqlite, PostgreSQL
    through psycopg's async connection; SQLite with foreign keys on, as :func:`create_engine`."""
    parsed = make_url(url)
    if parsed.drivername in ("sqlite", "sqlite+pysqlite"):
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    engine = sqlalchemy.ext.asyncio.create_async_engine(parsed, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _enforce_foreign_keys)
    return engine
