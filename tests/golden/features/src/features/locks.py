from __future__ import annotations

from features.data.changeset import Changeset


def ledger_key(changeset: Changeset, default: int | tuple[int, int]) -> int | tuple[int, int]:
    """One lock per account owner's first letter, to show a custom key generator."""
    owner = changeset.get("owner") or ""
    return (default[0], ord(owner[:1] or "?")) if isinstance(default, tuple) else default
