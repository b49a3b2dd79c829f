"""User code of the nested golden project: a hook that writes through another action."""

from __future__ import annotations

from typing import Any

from nested_data.changeset import Changeset


def welcome(changeset: Changeset, record: Any) -> None:
    """Player.create's after_action hook: a Note, written with its own event (not on replay)."""
    from nested_data.actions import note

    note.create(changeset.session, text=f"welcome {record.name}", actor=changeset.actor)
