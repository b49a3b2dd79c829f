"""Errors met at run time, on the command line: one or two lines on stderr, not a traceback.

A command that runs the generated package (replay, ``--verify``, ``--into``) wraps that part in
:func:`replay_errors`. What the package raises (``ReplayError``, ``ConfigurationError``, ...:
every ``EventspecError``) and what the database raises (unreachable, tables missing, a URL it
cannot use) then print as ``error: ...`` and exit with ``exit_code``; ``--traceback`` lets them
through, with their full traceback. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

import click

TRACEBACK_HELP = "On failure, print the full traceback instead of a one-line error."


@contextmanager
def replay_errors(show_traceback: bool, exit_code: int = 1) -> Iterator[None]:
    """Turn the errors of the generated package and of the database into ``error: ...``."""
    if show_traceback:
        yield
        return
    from sqlalchemy.exc import ArgumentError, DBAPIError

    try:
        yield
    except ArgumentError as error:  # NoSuchModuleError (an unknown dialect) included
        fail(f"cannot use the database URL: {error}", exit_code)
    except DBAPIError as error:
        fail(database_message(error), exit_code)
    except Exception as error:
        if not is_eventspec_error(error):
            raise
        fail(str(error), exit_code)


def is_eventspec_error(error: BaseException) -> bool:
    """Whether ``error`` derives from the ``EventspecError`` of a generated package's ``errors``
    module (each generated package has its own, so it is found by name, not imported)."""
    return any(
        kind.__name__ == "EventspecError" and kind.__module__.endswith(".errors")
        for kind in type(error).__mro__
    )


def database_message(error: Exception) -> str:
    """A database error in one line: the driver's first line, not the SQL or its parameters
    (which may hold sensitive values), and what to do when the tables are missing."""
    orig = getattr(error, "orig", None)
    text = str(orig if isinstance(orig, BaseException) else error).strip()
    first = text.splitlines()[0].strip() if text else type(error).__name__
    message = f"database: {first}"
    if "no such table" in first or "does not exist" in first:
        message += " (are the tables created? `alembic upgrade head`)"
    return message


def fail(message: str, exit_code: int) -> None:
    """Print ``error: message`` on stderr, control characters escaped, and exit."""
    lines = [_printable(line) for line in message.splitlines() or [""]]
    click.echo("error: " + "\n".join(lines), err=True)
    sys.exit(exit_code)


def _printable(text: str) -> str:
    """A value or name from the database may hold a terminal escape sequence: show it escaped."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
