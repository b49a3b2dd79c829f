from __future__ import annotations

from features.data.changeset import Changeset
from features.data.errors import ValidationError


def no_shouting(changeset: Changeset) -> None:
    title = changeset.get("title") or ""
    if len(title) > 3 and title.isupper():
        raise ValidationError("title", "is all capitals")
