"""Reading spec files: YAML composed with positions, bounded, turned into plain values by hand.

YAML documents are composed into node trees with PyYAML's safe composer and turned into plain
values here, by hand, so that no tag can ever construct an object: a tag outside plain YAML is a
diagnostic, never a call.

Specs may come from someone else's pull request, so reading one is bounded before anything is
built: a file above ``MAX_FILE_BYTES`` is refused unread, and the parser's event stream is scanned
(without building anything) for nesting deeper than ``MAX_DEPTH`` and for more than ``MAX_NODES``
nodes once every alias is expanded, the way the rest of the pipeline will see them ("billion
laughs"). Only a file within the limits is composed and constructed.

Codes: ES001 YAML syntax error, ES002 duplicate key, ES003 unsupported tag or key, ES005 unreadable
file, ES006 too many nodes after alias expansion, ES007 nesting too deep, ES008 file too large,
ES009 an alias inside its own anchor.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import SafeConstructor

from .diagnostics import Diagnostic, Source

_YAML = "tag:yaml.org,2002:"
_SCALAR_TAGS = frozenset(_YAML + t for t in ("str", "int", "float", "bool", "null", "timestamp"))
_MERGE = _YAML + "merge"

MAX_FILE_BYTES = 1024 * 1024  # per file; the largest spec of the examples is 2 KB
MAX_NODES = 100_000  # per file, counting every use of an alias as a copy of its anchor
MAX_DEPTH = 64  # nested lists and maps, through aliases too; a resource needs about 8


@dataclass(frozen=True)
class Document:
    source: Source
    value: object


# libyaml composes about 15 times faster; a file it rejects is composed again by the pure-Python
# composer, so that syntax errors read the same whether or not libyaml is installed.
_FAST_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _compose(text: str) -> list[yaml.Node]:
    try:
        return list(yaml.compose_all(text, Loader=_FAST_LOADER))
    except yaml.YAMLError:
        return list(yaml.compose_all(text, Loader=yaml.SafeLoader))


def read_documents(path: Path, display: str) -> tuple[list[Document], list[Diagnostic]]:
    """Every non-empty YAML document of one file, or the diagnostics that make one unusable."""
    try:
        with path.open("rb") as handle:  # at most one byte past the limit, whatever the file is
            data = handle.read(MAX_FILE_BYTES + 1)
        text = data.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return [], [Diagnostic(display, 1, 1, "ES005", f"cannot read file: {reason}")]
    if len(data) > MAX_FILE_BYTES:
        message = f"file is larger than {_FILE_LIMIT}; it was not read"
        hint = f"eventspec reads files of at most {_FILE_LIMIT} each: split the specs into several"
        return [], [Diagnostic(display, 1, 1, "ES008", message, hint=hint)]
    limit = _limits(text, display)
    if limit is not None:
        return [], [limit]
    try:
        nodes = _compose(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = exc.problem or exc.context or "invalid YAML"
        return [], [Diagnostic(display, line, col, "ES001", f"YAML syntax error: {problem}")]
    except yaml.YAMLError as exc:
        return [], [Diagnostic(display, 1, 1, "ES001", f"YAML syntax error: {exc}")]
    documents: list[Document] = []
    diagnostics: list[Diagnostic] = []
    for node in nodes:
        if node is None or node.tag == _YAML + "null":
            continue  # an empty document, e.g. after a trailing "---"
        problems = _check(node, display)
        if not problems:
            problems = _flatten_merges(node, display)
        if problems:
            diagnostics.extend(problems)
            continue
        try:
            documents.append(Document(Source(path, node, display), construct(node)))
        except ScalarError as exc:
            diagnostics.append(_at(display, exc.node, "ES001", f"YAML syntax error: {exc}"))
    return documents, diagnostics


_FILE_LIMIT = f"{MAX_FILE_BYTES // 2**20} MiB"
_DEPTH_HINT = (
    f"eventspec reads lists and maps nested at most {MAX_DEPTH} deep (counting what aliases"
    " bring in); a spec needs about 8"
)
_NODES_HINT = (
    f"eventspec reads at most {MAX_NODES:,} YAML values per file, counting an alias each time it is"
    " used as a copy of what it refers to: use fewer aliases or split the file"
)


def _limits(text: str, display: str) -> Diagnostic | None:
    """The first place where the file breaks a reading limit, found on the parser's events.

    Nothing is composed: each anchor's expanded size and height are counted when it closes, and
    an alias adds them, so an alias bomb is refused after reading its few hundred bytes. A syntax
    error ends the scan; composing reports it.
    """
    anchors: dict[str, tuple[int, int]] = {}  # closed anchors: expanded size, height
    open_anchors: set[str] = set()
    stack: list[list[Any]] = []  # open collections: [anchor, size, height]
    total = 0
    try:
        for event in yaml.parse(text, Loader=_FAST_LOADER):
            size, height, mark = 0, 0, event.start_mark
            if isinstance(event, yaml.DocumentStartEvent):
                anchors.clear()
            elif isinstance(event, yaml.CollectionStartEvent):
                if len(stack) + 1 > MAX_DEPTH:
                    message = f"lists and maps nested more than {MAX_DEPTH} deep"
                    return _mark(display, mark, "ES007", message, _DEPTH_HINT)
                if event.anchor is not None:
                    open_anchors.add(event.anchor)
                stack.append([event.anchor, 1, 1])
                total += 1
            elif isinstance(event, yaml.CollectionEndEvent):
                anchor, size, height = stack.pop()
                if anchor is not None:
                    anchors[anchor] = (size, height)
                    open_anchors.discard(anchor)
            elif isinstance(event, yaml.ScalarEvent):
                size, height = 1, 1
                if event.anchor is not None:
                    anchors[event.anchor] = (1, 1)
                total += 1
            elif isinstance(event, yaml.AliasEvent):
                if event.anchor in open_anchors:
                    message = f"alias '*{event.anchor}' is used inside its own anchor"
                    hint = "an alias must refer to a list or map that is complete"
                    return _mark(display, mark, "ES009", message, hint)
                size, height = anchors.get(str(event.anchor), (1, 1))
                if len(stack) + height > MAX_DEPTH:
                    message = f"alias '*{event.anchor}' nests lists and maps over {MAX_DEPTH} deep"
                    return _mark(display, mark, "ES007", message, _DEPTH_HINT)
                total += size
            if total > MAX_NODES:
                message = f"more than {MAX_NODES:,} YAML values (an alias counts each time used)"
                return _mark(display, mark, "ES006", message, _NODES_HINT)
            if size and stack:
                stack[-1][1] += size
                stack[-1][2] = max(stack[-1][2], height + 1)
    except yaml.YAMLError:
        return None
    return None


def _mark(display: str, mark: Any, code: str, message: str, hint: str) -> Diagnostic:
    line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
    return Diagnostic(display, line, col, code, message, hint=hint)


def _check(node: yaml.Node, display: str) -> list[Diagnostic]:
    """Duplicate keys, non-scalar keys and unsupported tags, anywhere in the tree."""
    out: list[Diagnostic] = []
    seen: set[int] = set()
    stack = [node]
    while stack:
        current = stack.pop()
        if id(current) in seen:  # aliases share nodes
            continue
        seen.add(id(current))
        expected = {
            yaml.ScalarNode: None,
            yaml.SequenceNode: _YAML + "seq",
            yaml.MappingNode: _YAML + "map",
        }[type(current)]
        if (current.tag not in _SCALAR_TAGS) if expected is None else (current.tag != expected):
            out.append(_at(display, current, "ES003", f"unsupported YAML tag {_tag(current)}"))
        elif isinstance(current, yaml.SequenceNode):
            stack.extend(current.value)
        elif isinstance(current, yaml.MappingNode):
            out.extend(_check_keys(current, display))
            for key, value in current.value:
                stack.extend((key, value) if key.tag != _MERGE else (value,))
    return out


def _check_keys(node: yaml.MappingNode, display: str) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    first: dict[str, yaml.Node] = {}
    for key, _value in node.value:
        if not isinstance(key, yaml.ScalarNode):
            out.append(_at(display, key, "ES003", "mapping keys must be plain scalars"))
        elif key.tag == _MERGE:
            continue
        elif key.value in first:
            line = first[key.value].start_mark.line + 1
            message = f"duplicate key '{key.value}' (first defined at line {line})"
            out.append(_at(display, key, "ES002", message))
        else:
            first[key.value] = key
    return out


def _flatten_merges(node: yaml.Node, display: str) -> list[Diagnostic]:
    """Apply ``<<: *anchor`` merge keys in place, so positions and values agree."""
    seen: set[int] = set()
    stack = [node]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, yaml.MappingNode):
            if any(key.tag == _MERGE for key, _ in current.value):
                try:
                    SafeConstructor().flatten_mapping(current)
                except yaml.MarkedYAMLError as exc:
                    return [_at(display, current, "ES003", f"invalid merge key: {exc.problem}")]
            stack.extend(value for _, value in current.value)
        elif isinstance(current, yaml.SequenceNode):
            stack.extend(current.value)
    return []


class ScalarError(ValueError):
    """A scalar that its tag cannot read: ``!!int abc``, or an integer of 5,000 digits."""

    def __init__(self, node: yaml.Node, message: str) -> None:
        super().__init__(message)
        self.node = node


def construct(node: yaml.Node) -> object:
    """Plain values from a checked node tree: dicts with str keys, lists and scalars.

    Raises ScalarError for a scalar its (explicit) tag cannot read.
    """
    if isinstance(node, yaml.MappingNode):
        return {str(key.value): construct(value) for key, value in node.value}
    if isinstance(node, yaml.SequenceNode):
        return [construct(item) for item in node.value]
    if node.tag == _YAML + "timestamp":
        return str(node.value)  # dates stay strings: no spec key is date-typed
    text = node.value if len(node.value) <= 40 else node.value[:40] + "..."
    if node.tag == _YAML + "int" and len(node.value) > 4300:  # also bounds 1:2:3... (base 60)
        raise ScalarError(node, f"cannot read {text!r} as {_tag(node)}: too many digits")
    try:
        value = SafeConstructor().construct_object(node)
    except (ValueError, KeyError, ArithmeticError, yaml.YAMLError) as exc:
        # int() refuses more than 4300 digits (CVE-2020-10735); !!int/!!float/!!bool read anything
        reason = "too many digits" if "digits" in str(exc) else "not a valid value"
        raise ScalarError(node, f"cannot read {text!r} as {_tag(node)}: {reason}") from exc
    if isinstance(value, int) and value.bit_length() > _MAX_INT_BITS:
        # 0x/0b/0o and sexagesimal integers are not bounded by int(); str() of them would fail
        raise ScalarError(node, f"cannot read {text!r} as {_tag(node)}: too many digits")
    return value


_MAX_INT_BITS = 13_000  # about 3,900 decimal digits: str() and repr() of it always work


def _tag(node: yaml.Node) -> str:
    tag = str(node.tag)
    return "'!!" + tag.removeprefix(_YAML) + "'" if tag.startswith(_YAML) else f"'{tag}'"


def _at(display: str, node: yaml.Node, code: str, message: str) -> Diagnostic:
    mark = node.start_mark
    return Diagnostic(display, mark.line + 1, mark.column + 1, code, message)
