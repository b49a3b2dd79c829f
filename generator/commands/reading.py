"""A database session whose failures are one-line ``click`` errors (events, rotate-keys)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

import click

from .database import redact, session_for


@contextmanager
def reading(url: str, errors: ModuleType, table: str) -> Iterator[Any]:
    """A session on ``url``; database and key problems become one-line errors, not tracebacks.

    ``errors`` is the generated package's ``errors`` module, whose ``EventspecError`` a missing,
    malformed or wrong encryption key raises.
    """
    from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, SQLAlchemyError

    try:
        with session_for(url) as session:
            yield session
    except errors.EventspecError as error:
        raise click.ClickException(str(error)) from error
    except (ArgumentError, NoSuchModuleError) as error:
        raise click.ClickException(f"cannot use the database URL: {error}") from error
    except ImportError as error:  # the URL names a driver that is not installed
        raise click.ClickException(
            f"cannot use the database URL: {error} (is its driver installed?)"
        ) from error
    except SQLAlchemyError as error:
        cause = str(error.orig if isinstance(error, DBAPIError) else error).strip()
        message = f"database {redact(url)}: {cause.splitlines()[0] if cause else repr(error)}"
        if table in cause:
            message += " (are its tables created? `alembic upgrade head`)"
        raise click.ClickException(message) from error
