"""A scratch database to replay into, removed afterwards whatever happens (Ctrl-C included)."""

from __future__ import annotations

import contextlib
import os
import tempfile
import uuid
from collections.abc import Iterator

from sqlalchemy import Engine, create_engine, func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from .errors import ConfigurationError

SCRATCH_PREFIX = "eventspec_scratch_"


def scratch_prefix(pid: int | None = None) -> str:
    """The start of the name of every scratch database (or file) process ``pid`` makes: an
    operator can tell whose it is, and a run can tell its own from another's."""
    return f"{SCRATCH_PREFIX}{os.getpid() if pid is None else pid}_"


@contextlib.contextmanager
def scratch_database(live: Engine) -> Iterator[Engine]:
    """An empty database of the live one's kind: a new database on the same PostgreSQL server,
    or a temporary SQLite file. Dropped (or deleted) on exit, also on an error or Ctrl-C."""
    if live.dialect.name == "postgresql":
        with _postgresql(live) as engine:
            yield engine
    elif live.dialect.name == "sqlite":
        with _sqlite() as engine:
            yield engine
    else:
        raise ConfigurationError(
            f"no scratch database on {live.dialect.name}: pass an empty database as --into URL"
        )


@contextlib.contextmanager
def _postgresql(live: Engine) -> Iterator[Engine]:
    name = f"{scratch_prefix()}{uuid.uuid4().hex[:12]}"
    with live.connect() as connection:
        # The live tables' schema (a search_path in the URL may name one): the scratch copy of
        # the URL keeps that search_path, so the schema must exist there too.
        schema = connection.scalar(select(func.current_schema()))
    admin = live.execution_options(isolation_level="AUTOCOMMIT")
    try:
        try:
            with admin.connect() as connection:
                connection.execute(text(f'CREATE DATABASE "{name}"'))
        except DBAPIError as error:
            if getattr(error.orig, "sqlstate", None) == "42501":  # insufficient_privilege
                raise ConfigurationError(
                    "cannot create a scratch database (the user lacks CREATEDB): "
                    "pass an empty database as --into URL"
                ) from error
            raise
        engine = create_engine(live.url.set(database=name), poolclass=NullPool)
        try:
            if schema and schema != "public":
                with engine.begin() as connection:
                    quoted = connection.dialect.identifier_preparer.quote(schema)
                    connection.execute(text(f"CREATE SCHEMA IF NOT EXISTS {quoted}"))
            yield engine
        finally:
            engine.dispose()
    finally:
        # WITH (FORCE) ends a connection a broken run left behind (PostgreSQL 13 and later).
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextlib.contextmanager
def _sqlite() -> Iterator[Engine]:
    handle, path = tempfile.mkstemp(prefix=scratch_prefix(), suffix=".db")
    os.close(handle)
    try:
        engine = create_engine(f"sqlite:///{path}", poolclass=NullPool)
        try:
            yield engine
        finally:
            engine.dispose()
    finally:
        for leftover in (path, f"{path}-journal", f"{path}-wal", f"{path}-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.remove(leftover)
