# Written by `eventspec init`: edit freely, eventspec never overwrites it.
"""Alembic environment of the eventspec project: migrations for the ``nested_data`` models.

The database URL is, in order: ``alembic -x database_url=...``, the ``EVENTSPEC_DATABASE_URL``
environment variable, then ``database_url`` in eventspec.yaml. A connection passed by a caller in
``config.attributes["connection"]`` is used as is.
"""

from __future__ import annotations

import importlib
import os
import sys
from logging.config import fileConfig
from pathlib import Path

from alembic import context
from sqlalchemy import Connection, MetaData, Table, create_engine, event, pool
from sqlalchemy.engine.reflection import Inspector

PACKAGE = "nested_data"
ROOT = Path(__file__).resolve().parents[1]  # the folder of eventspec.yaml
config = context.config


def settings() -> dict[str, str]:
    """The string settings of eventspec.yaml (``output``, ``database_url``), read with PyYAML."""
    path = ROOT / "eventspec.yaml"
    if not path.exists():
        return {}
    try:
        import yaml  # installed with eventspec; a deployment without eventspec needs PyYAML
    except ImportError:
        raise SystemExit(f"{path} is read with PyYAML: pip install PyYAML") from None
    try:
        values = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise SystemExit(f"{path}: {error} (eventspec validate explains)") from None
    if not isinstance(values, dict):
        return {}
    return {key: value for key, value in values.items() if isinstance(value, str)}


def database_url(values: dict[str, str]) -> str:
    url = (
        context.get_x_argument(as_dictionary=True).get("database_url")
        or os.environ.get("EVENTSPEC_DATABASE_URL")
        or values.get("database_url")
    )
    if not url:
        raise SystemExit(
            "no database URL: pass -x database_url=..., set EVENTSPEC_DATABASE_URL "
            "or database_url in eventspec.yaml"
        )
    return url


def target_metadata(values: dict[str, str]) -> MetaData:
    """``Base.metadata`` of the generated package, imported from its output folder."""
    source_root = ROOT / values.get("output", PACKAGE.replace(".", "/"))
    for _ in PACKAGE.split("."):
        source_root = source_root.parent
    if str(source_root) not in sys.path:
        sys.path.insert(0, str(source_root))
    metadata: MetaData = importlib.import_module(f"{PACKAGE}.models").Base.metadata
    return metadata


def literal_defaults(_inspector: Inspector, _table: Table, column: dict[str, object]) -> None:
    """Keep reflected server defaults literal when SQLite copies a table (batch migrations).

    SQLAlchemy wraps a reflected default in ``text()``, where a default such as ``':noon'`` would
    be read as a bind parameter (and copied as NULL); a backslash before each colon keeps it.
    """
    default = column.get("default")
    if isinstance(default, str):
        column["default"] = default.replace(":", "\\:")


def run_with(connection: Connection, metadata: MetaData) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters by copying tables
        compare_type=True,
    )
    # Listening only while migrating: a process that runs alembic twice registers it once.
    event.listen(Table, "column_reflect", literal_defaults)
    try:
        with context.begin_transaction():
            context.run_migrations()
    finally:
        event.remove(Table, "column_reflect", literal_defaults)


def main() -> None:
    if config.config_file_name is not None and config.attributes.get("configure_logger", True):
        fileConfig(config.config_file_name, disable_existing_loggers=False)
    values = settings()
    metadata = target_metadata(values)
    connection = config.attributes.get("connection")
    if connection is not None:
        run_with(connection, metadata)
        return
    url = database_url(values)
    if context.is_offline_mode():
        context.configure(
            url=url,
            target_metadata=metadata,
            literal_binds=True,
            dialect_opts={"paramstyle": "named"},
            render_as_batch=url.startswith("sqlite"),
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            run_with(connection, metadata)
    finally:
        engine.dispose()


main()
