from __future__ import annotations

from typing import Any

from features.data.changeset import Changeset

NOTIFIED: list[tuple[int, int]] = []


def notify(changeset: Changeset, record: Any) -> None:
    """A side effect that must never run during replay."""
    if changeset.arguments["amount"] < 0:
        raise RuntimeError("negative deposits are refused after the write")
    NOTIFIED.append((record.id, changeset.arguments["amount"]))
