"""Embedded specs (``kind: embedded``) -> the IR, each resolved into the types that name it.

An embedded spec may hold other embedded specs (``{embedded: NAME}``, ``{array: {embedded:
NAME}}``), so the specs are built depth first: a spec that contains itself, directly or through
others, is ES291 at the field that closes the cycle, and that field's type stays unresolved. A
name no spec defines is reported by the verifiers (ES290), as an unknown resource is.
"""

from __future__ import annotations

from typing import Any

from .build_behaviour import Raw, parse_default, parse_type, validations
from .build_checks import Names
from .diagnostics import Origin, at
from .ir import Constraints, Embedded, EmbeddedField


class EmbeddedSpecs:
    """The embedded spec documents of a project, built on demand and once each."""

    def __init__(self, specs: list[tuple[Raw, Origin]], names: Names) -> None:
        self.raw: dict[str, tuple[Raw, Origin]] = {}
        self.names = names
        self.built: dict[str, Embedded] = {}
        self._stack: list[str] = []
        self.all: list[Embedded] = []
        for raw, origin in specs:
            name = str(raw["name"])
            names.class_name(name, "embedded spec", origin)
            if name in self.raw:
                self.all.append(self._build(name, raw, origin))  # ES293 reports the duplicate
            else:
                self.raw[name] = (raw, origin)
        for name in self.raw:
            self.all.append(self.get(name))  # type: ignore[arg-type]
        # By name, and a name given twice in the order written: the second is the duplicate.
        self.all.sort(key=lambda e: (e.name, e.origin.source.name, e.origin.source.locate(())))

    def lookup(self, name: str) -> Embedded | None:
        """The built spec ``name`` (None: unknown, or part of a cycle being built)."""
        return self.built.get(name)

    def get(self, name: str) -> Embedded | None:
        if name in self.built:
            return self.built[name]
        if name not in self.raw:
            return None
        raw, origin = self.raw[name]
        self.built[name] = embedded = self._build(name, raw, origin)
        return embedded

    def _build(self, name: str, raw: Raw, origin: Origin) -> Embedded:
        self._stack.append(name)
        fields = tuple(
            self._field(name, field, spec, origin.at("attributes", field))
            for field, spec in raw["attributes"].items()
        )
        self._stack.pop()
        checks = validations(raw.get("validations", []), origin.at("validations"))
        return Embedded(name, origin, fields, raw.get("description", ""), checks)

    def _resolve(self, owner: str, origin: Origin) -> Any:
        def lookup(name: str) -> Embedded | None:
            if name in self._stack:
                cycle = " -> ".join([*self._stack[self._stack.index(name) :], name])
                message = f"embedded spec '{owner}' contains itself: {cycle}"
                hint = "an embedded value is finite: break the cycle (a map, or a relationship)"
                self.names.out.append(at(origin, "ES291", message, "type", hint=hint))
                return None
            return self.get(name)

        return lookup

    def _field(self, owner: str, name: str, raw: Any, origin: Origin) -> EmbeddedField:
        self.names.identifier(name, "field", origin)
        if not isinstance(raw, dict):
            return EmbeddedField(name, parse_type(raw), origin)
        return EmbeddedField(
            name=name,
            type=parse_type(raw["type"], raw.get("values"), self._resolve(owner, origin)),
            origin=origin,
            allow_nil=raw.get("allow_nil", True),
            default=parse_default(raw.get("default")),
            constraints=Constraints(**raw.get("constraints", {})),
            description=raw.get("description", ""),
        )
