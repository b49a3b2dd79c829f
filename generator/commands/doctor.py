"""``eventspec doctor``: one health report for operators, each line OK, WARN or FAIL.

Exit code by the worst line, as monitoring plugins do: 0 every check OK, 1 a warning, 2 a failure.
"""

from __future__ import annotations

import json
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import click
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from .. import ir
from . import doctor_checks as checks
from .doctor_checks import RANK, Check
from .events_table import cell

WIDTH = 100  # details wrap to fit lines this wide
_STYLE = {"OK": "green", "WARN": "yellow", "FAIL": "red"}


def run(config_path: Path, database_url: str | None, as_json: bool) -> None:
    """Run every check, print them (aligned, or as a JSON list) and exit by the worst."""
    found = list(diagnose(config_path, database_url))
    if as_json:
        click.echo(json.dumps([_plain(check) for check in found], indent=2, ensure_ascii=False))
    else:
        click.echo(render(found), nl=False)
    sys.exit(max(RANK[check.status] for check in found))


def diagnose(config_path: Path, database_url: str | None) -> Iterator[Check]:
    """The checks in order; one that others depend on failing skips those (said in its line)."""
    spec_check, project = checks.specs(config_path)
    yield spec_check
    if project is not None:
        yield checks.generated(project)
    db_check, engine = checks.database(checks.database_url(project, database_url))
    yield db_check
    if engine is None:
        return
    try:
        if project is None:
            return
        yield checks.migrations(project, engine)
        for log in project.event_logs:
            yield from _on_database(engine, f"events {log.name}", log, checks.events)
            yield from _on_database(
                engine, f"actors {log.name}", log, lambda lg, c: checks.actors(project, lg, c)
            )
            yield from _on_database(
                engine, f"records {log.name}", log, lambda lg, c: checks.records(project, lg, c)
            )
    finally:
        engine.dispose()


def _on_database(
    engine: Engine,
    name: str,
    log: ir.EventLog,
    check: Callable[[ir.EventLog, Connection], Check | None],
) -> Iterator[Check]:
    """Run one check on its own connection; a database error (a missing table) is its FAIL."""
    try:
        with engine.connect() as connection:
            result = check(log, connection)
    except SQLAlchemyError as error:
        hint = " (are its tables created? `alembic upgrade head`)"
        yield Check(name, "FAIL", f"{checks.first_line(error)}{hint}")
        return
    if result is not None:
        yield result


def render(found: list[Check]) -> str:
    """Aligned lines: status, check, detail (continued under the detail); then a summary."""
    width = max(len(check.name) for check in found)
    lines = []
    for check in found:
        status = click.style(check.status.ljust(4), fg=_STYLE[check.status], bold=True)
        room = max(40, WIDTH - width - 8)
        texts = [cell(text) for text in check.detail.splitlines() or [""]]
        first, *more = [part for text in texts for part in _wrap(text, room)]
        lines.append(f"{status}  {check.name.ljust(width)}  {first}".rstrip())
        lines += [f"{'':4}  {'':{width}}  {text}".rstrip() for text in more]
    counts = {status: sum(c.status == status for c in found) for status in _STYLE}
    lines.append("")
    lines.append(", ".join(f"{n} {status}" for status, n in counts.items()))
    return "\n".join(lines) + "\n"


def _wrap(text: str, width: int) -> list[str]:
    return textwrap.wrap(text, width, break_long_words=False, break_on_hyphens=False) or [""]


def _plain(check: Check) -> dict[str, object]:
    out: dict[str, object] = {"name": check.name, "status": check.status, "detail": check.detail}
    if check.data:
        out["data"] = check.data
    return out
