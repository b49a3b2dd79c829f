"""The two databases every scenario runs on: a SQLite file in WAL mode, and PostgreSQL."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, MetaData, Table, create_engine, delete, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine


@dataclass
class Backend:
    name: str  # "sqlite" | "postgresql"
    url: str
    workdir: Path
    synchronous: str = "NORMAL"

    def engine(self, **options: Any) -> Engine:
        """A new engine on this database, configured the same way for every contender."""
        if self.name != "sqlite":
            options.setdefault("pool_size", 10)
            return create_engine(self.url, **options)
        engine = create_engine(self.url, **options)
        synchronous = self.synchronous

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.execute("PRAGMA journal_mode=WAL")
            dbapi_connection.execute(f"PRAGMA synchronous={synchronous}")

        return engine

    def async_engine(self, **options: Any) -> AsyncEngine:
        """:meth:`engine`'s configuration through the async driver (aiosqlite, psycopg async)."""
        url = make_url(self.url)
        if self.name != "sqlite":
            options.setdefault("pool_size", 10)
            return create_async_engine(url, **options)
        engine = create_async_engine(url.set(drivername="sqlite+aiosqlite"), **options)
        synchronous = self.synchronous

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA synchronous={synchronous}")
            cursor.close()

        return engine

    def sqlite_file(self, name: str) -> Path:
        """A path for another SQLite file next to the main one (eventsourcing's store)."""
        return self.workdir / name


def clear(engine: Engine, *tables: Table) -> None:
    """Empty tables, children first; PostgreSQL also restarts their sequences."""
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in tables)
            connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                connection.execute(delete(table))


def create_all(engine: Engine, *metadatas: MetaData) -> None:
    for metadata in metadatas:
        metadata.drop_all(engine)
        metadata.create_all(engine)


@contextmanager
def sqlite_backend(synchronous: str) -> Iterator[Backend]:
    with tempfile.TemporaryDirectory(prefix="eventspec-bench-") as folder:
        path = Path(folder) / "bench.db"
        yield Backend("sqlite", f"sqlite:///{path}", Path(folder), synchronous)


@contextmanager
def postgres_backend(server_url: str) -> Iterator[Backend]:
    """A database of our own on the server, dropped afterwards."""
    name = f"eventspec_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
        with tempfile.TemporaryDirectory(prefix="eventspec-bench-") as folder:
            yield Backend("postgresql", url, Path(folder))
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def server_version(engine: Engine) -> str:
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            return str(connection.execute(text("SHOW server_version")).scalar())
        return str(connection.execute(text("SELECT sqlite_version()")).scalar())
