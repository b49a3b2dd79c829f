"""A hook that fails after the event is written: nothing of the action may stay."""

from typing import Any


def fail(changeset: Any, record: Any) -> None:
    raise RuntimeError("the hook failed")
