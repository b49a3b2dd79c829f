"""``eventsourcing``: a Customer aggregate, saved by its Application once per transaction.

SQLite uses eventsourcing's own SQLite persistence (its own connection, WAL, and the same
``PRAGMA synchronous`` as the other contenders). PostgreSQL uses ``eventsourcing.postgres`` when
``psycopg_pool`` is installed; without it the PostgreSQL rows fall back to POPO (in memory).
"""

from __future__ import annotations

import importlib.util
import itertools
from collections.abc import Callable
from typing import Any

from eventsourcing import sqlite as es_sqlite
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bench.databases import Backend


class CustomerAggregate(Aggregate):
    @event("Created")
    def __init__(self, email: str, name: str | None = None, tier: str = "standard") -> None:
        self.email = email
        self.name = name
        self.tier = tier

    @event("Renamed")
    def rename(self, name: str) -> None:
        self.name = name


def postgres_available() -> bool:
    return importlib.util.find_spec("psycopg_pool") is not None


def persistence(backend: Backend) -> str:
    """What the eventsourcing rows of this backend measure, for the report."""
    if backend.name == "sqlite":
        return "eventsourcing.sqlite"
    return "eventsourcing.postgres" if postgres_available() else "POPO (psycopg_pool missing)"


_SYNCHRONOUS = {"value": "NORMAL"}
_create_connection = es_sqlite.SQLiteConnectionPool._create_connection


def _create_connection_synchronous(self: Any) -> Any:
    connection = _create_connection(self)
    connection._sqlite_conn.execute(f"PRAGMA synchronous={_SYNCHRONOUS['value']}")
    return connection


es_sqlite.SQLiteConnectionPool._create_connection = _create_connection_synchronous  # type: ignore[method-assign]


class Store:
    """A fresh, empty event store per run: ``reset()`` before, ``close()`` at the end."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.app: Application[Any] | None = None
        self._counter = itertools.count()
        self._cleanup: Callable[[], None] | None = None
        _SYNCHRONOUS["value"] = backend.synchronous

    def reset(self) -> Application[Any]:
        self.close()
        run = next(self._counter)
        if self.backend.name == "sqlite":
            path = self.backend.sqlite_file(f"eventsourcing-{run}.db")
            env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(path)}
            self._cleanup = lambda: _remove_sqlite(path)
        elif postgres_available():
            env, self._cleanup = _postgres_env(self.backend.url, f"es_run_{run}")
        else:
            env = {"PERSISTENCE_MODULE": "eventsourcing.popo"}
        self.app = Application(env=env)
        return self.app

    def close(self) -> None:
        if self.app is not None:
            self.app.close()
            self.app = None
        if self._cleanup is not None:
            self._cleanup()
            self._cleanup = None


def _remove_sqlite(path: Any) -> None:
    for suffix in ("", "-wal", "-shm"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)


def _postgres_env(url: str, schema: str) -> tuple[dict[str, str], Callable[[], None]]:
    parsed = make_url(url)
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))

    def drop() -> None:
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()

    env = {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": parsed.database or "postgres",
        "POSTGRES_HOST": parsed.host or "127.0.0.1",
        "POSTGRES_PORT": str(parsed.port or 5432),
        "POSTGRES_USER": parsed.username or "postgres",
        "POSTGRES_PASSWORD": parsed.password or "",
        "POSTGRES_SCHEMA": schema,
    }
    return env, drop
