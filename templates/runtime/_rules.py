"""Built-in validations and changes: the spec's ``present``, ``match``, ``set_attribute``, ...

Each builder returns a definition the action engine runs; generated action modules call them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from .changeset import Changeset
from .errors import ValidationError

ChangeFn = Callable[[Changeset], None]


@dataclass(frozen=True, slots=True)
class Check:
    """A validation. ``test`` returns ``None`` when valid, else ``(field, default message)``."""

    test: Callable[[Changeset], tuple[str | None, str] | None]
    message: str | None = None
    where: tuple[Check, ...] = ()
    user_code: bool = False  # runs a function of the user's (``call``), not only eventspec's

    @property
    def runs_user_code(self) -> bool:
        return self.user_code or any(check.runs_user_code for check in self.where)


@dataclass(frozen=True, slots=True)
class ChangeDef:
    kind: Literal["change", "before_action", "after_action"]
    run: Callable[..., None]
    where: tuple[Check, ...] = ()
    on_replay: bool = False  # a hook that runs on replay too (replay_allowed_changes)

    @property
    def runs_user_code(self) -> bool:
        """A hook, or a change whose function is the user's (built-in changes are defined here)."""
        own = self.kind == "change" and self.run.__module__ == __name__
        return not own or any(check.runs_user_code for check in self.where)


# --- built-in validations ------------------------------------------------------------------


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "")


def present(*names: str, message: str | None = None, where: tuple[Check, ...] = ()) -> Check:
    def test(cs: Changeset) -> tuple[str | None, str] | None:
        missing = next((n for n in names if _blank(cs.get(n))), None)
        return None if missing is None else (missing, "must be present")

    return Check(test, message, where)


def absent(*names: str, message: str | None = None, where: tuple[Check, ...] = ()) -> Check:
    def test(cs: Changeset) -> tuple[str | None, str] | None:
        extra = next((n for n in names if not _blank(cs.get(n))), None)
        return None if extra is None else (extra, "must be absent")

    return Check(test, message, where)


def match(
    name: str, pattern: str, message: str | None = None, where: tuple[Check, ...] = ()
) -> Check:
    compiled = re.compile(pattern)

    def test(cs: Changeset) -> tuple[str | None, str] | None:
        value = cs.get(name)
        if value is None or compiled.search(str(value)):
            return None
        return (name, f"must match {pattern}")

    return Check(test, message, where)


def one_of(
    name: str, values: Sequence[Any], message: str | None = None, where: tuple[Check, ...] = ()
) -> Check:
    allowed = tuple(values)

    def test(cs: Changeset) -> tuple[str | None, str] | None:
        value = cs.get(name)
        if value is None or value in allowed:
            return None
        return (name, f"must be one of {', '.join(map(str, allowed))}")

    return Check(test, message, where)


_COMPARISONS: dict[str, tuple[Callable[[Any, Any], bool], str]] = {
    "greater_than": (lambda a, b: a > b, "greater than"),
    "greater_than_or_equal_to": (lambda a, b: a >= b, "greater than or equal to"),
    "less_than": (lambda a, b: a < b, "less than"),
    "less_than_or_equal_to": (lambda a, b: a <= b, "less than or equal to"),
}


def compare(
    name: str, message: str | None = None, where: tuple[Check, ...] = (), **bounds: Any
) -> Check:
    def test(cs: Changeset) -> tuple[str | None, str] | None:
        value = cs.get(name)
        if value is None:
            return None
        for op, bound in bounds.items():
            holds, words = _COMPARISONS[op]
            other = cs.get(bound) if isinstance(bound, str) else bound
            if other is not None and not holds(value, other):
                return (name, f"must be {words} {bound}")
        return None

    return Check(test, message, where)


def string_length(
    name: str,
    min: int | None = None,
    max: int | None = None,
    message: str | None = None,
    where: tuple[Check, ...] = (),
) -> Check:
    def test(cs: Changeset) -> tuple[str | None, str] | None:
        value = cs.get(name)
        if value is None:
            return None
        size = len(str(value))
        if min is not None and size < min:
            return (name, f"must be at least {min} characters")
        if max is not None and size > max:
            return (name, f"must be at most {max} characters")
        return None

    return Check(test, message, where)


def attribute_equals(
    name: str, value: Any, message: str | None = None, where: tuple[Check, ...] = ()
) -> Check:
    def test(cs: Changeset) -> tuple[str | None, str] | None:
        return None if cs.get(name) == value else (name, f"must equal {value!r}")

    return Check(test, message, where)


def attribute_does_not_equal(
    name: str, value: Any, message: str | None = None, where: tuple[Check, ...] = ()
) -> Check:
    def test(cs: Changeset) -> tuple[str | None, str] | None:
        return None if cs.get(name) != value else (name, f"must not equal {value!r}")

    return Check(test, message, where)


def call(fn: ChangeFn, message: str | None = None, where: tuple[Check, ...] = ()) -> Check:
    """A user validation ``fn(changeset)`` that raises :class:`ValidationError`."""

    def test(cs: Changeset) -> tuple[str | None, str] | None:
        try:
            fn(cs)
        except ValidationError as error:
            return (error.field, error.message)
        return None

    return Check(test, message, where, user_code=True)


# --- built-in changes ----------------------------------------------------------------------


def set_attribute(
    name: str,
    *,
    value: Any = None,
    from_argument: str | None = None,
    from_actor: str | None = None,
    where: tuple[Check, ...] = (),
) -> ChangeDef:
    def run(cs: Changeset) -> None:
        if from_argument is not None:
            cs.attributes[name] = cs.arguments.get(from_argument)
        elif from_actor is not None:
            cs.attributes[name] = getattr(cs.actor, from_actor, None)
        else:
            cs.attributes[name] = value

    return ChangeDef("change", run, where)
