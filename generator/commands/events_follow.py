"""``eventspec events --follow``: tail an event log through the generated package's reader."""

from __future__ import annotations

import operator
import time
from collections.abc import Callable
from types import ModuleType
from typing import Any

import click

from .. import ir
from ..follow_views import follow_suffix
from ..tables import event_log_table, followed_logs
from .database import import_generated

_COMPARE = {"==": operator.eq, ">=": operator.ge, "<=": operator.le}
BATCH = 500


def followed(project: ir.Project, log: ir.EventLog) -> ModuleType:
    """The generated ``log`` module, or a usage error for a log it cannot follow."""
    if log not in followed_logs(project):
        raise click.UsageError(
            f"--follow needs a log with integer ids; {log.name} has primary_key_type "
            f"{log.primary_key_type}, whose ids are not in commit order"
        )
    return import_generated(project, "log")


def follow_mark(project: ir.Project, session: Any, log: ir.EventLog, models: ModuleType) -> Any:
    """The id up to which every event of ``log`` is committed (None: no event yet)."""
    followed(project, log)
    runtime = import_generated(project, "_follow")
    return runtime.committed_mark(session, getattr(models, log.name))


def tail(
    project: ir.Project,
    log: ir.EventLog,
    session: Any,
    checkpoint: int | None,
    interval: float,
    conditions: list[tuple[str, str, Any]],
    needed: list[str],
    show: Callable[[list[dict[str, Any]]], None],
) -> None:
    """Poll the log every ``interval`` seconds after ``checkpoint`` and show each new event that
    matches ``conditions``, until Ctrl-C (which ends it quietly)."""
    read = getattr(followed(project, log), f"read_rows_after{follow_suffix(project, log)}")
    keys = {column.name: column.key for column in event_log_table(log).columns}  # metadata_
    try:
        while True:
            batch = read(session, checkpoint, BATCH)
            session.commit()  # a new transaction, and snapshot, for every poll
            if batch:
                checkpoint = batch[-1].id
                rows = [{name: getattr(row, keys[name]) for name in needed} for row in batch]
                rows = [row for row in rows if _matches(row, conditions)]
                if rows:
                    show(rows)
            if len(batch) < BATCH:
                time.sleep(interval)
    except KeyboardInterrupt:
        return


def _matches(row: dict[str, Any], conditions: list[tuple[str, str, Any]]) -> bool:
    return all(_COMPARE[compare](row[name], value) for name, compare, value in conditions)
