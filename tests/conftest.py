"""Shared fixtures: every database test runs on SQLite and on PostgreSQL.

PostgreSQL is required: when it is unreachable the PostgreSQL half of the suite fails (it is never
skipped). Set EVENTSPEC_TEST_POSTGRES_URL to point at another server.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from tests.engines import create_engine

POSTGRES_URL = os.environ.get(
    "EVENTSPEC_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
DATABASES = ("sqlite", "postgresql")


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A database of our own for this test process, dropped at the end."""
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    name = f"eventspec_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as error:  # fail loudly: PostgreSQL is part of the suite
        pytest.fail(f"PostgreSQL is required for the test suite ({POSTGRES_URL}): {error}")
    try:
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=DATABASES)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL of an empty database: a SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    base = request.getfixturevalue("postgres_database")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = create_engine(database_url)
    try:
        yield engine
    finally:
        engine.dispose()


# --- the two generated projects the runtime tests drive -----------------------------------------

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "accounts"
FEATURES = ROOT / "tests" / "golden" / "features"
UPCASTING = ROOT / "tests" / "golden" / "upcasting"
ALLTYPES = ROOT / "tests" / "golden" / "alltypes"  # its package is at the project's root
PRIVACY = ROOT / "tests" / "golden" / "privacy"
NESTED = ROOT / "tests" / "golden" / "nested"
for _src in (
    EXAMPLE / "src",
    FEATURES / "src",
    UPCASTING / "src",
    ALLTYPES,
    NESTED / "src",
    PRIVACY / "src",
):
    if str(_src) not in sys.path:
        sys.path.insert(0, str(_src))
if os.environ.get("EVENTSPEC_TEST_PARTITIONED"):  # `make test-partitioned`
    from tests.partitioned_variants import make_variants

    for _src in make_variants():
        sys.path.insert(0, str(_src))

# 32-byte keys in urlsafe base64, for the encrypted Ledger log of the features project.
LEDGER_KEY = "q0GJ2p3Wg1Dq3s2H2sQ6c7S8b0kX3f7ZbqR2d1m4n5o="
LEDGER_KEY_2 = "Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0Z2FycGw="


@pytest.fixture
def accounts(engine: Engine) -> Iterator[Engine]:
    """The accounts example's tables, created on the test database."""
    from accounts.data.models import Base

    Base.metadata.create_all(engine)
    yield engine


@pytest.fixture
def features(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """The features project's tables, with the Ledger encryption key set."""
    from features.data.models import Base

    monkeypatch.setenv("FEATURES_LEDGER_KEYS", LEDGER_KEY)
    Base.metadata.create_all(engine)
    yield engine
