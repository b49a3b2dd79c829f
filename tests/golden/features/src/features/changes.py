from __future__ import annotations

from features.data._support import utcnow
from features.data.changeset import Changeset


def add_karma(changeset: Changeset) -> None:
    changeset.attributes["karma"] = (changeset.get("karma") or 0) + changeset.arguments["by"]


def stamp_published(changeset: Changeset) -> None:
    changeset.attributes["published_at"] = utcnow()


def deposit(changeset: Changeset) -> None:
    changeset.attributes["balance"] = changeset.get("balance") + changeset.arguments["amount"]
