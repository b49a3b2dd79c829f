"""Diagnostics: located, coded messages about a user's specs.

Every stage of the pipeline returns diagnostics as values; nothing raises half-way. A diagnostic is
printed as ``path:line:col: CODE message`` and blocks all output.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

JsonPath = tuple[str | int, ...]


@dataclass(frozen=True)
class Source:
    """One YAML document of one file, with its composed node tree (for line/column lookups)."""

    path: Path
    node: yaml.Node | None
    display: str = ""

    @property
    def name(self) -> str:
        return self.display or str(self.path)

    def locate(self, json_path: JsonPath) -> tuple[int, int]:
        """Walk the node tree along ``json_path``; return the 1-based line and column.

        When the path runs past the tree (a missing key), the deepest node found is used, so a
        "missing key" error points at the mapping that lacks it.
        """
        node = self.node
        if node is None:
            return (1, 1)
        for step in json_path:
            child = child_node(node, step)
            if child is None:
                break
            node = child
        return (node.start_mark.line + 1, node.start_mark.column + 1)

    def node_at(self, json_path: JsonPath) -> yaml.Node | None:
        """The YAML node at ``json_path``, or None when the path runs past the tree."""
        node = self.node
        for step in json_path:
            if node is None:
                return None
            node = child_node(node, step)
        return node

    def locate_key(self, json_path: JsonPath) -> tuple[int, int]:
        """Like :meth:`locate`, but points at the key of the last step rather than its value."""
        if not json_path or self.node is None:
            return self.locate(json_path)
        parent = self.node
        for step in json_path[:-1]:
            child = child_node(parent, step)
            if child is None:
                return self.locate(json_path)
            parent = child
        if isinstance(parent, yaml.MappingNode):
            entry = _entries(parent).get(str(json_path[-1]))
            if entry is not None:
                return (entry[0].start_mark.line + 1, entry[0].start_mark.column + 1)
        return self.locate(json_path)


# Each map's entries by key, built once: a document with thousands of unknown keys gets thousands
# of diagnostics, and looking each one up by a scan of its map made that quadratic.
_ENTRIES: weakref.WeakKeyDictionary[yaml.Node, dict[str, tuple[yaml.Node, yaml.Node]]] = (
    weakref.WeakKeyDictionary()
)


def _entries(node: yaml.MappingNode) -> dict[str, tuple[yaml.Node, yaml.Node]]:
    entries = _ENTRIES.get(node)
    if entries is None:
        entries = {}
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                entries.setdefault(str(key.value), (key, value))
        _ENTRIES[node] = entries
    return entries


def child_node(node: yaml.Node, step: str | int) -> yaml.Node | None:
    """The value of key ``step`` of a mapping, or item ``step`` of a sequence, or None."""
    if isinstance(node, yaml.MappingNode):
        entry = _entries(node).get(str(step))
        return entry[1] if entry is not None else None
    if isinstance(node, yaml.SequenceNode) and isinstance(step, int):
        items: list[yaml.Node] = node.value
        return items[step] if 0 <= step < len(items) else None
    return None


@dataclass(frozen=True)
class Origin:
    """Where an IR node came from: a source document and the JSON path inside it."""

    source: Source
    path: JsonPath = ()

    def at(self, *steps: str | int) -> Origin:
        return Origin(self.source, self.path + steps)


@dataclass(frozen=True, order=True)
class Diagnostic:
    file: str
    line: int
    col: int
    code: str
    message: str
    json_path: str = field(default="", compare=False)
    hint: str = field(default="", compare=False)

    def render(self) -> str:
        """One line (and a hint line): spec text in a message cannot add lines or colours."""
        file, message = _printable(self.file), _printable(self.message)
        text = f"{file}:{self.line}:{self.col}: {self.code} {message}"
        if self.json_path:
            text += f" (at {_printable(self.json_path)})"
        if self.hint:
            text += f"\n    hint: {_printable(self.hint)}"
        return text


def _printable(text: str) -> str:
    """``text`` with control and other non-printable characters escaped as in a Python literal:
    a name or value quoted from a spec may hold a newline, NUL or a terminal escape sequence."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def format_json_path(path: Sequence[Any]) -> str:
    out = "$"
    for step in path:
        out += f"[{step}]" if isinstance(step, int) else f".{step}"
    return out


def at(
    origin: Origin,
    code: str,
    message: str,
    *steps: str | int,
    hint: str = "",
    key: bool = False,
    show_path: bool = False,
) -> Diagnostic:
    """Build a diagnostic located at ``origin`` + ``steps`` (the key itself when ``key``)."""
    where = origin.at(*steps)
    locate = where.source.locate_key if key else where.source.locate
    line, col = locate(where.path)
    return Diagnostic(
        where.source.name,
        line,
        col,
        code,
        message,
        format_json_path(where.path) if show_path else "",
        hint,
    )


def file_diagnostic(file: str, code: str, message: str, line: int = 1, col: int = 1) -> Diagnostic:
    return Diagnostic(file, line, col, code, message)


def render_all(diagnostics: Iterable[Diagnostic]) -> str:
    ordered = sorted(set(diagnostics))
    lines = [d.render() for d in ordered]
    count = len(ordered)
    lines.append(f"{count} error{'s' if count != 1 else ''}; nothing was written.")
    return "\n".join(lines)
