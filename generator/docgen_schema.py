"""One JSON Schema document rendered as Markdown sections, for docs/spec-reference.md.

Every object gets a section with one table row per key; a ``$defs`` entry is rendered once and
linked from every place that uses it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

Schema = dict[str, Any]


@dataclass
class Section:
    heading: str
    schema: Schema
    level: int
    path: str  # dotted path of the keys, "" for a whole document


@dataclass
class Document:
    """Renders one schema; ``shared`` maps definitions rendered elsewhere to their anchors."""

    name: str
    schema: Schema
    shared: dict[str, str]
    anchors: Anchors
    queue: list[Section] = field(default_factory=list)
    def_anchors: dict[str, str] = field(default_factory=dict)
    current: str = ""  # the definition being rendered, which must not link to itself

    @property
    def defs(self) -> dict[str, Schema]:
        defs: dict[str, Schema] = self.schema.get("$defs", {})
        return defs

    def link_def(self, name: str) -> str:
        if name in self.shared:
            return f"[`{name}`](#{self.shared[name]})"
        if name not in self.def_anchors:
            heading = f"`{name}`"
            self.def_anchors[name] = self.anchors.claim(heading)
            self.queue.append(Section(heading, self.defs[name], 3, name))
        return f"[`{name}`](#{self.def_anchors[name]})"

    def link_object(self, path: str, schema: Schema) -> str:
        heading = f"`{path}`"
        anchor = self.anchors.claim(heading)
        self.queue.append(Section(heading, schema, 3, path))
        return f"[`{path}`](#{anchor})"

    def type_of(self, schema: Schema, path: str) -> str:
        """The cell of the Type column: what a value at ``path`` may be."""
        if "$ref" in schema:
            return self.link_def(schema["$ref"].rsplit("/", 1)[-1])
        if "const" in schema:
            return f"`{_scalar(schema['const'])}`"
        if "enum" in schema:
            named = self._named_enum(schema["enum"])
            if named:
                return named
            return "one of " + ", ".join(f"`{_scalar(v)}`" for v in schema["enum"])
        for key in ("oneOf", "anyOf"):
            choices = [c for c in schema.get(key, []) if set(c) - {"required"}]
            if choices:
                return " or ".join(self.type_of(c, path) for c in choices)
        kinds = schema.get("type")
        if kinds is None:
            return "any value"
        if isinstance(kinds, list):
            return " or ".join(self.type_of({**schema, "type": kind}, path) for kind in kinds)
        if kinds == "object":
            if "properties" in schema:
                return "map: " + self.link_object(path, schema)
            values = schema.get("additionalProperties")
            if isinstance(values, dict):
                return "map of name to " + self.type_of(values, _join(path, "<name>"))
            return "map"
        if kinds == "array":
            items = self.type_of(schema.get("items", {}), f"{path}[]")
            least = schema.get("minItems")
            return f"list of {items}" + (f" (at least {least})" if least else "")
        if kinds == "string" and "pattern" in schema:
            return f"string matching `{schema['pattern']}`"
        if "minimum" in schema:
            return f"{kinds}, at least {schema['minimum']}"
        return str(kinds)

    def _named_enum(self, values: list[Any]) -> str | None:
        """Link a list of values that another definition names (the list of type names)."""
        for name, definition in self.defs.items():
            if name == self.current:
                continue
            for choice in [definition, *definition.get("oneOf", [])]:
                if choice.get("enum") == values:
                    return "a name listed in " + self.link_def(name)
        return None

    def render(self, first: Section) -> list[str]:
        """``first`` and every section it links to, each followed by the sections it links to."""
        pending = [first]
        lines: list[str] = []
        while pending:
            section = pending.pop(0)
            self.queue = []
            lines += self.render_section(section)
            pending[:0] = self.queue
        return lines

    def render_section(self, section: Section) -> list[str]:
        schema, path = section.schema, section.path
        if section.path in self.defs:
            self.current = section.path
        lines = ["#" * section.level + " " + section.heading, ""]
        if "description" in schema:
            lines += [_sentence(schema["description"]), ""]
        if "properties" not in schema:
            return lines + self._forms(schema, path)
        lines += self._table(schema, path)
        lines += self._notes(schema)
        return lines

    def _forms(self, schema: Schema, path: str) -> list[str]:
        """A definition that is not a single map: list what it may be written as."""
        choices = schema.get("oneOf")
        if not choices:
            return [f"Value: {self.type_of(schema, path)}.", ""]
        lines = ["Written as one of:", ""]
        for choice in choices:
            if choice.get("type") == "object" and "properties" in choice:
                lines.append("- a map with the keys below.")
            else:
                lines.append(f"- {self.type_of(choice, path)};")
        lines.append("")
        for choice in choices:
            if choice.get("type") == "object" and "properties" in choice:
                lines += self._table(choice, path) + self._notes(choice)
        return lines

    def _table(self, schema: Schema, path: str) -> list[str]:
        required = set(schema.get("required", []))
        lines = ["| Key | Type | Required | Description |", "|---|---|---|---|"]
        for key, value in schema["properties"].items():
            kind = self.type_of(value, _join(path, key))
            description = _sentence(value.get("description", ""))
            lines.append(
                f"| `{key}` | {_cell(kind)} | {'yes' if key in required else ''} "
                f"| {_cell(description)} |"
            )
        return [*lines, ""]

    def _notes(self, schema: Schema) -> list[str]:
        notes = []
        for key, words in (("oneOf", "Exactly one of"), ("anyOf", "At least one of")):
            groups = [c["required"] for c in schema.get(key, []) if set(c) == {"required"}]
            if groups:
                keys = ", ".join("+".join(f"`{k}`" for k in group) for group in groups)
                notes.append(f"{words} these keys is required: {keys}.")
        condition = schema.get("if", {}).get("properties", {})
        then = schema.get("then", {}).get("required", [])
        for key, test in condition.items():
            if "const" in test and then:
                needed = ", ".join(f"`{k}`" for k in then)
                notes.append(f"When `{key}` is `{_scalar(test['const'])}`, {needed} is required.")
        if schema.get("additionalProperties") is False:
            notes.append("Any other key is an error.")
        return [" ".join(notes), ""] if notes else []


class Anchors:
    """GitHub-style heading anchors, unique across the whole page."""

    def __init__(self) -> None:
        self.seen: dict[str, int] = {}

    def claim(self, heading: str) -> str:
        slug = _slug(heading)
        count = self.seen.get(slug, 0)
        self.seen[slug] = count + 1
        return slug if count == 0 else f"{slug}-{count}"


def _slug(heading: str) -> str:
    text = heading.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _scalar(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _sentence(text: str) -> str:
    text = text.strip()
    return text if not text or text.endswith((".", ")")) else text + "."


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
