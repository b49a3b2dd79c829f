from __future__ import annotations

from sqlalchemy import update

from features.data._support import utcnow
from features.data.changeset import Changeset
from features.data.models import Member


def add_karma(changeset: Changeset) -> None:
    changeset.attributes["karma"] = (changeset.get("karma") or 0) + changeset.arguments["by"]


def stamp_published(changeset: Changeset) -> None:
    changeset.attributes["published_at"] = utcnow()


def deposit(changeset: Changeset) -> None:
    changeset.attributes["balance"] = changeset.get("balance") + changeset.arguments["amount"]


def thank_others(changeset: Changeset) -> None:
    """Writes through the changeset's session (the tests of _wire.py): a rename gives every other
    member a point, outside the record and its event, so not on replay."""
    if changeset.replaying:
        return
    assert changeset.record is not None  # an update's
    others = update(Member).where(Member.id != changeset.record.id)
    changeset.session.execute(others.values(karma=Member.karma + 1))
