"""The view of ``log.py``: reading each integer-keyed event log after a checkpoint, consumers."""

from __future__ import annotations

from dataclasses import dataclass

from . import ir
from .filters import statement
from .printer import py
from .pyfmt import Call, Seq
from .render_models import import_blocks
from .symbols import header
from .tables import CHECKPOINT_CLASS, event_log_table, followed_logs
from .typemap import Import

# What log.py imports whatever its logs hold; the fields' annotations may add uuid and datetime.
_IMPORTS: frozenset[Import] = frozenset(
    {
        ("collections.abc", "Callable"),
        ("typing", "NamedTuple"),
        ("sqlalchemy.orm", "Session"),
        (".", "_follow"),
        (".", "models"),
    }
)


@dataclass(frozen=True)
class FollowLog:
    log: ir.EventLog
    suffix: str  # "" for a project with one followed log, else "_<log module>"
    row_class: str  # "EventRow": the log's events as read-only values (a NamedTuple)
    row_fields: tuple[str, ...]  # "id: int", ...: the model's attributes, in column order
    read_return: str  # "return _follow.read_after(...)", formatted
    rows_return: str
    consume_return: str


@dataclass(frozen=True)
class FollowView:
    header: str
    import_blocks: tuple[str, ...]
    logs: tuple[FollowLog, ...]
    all_definition: str  # "__all__ = [...]"


def follow_suffix(project: ir.Project, log: ir.EventLog) -> str:
    """``read_after`` for a project with one followed log; ``read_after_<log>`` for several."""
    return "" if len(followed_logs(project)) == 1 else f"_{log.module}"


def follow_view(project: ir.Project) -> FollowView:
    logs = tuple(_follow_log(project, log) for log in followed_logs(project))
    names = sorted(
        f"{function}{entry.suffix}"
        for entry in logs
        for function in ("consume", "read_after", "read_rows_after")
    )
    names = sorted(entry.row_class for entry in logs) + names  # classes first, as ruff sorts
    imports = set(_IMPORTS)
    for log in followed_logs(project):
        for column in event_log_table(log).columns:
            imports.update(i for i in column.type.imports if i[0] in ("", "typing"))
    return FollowView(
        header=header(*(entry.log for entry in logs)),
        import_blocks=tuple(import_blocks(imports)),
        logs=logs,
        all_definition=statement("__all__", Seq("[", [py(n) for n in names])),
    )


def follow_files(project: ir.Project) -> list[tuple[str, object]]:
    """``log.py`` when the project has a log to follow."""
    return [("log.py", follow_view(project))] if followed_logs(project) else []


def _follow_log(project: ir.Project, log: ir.EventLog) -> FollowLog:
    def call(function: str, *args: str) -> str:
        return statement("return", Call(f"_follow.{function}", list(args)), 1, operator=" ")

    # Through the module: a log may be named like a name this module binds (``Session``).
    model = f"models.{log.name}"
    row = f"{log.name}Row"
    fields = tuple(f"{c.key}: {c.annotation}" for c in event_log_table(log).columns)
    return FollowLog(
        log=log,
        suffix=follow_suffix(project, log),
        row_class=row,
        row_fields=fields,
        read_return=call("read_after", "session", model, "checkpoint", "limit"),
        rows_return=call("read_rows_after", "session", model, row, "checkpoint", "limit"),
        consume_return=call(
            "consume",
            "session",
            f"models.{CHECKPOINT_CLASS}",
            model,
            row,
            "name",
            "handler",
            "limit",
        ),
    )
