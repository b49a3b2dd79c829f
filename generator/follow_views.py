"""The view of ``log.py``: reading each integer-keyed event log after a checkpoint, consumers."""

from __future__ import annotations

from dataclasses import dataclass

from . import ir
from .filters import statement
from .printer import py
from .pyfmt import Call, Seq
from .symbols import header
from .tables import CHECKPOINT_CLASS, followed_logs


@dataclass(frozen=True)
class FollowLog:
    log: ir.EventLog
    suffix: str  # "" for a project with one followed log, else "_<log module>"
    read_return: str  # "return _follow.read_after(...)", formatted
    rows_return: str
    consume_return: str


@dataclass(frozen=True)
class FollowView:
    header: str
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
    return FollowView(
        header=header(*(entry.log for entry in logs)),
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
    return FollowLog(
        log=log,
        suffix=follow_suffix(project, log),
        read_return=call("read_after", "session", model, "checkpoint", "limit"),
        rows_return=call("read_rows_after", "session", model, "checkpoint", "limit"),
        consume_return=call(
            "consume", "session", f"models.{CHECKPOINT_CLASS}", model, "name", "handler", "limit"
        ),
    )
