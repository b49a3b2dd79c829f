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
    model_imports: tuple[str, ...]  # the checkpoint model, each log's model
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
        model_imports=tuple(sorted({CHECKPOINT_CLASS, *(entry.log.name for entry in logs)})),
        all_definition=statement("__all__", Seq("[", [py(n) for n in names])),
    )


def follow_files(project: ir.Project) -> list[tuple[str, object]]:
    """``log.py`` when the project has a log to follow."""
    return [("log.py", follow_view(project))] if followed_logs(project) else []


def _follow_log(project: ir.Project, log: ir.EventLog) -> FollowLog:
    def call(function: str, *args: str) -> str:
        return statement("return", Call(f"_follow.{function}", list(args)), 1, operator=" ")

    return FollowLog(
        log=log,
        suffix=follow_suffix(project, log),
        read_return=call("read_after", "session", log.name, "checkpoint", "limit"),
        rows_return=call("read_rows_after", "session", log.name, "checkpoint", "limit"),
        consume_return=call(
            "consume", "session", CHECKPOINT_CLASS, log.name, "name", "handler", "limit"
        ),
    )
