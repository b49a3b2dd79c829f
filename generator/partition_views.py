"""The view of ``partitions.py``: extending and detaching the partitions of partitioned logs."""

from __future__ import annotations

from dataclasses import dataclass

from . import ir
from .filters import statement
from .pyfmt import Seq
from .symbols import header


@dataclass(frozen=True)
class PartitionsView:
    header: str
    models: tuple[str, ...]  # what it imports from models: Base and the logs' classes, sorted
    partitioned: str  # "PARTITIONED = (Event,)", formatted
    model_type: str  # "type[Event]", or a union of them


def partitioned_logs(project: ir.Project) -> tuple[ir.EventLog, ...]:
    return tuple(log for log in project.event_logs if log.partitioning is not None)


def partitions_files(project: ir.Project) -> list[tuple[str, object]]:
    """``partitions.py`` when some log is partitioned."""
    logs = partitioned_logs(project)
    if not logs:
        return []
    models = tuple(sorted(log.name for log in logs))
    view = PartitionsView(
        header=header(*logs),
        models=tuple(sorted({"Base", *models})),
        partitioned=statement("PARTITIONED: tuple[type[Base], ...]", Seq("(", list(models))),
        model_type=f"type[{' | '.join(models)}]",
    )
    return [("partitions.py", view)]
