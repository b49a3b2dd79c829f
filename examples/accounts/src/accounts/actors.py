"""Actors that are not database records."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SystemActor:
    """A background job or admin script acting on its own behalf."""

    name: str
