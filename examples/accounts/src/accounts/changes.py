"""Custom changes referenced by the specs: plain functions of a Changeset."""

from __future__ import annotations

import hashlib
import re

from accounts.data.changeset import Changeset


def hash_password(changeset: Changeset) -> None:
    """Store a salted hash of the `password` argument (a real app would use argon2)."""
    password = changeset.arguments.get("password")
    if password is None:
        return
    salt = changeset.attributes.get("email") or str(changeset.get("email"))
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), 1_000)
    changeset.attributes["hashed_password"] = digest.hex()


def slugify_name(changeset: Changeset) -> None:
    name = changeset.attributes.get("name")
    if name is not None:
        changeset.attributes["slug"] = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def role_of_legacy_user(changeset: Changeset) -> None:
    """Version 1 user events replay into a role row whose id is the user's id."""
    changeset.attributes["user_id"] = changeset.attributes["id"]
