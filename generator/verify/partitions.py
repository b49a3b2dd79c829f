"""``partitioning`` of an event log (ES340, ES341): options that fit the partition key.

Partition names (``<table>_p202612``, ``<table>_history``, ``<table>_p<n>``) need no check of their
own: the index ``ix_<table>_resource_record_id`` is longer than any of them, and ES272 checks it."""

from __future__ import annotations

from collections.abc import Iterator

from ..diagnostics import Diagnostic, at
from ..ir import Project
from .common import Rule, node_at

OPTION = "partitioning"


def partition_key(project: Project) -> Iterator[Diagnostic]:
    """ES340: id ranges need ids the database counts up (integer), not uuidv7."""
    for log in project.event_logs:
        if log.partitioning and log.partitioning.by == "id" and log.primary_key_type != "integer":
            message = "partitioning by id needs primary_key_type: integer (uuidv7 ids are not "
            message += "counted up in ranges); partition this log by occurred_at"
            yield at(log.origin, "ES340", message, OPTION, "by")


def options_of_the_key(project: Project) -> Iterator[Diagnostic]:
    """ES341: ``interval`` belongs to occurred_at, ``size`` to id."""
    for log in project.event_logs:
        partitioning = log.partitioning
        if partitioning is None:
            continue
        other = "size" if partitioning.by == "occurred_at" else "interval"
        if node_at(log.origin, OPTION, other) is not None:
            message = f"partitioning option '{other}' does not apply to partitions by "
            message += f"{partitioning.by} (occurred_at takes interval, id takes size)"
            yield at(log.origin, "ES341", message, OPTION, other, key=True)


RULES: tuple[Rule, ...] = (partition_key, options_of_the_key)
