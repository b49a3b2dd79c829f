"""jsonschema errors turned into located, human diagnostics (ES1xx).

Codes: ES101 unknown type, ES102 unknown key, ES103 wrong type, ES104 invalid value, ES105 missing
key, ES106 any other schema violation.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from .diagnostics import Diagnostic, JsonPath, Origin, at
from .ir import SCALAR_TYPES

# Maps keyed by name: a path ending in (collection, name) reads as "attribute 'email'".
_NAMED = {
    "attributes": "attribute",
    "arguments": "argument",
    "relationships": "relationship",
    "actions": "action",
    "identities": "identity",
    "persist_actor_primary_key": "actor key",
}
_ITEMS = {
    "changes": "change",
    "validations": "validation",
    "where": "condition",
    "replay_overrides": "replay override",
    "route_to": "route_to target",
}
_PATTERN_HELP = {
    r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$": "expected a reference like 'pkg.module:name'",
    r"^auto$|^[A-Za-z_][\w.]*:[A-Za-z_]\w*$": "expected auto or a reference like 'pkg.module:name'",
    r"^[A-Za-z_]\w*$|^[A-Za-z_][\w.]*:[A-Za-z_]\w*$": (
        "expected a resource name or a reference like 'pkg.module:Class'"
    ),
    r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$": "expected a dotted import path like 'accounts.data'",
    r"^[A-Za-z_][A-Za-z0-9_]*$": "expected an environment variable name",
}
_MAX_UNKNOWN_KEYS = 100  # listed one by one per map; each costs a search for the closest name
_JSON_TYPES = {
    "object": "a map",
    "array": "a list",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "a boolean",
    "null": "null",
}


def schema_diagnostics(
    validator: Draft202012Validator, instance: object, origin: Origin, subject: str
) -> list[Diagnostic]:
    """Every violation of ``instance`` against the validator's schema, located in ``origin``."""
    explainer = _Explainer(validator, origin, subject)
    out: list[Diagnostic] = []
    for error in validator.iter_errors(instance):
        for leaf in explainer.leaves(error):
            out.extend(explainer.explain(leaf))
    return out


def kind_of(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "a map" if isinstance(value, dict) else type(value).__name__


class _Explainer:
    def __init__(self, validator: Draft202012Validator, origin: Origin, subject: str) -> None:
        self.validator = validator
        self.origin = origin
        self.subject = subject

    def leaves(self, error: ValidationError) -> Iterator[ValidationError]:
        """Descend into ``oneOf``/``anyOf`` to the branch that fits the value's type."""
        if error.validator not in ("oneOf", "anyOf") or not error.context:
            yield error
            return
        branches: Sequence[Any] = error.validator_value  # type: ignore[assignment]
        if _exactly_one_keys(branches) is not None:
            yield error
            return
        fitting = [i for i, branch in enumerate(branches) if self._fits(branch, error.instance)]
        if len(fitting) != 1:
            yield error
            return
        for sub in error.context:
            if sub.relative_schema_path and sub.relative_schema_path[0] == fitting[0]:
                yield from self.leaves(sub)

    def _fits(self, branch: Mapping[str, Any], instance: object) -> bool:
        if "type" in branch:
            types = branch["type"] if isinstance(branch["type"], list) else [branch["type"]]
            return any(self.validator.is_type(instance, t) for t in types)
        allowed = branch.get("enum", [branch["const"]] if "const" in branch else None)
        if allowed is not None:
            return any(type(instance) is type(v) for v in allowed)
        return True

    def explain(self, error: ValidationError) -> list[Diagnostic]:
        path: JsonPath = tuple(error.absolute_path)
        value = error.instance
        keyword = error.validator
        spec: Any = error.validator_value
        schema: Mapping[str, Any] = error.schema if isinstance(error.schema, Mapping) else {}
        if keyword == "additionalProperties" and isinstance(value, dict):
            known = sorted(schema.get("properties", {}))
            unknown = [key for key in value if key not in known]
            out = [
                self._diag((*path, key), "ES102", self._unknown_key(key, path, known), key=True)
                for key in unknown[:_MAX_UNKNOWN_KEYS]
            ]
            if len(unknown) > _MAX_UNKNOWN_KEYS:  # a generated or hostile file: say how many
                rest = len(unknown) - _MAX_UNKNOWN_KEYS
                message = f"{rest:,} more unknown keys in {self.container(path)} (not listed)"
                out.append(self._diag(path, "ES102", message))
            return out
        if keyword == "required" and isinstance(value, dict):
            return [
                self._diag(path, "ES105", f"missing key '{key}' in {self.container(path)}")
                for key in spec
                if key not in value
            ]
        if keyword in ("oneOf", "anyOf"):
            return self._alternatives(error, path)
        if keyword == "type":
            return [self._wrong_type(path, value, _expected(schema))]
        if keyword == "enum" and list(spec) == list(SCALAR_TYPES):
            return [self._unknown_type(path, value)]
        if keyword in ("enum", "const"):
            allowed = ", ".join(str(c) for c in (spec if keyword == "enum" else [spec]))
            parent = error.parent
            if parent is not None and parent.validator == "oneOf":
                others = [b for b in parent.validator_value if b is not error.schema]  # type: ignore[union-attr]
                allowed += f", or {_expected({'oneOf': others})}"
            message = f"invalid value {_show(value)} for {self.field(path)} (allowed: {allowed})"
            return [self._diag(path, "ES104", message)]
        if keyword == "pattern":
            help_text = _PATTERN_HELP.get(str(spec), f"expected a match for {spec}")
            message = f"invalid value {_show(value)} for {self.field(path)}: {help_text}"
            return [self._diag(path, "ES104", message)]
        if keyword in ("minItems", "minProperties") and spec == 1:
            return [self._diag(path, "ES106", f"{self.field(path)} must not be empty")]
        if keyword == "minimum":
            message = f"{self.field(path)} must be at least {spec}, got {_show(value)}"
            return [self._diag(path, "ES106", message)]
        return [self._diag(path, "ES106", f"invalid {self.field(path)}: {error.message}")]

    def _alternatives(self, error: ValidationError, path: JsonPath) -> list[Diagnostic]:
        keys = _exactly_one_keys(error.validator_value)  # type: ignore[arg-type]
        value = error.instance
        if keys is None:
            schema = error.schema if isinstance(error.schema, Mapping) else {}
            expected = _expected(schema)
            if kind_of(value) in expected.split(" or ") and schema.get("description"):
                # Of an allowed type, but no form fits: say which forms there are.
                message = f"invalid {self.field(path)}; allowed: {schema['description']}"
                return [self._diag(path, "ES106", message)]
            return [self._wrong_type(path, value, expected)]
        if not isinstance(value, dict):
            return []  # the object's own "type" error says it better
        present = [k for k in keys if k in value]
        choices = ", ".join(keys)
        known = error.schema.get("properties", {}) if isinstance(error.schema, Mapping) else {}
        if not present and any(k not in known for k in value):
            return []  # the unknown key, reported as ES102, is most likely the misspelled kind
        if not present:
            needs = "exactly one" if error.validator == "oneOf" else "at least one"
            message = f"{self.container(path)} needs {needs} of: {choices}"
            return [self._diag(path, "ES105", message)]
        both = " and ".join(f"'{k}'" for k in present)
        message = f"{self.container(path)} has {both}; use exactly one of: {choices}"
        return [self._diag(path, "ES106", message)]

    def _unknown_key(self, key: str, path: JsonPath, allowed: list[str]) -> str:
        message = f"unknown key '{key}' in {self.container(path)}"
        close = difflib.get_close_matches(key, allowed, n=1)
        if close:
            message += f"; did you mean '{close[0]}'?"
        return message + f" (allowed: {', '.join(allowed)})"

    def _unknown_type(self, path: JsonPath, value: object) -> Diagnostic:
        owner = path
        while owner and owner[-1] in ("type", "array"):
            owner = owner[:-1]
        message = f"unknown type {_show(value)} for {self.field(owner)}"
        close = difflib.get_close_matches(str(value), SCALAR_TYPES, n=1)
        if close:
            message += f"; did you mean '{close[0]}'?"
        message += f" (allowed: {', '.join(SCALAR_TYPES)}, or {{array: TYPE}})"
        return self._diag(path, "ES101", message)

    def _wrong_type(self, path: JsonPath, value: object, expected: str) -> Diagnostic:
        message = f"wrong type for {self.field(path)}: expected {expected}, got {kind_of(value)}"
        return self._diag(path, "ES103", message)

    def container(self, path: JsonPath) -> str:
        """Names the map or list at ``path``: "action 'create'", "change 1 of action 'create'"."""
        if not path:
            return self.subject
        last = path[-1]
        if len(path) >= 2 and isinstance(path[-2], str):
            if path[-2] in _NAMED and isinstance(last, str):
                return self._named(path)
            if path[-2] in _ITEMS and isinstance(last, int):
                return f"{_ITEMS[path[-2]]} {last + 1} of {self.container(path[:-2])}"
        if isinstance(last, int):
            return f"item {last + 1} of {self.container(path[:-1])}"
        return f"'{last}' of {self.container(path[:-1])}"

    def field(self, path: JsonPath) -> str:
        """Names the value at ``path``: "'accept' in action 'create'"."""
        if not path:
            return self.subject
        last = path[-1]
        if len(path) >= 2 and path[-2] in _NAMED and isinstance(last, str):
            return self._named(path)
        if isinstance(last, int):
            return f"item {last + 1} of {self.field(path[:-1])}"
        return f"'{last}' in {self.container(path[:-1])}"

    def _named(self, path: JsonPath) -> str:
        text = f"{_NAMED[str(path[-2])]} '{path[-1]}'"
        return text if len(path) == 2 else f"{text} of {self.container(path[:-2])}"

    def _diag(self, path: JsonPath, code: str, message: str, *, key: bool = False) -> Diagnostic:
        return at(Origin(self.origin.source, path), code, message, key=key, show_path=True)


def _exactly_one_keys(branches: Sequence[Any]) -> list[str] | None:
    """The keys of a ``oneOf: [{required: [a]}, {required: [b]}, ...]`` (one-key maps)."""
    keys: list[str] = []
    for branch in branches:
        if (
            not isinstance(branch, dict)
            or set(branch) != {"required"}
            or len(branch["required"]) != 1
        ):
            return None
        keys.append(str(branch["required"][0]))
    return keys


def _expected(schema: Mapping[str, Any]) -> str:
    kinds: list[str] = []
    branches = schema.get("oneOf") or schema.get("anyOf") or [schema]
    for branch in branches:
        if "type" in branch:
            types = branch["type"] if isinstance(branch["type"], list) else [branch["type"]]
            kinds.extend(_JSON_TYPES.get(str(t), str(t)) for t in types)
        elif "enum" in branch and branch["enum"] == list(SCALAR_TYPES):
            kinds.append("a type name")
        elif "enum" in branch or "const" in branch:
            values = branch.get("enum", [branch.get("const")])
            kinds.append(" or ".join(_show(v) for v in values))
    unique = list(dict.fromkeys(kinds))
    return " or ".join(unique) if unique else "another type"


def _show(value: object) -> str:
    if isinstance(value, str):
        if len(value) > 80:  # a huge value would swamp the message
            return f"'{value[:60]}...' ({len(value):,} characters)"
        return f"'{value}'"
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "null"}[value]
    if isinstance(value, (dict, list)):
        return kind_of(value)
    return str(value)
