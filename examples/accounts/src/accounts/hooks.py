"""Hooks: side effects run after an action writes its record (never during replay)."""

from __future__ import annotations

from accounts.data.actions import user_role
from accounts.data.changeset import Changeset
from accounts.data.models import User


def grant_initial_role(changeset: Changeset, user: User) -> None:
    """Give a new user the role it asked for, through UserRole's own tracked action.

    The role's event is written by `grant` itself; the actor is passed along, the metadata is not.
    """
    user_role.grant(
        changeset.session, name=changeset.arguments["role"], user_id=user.id, actor=changeset.actor
    )
