"""Helpers shared by the semantic rules."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import yaml

from ..diagnostics import Diagnostic, Origin
from ..ir import Project, Resource

Rule = Callable[[Project], Iterable[Diagnostic]]

# Primary key types each record_id_type accepts.
RECORD_ID_TYPES = {
    "uuid": frozenset({"uuid", "uuidv7"}),
    "integer": frozenset({"integer", "big_integer"}),
    "string": frozenset({"string", "text"}),
}


def node_at(origin: Origin, *steps: str | int) -> yaml.Node | None:
    """The YAML node at ``origin`` + ``steps``, or None."""
    return origin.source.node_at(origin.path + steps)


def article(word: str) -> str:
    """'an update', 'a create'."""
    return f"an {word}" if word[:1] in ("a", "e", "i", "o", "u") else f"a {word}"


def names(items: Iterable[str]) -> str:
    return ", ".join(sorted(items)) or "none"


def quoted(items: Iterable[str]) -> str:
    return ", ".join(f"'{item}'" for item in items)


def tracked(project: Project) -> Iterator[Resource]:
    return (r for r in project.resources if r.events is not None)
