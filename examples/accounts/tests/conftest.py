"""Fixtures for the example's tests: one database per run, one session per test, rolled back.

The tests run on SQLite and on PostgreSQL (the server of ``EVENTSPEC_TEST_POSTGRES_URL``, by
default the local one, user postgres; a database is created for the run and dropped after it).
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

# The example's package is in ../src; a project of yours installs its own package, or sets
# pytest's `pythonpath` option.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from accounts.data.models import Base

POSTGRES_URL = os.environ.get(
    "EVENTSPEC_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: Any) -> Iterator[str]:
    """An empty database for the run: a SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'accounts.db'}"
        return
    name = f"accounts_example_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


# --- fixtures ---
@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    engine = create_engine(database_url)
    if engine.dialect.name == "sqlite":
        begin_explicitly(engine)
    Base.metadata.create_all(engine)  # or run your migrations: alembic upgrade head
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with rolled_back_session(engine) as session:
        yield session


@contextmanager
def rolled_back_session(engine: Engine) -> Iterator[Session]:
    """A session inside a transaction that is rolled back at the end, whatever the test did:
    a commit in the code under test only releases a SAVEPOINT."""
    with engine.connect() as connection:
        transaction = connection.begin()
        with Session(bind=connection, join_transaction_mode="create_savepoint") as session:
            yield session
        transaction.rollback()


def begin_explicitly(engine: Engine) -> None:
    """SQLAlchemy's pysqlite recipe: the driver leaves transactions alone and SQLAlchemy sends
    BEGIN itself. Without it, the fixture's SAVEPOINT would open a transaction of its own, and
    a commit in the test would release it: committed for good."""
    event.listen(engine, "connect", _driver_autocommit)
    event.listen(engine, "begin", _begin)


def _driver_autocommit(dbapi_connection: Any, connection_record: Any) -> None:
    dbapi_connection.isolation_level = None


def _begin(connection: Connection) -> None:
    connection.exec_driver_sql("BEGIN")
