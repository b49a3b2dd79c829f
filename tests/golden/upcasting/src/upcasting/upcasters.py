"""User code of the upcasting project: an upcaster step too specific for the declarative ones."""

from __future__ import annotations

from typing import Any


def split_kind(event: dict[str, Any]) -> dict[str, Any]:
    """Version 2 secrets stored their kind as a prefix of the body: "key:abc"."""
    data = event["data"]
    kind, sep, rest = str(data.get("body", "")).partition(":")
    if sep and kind in ("note", "key"):
        data["kind"], data["body"] = kind, rest
    return event
