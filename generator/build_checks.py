"""Checks made while the IR is built: each name once (ES20x, ES270), every string (ES262, ES283).

Codes: ES201 invalid identifier (not a Python identifier, or a keyword), ES202 name reserved by the
generated code (read from the templates, see ``reserved.py``), ES203 class name not CamelCase,
ES262 text without a UTF-8 form, ES270 a name Python would read as another one (not in NFKC
form), ES283 a NUL character in a spec string.
"""

from __future__ import annotations

import keyword
import re
import unicodedata
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from .diagnostics import Diagnostic, Origin, at
from .printer import unrepresentable
from .reserved import generated_names

_CLASS_NAME = re.compile(r"[A-Z][A-Za-z0-9]*")
_TABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def unrepresentable_text(specs: Iterable[tuple[object, Origin]]) -> Iterator[Diagnostic]:
    """ES262: every string of every spec, keys included, must have a UTF-8 form."""
    stack = list(specs)
    while stack:
        value, origin = stack.pop()
        if isinstance(value, dict):
            for key, item in value.items():
                problem = unrepresentable(str(key))
                if problem is not None:
                    yield at(origin, "ES262", f"key {key!r} {problem}", key, key=True)
                stack.append((item, origin.at(key)))
        elif isinstance(value, list):
            stack.extend((item, origin.at(i)) for i, item in enumerate(value))
        elif isinstance(value, str) and (problem := unrepresentable(value)) is not None:
            yield at(origin, "ES262", f"text {value!r} {problem}")


def package_problem(package: str) -> str | None:
    """Why ``package`` is not an import path for the generated package (config and ``init``)."""
    for part in package.split("."):
        if not part.isidentifier():
            return "is not a dotted import path of Python identifiers like 'accounts.data'"
        if keyword.iskeyword(part):
            return f"contains the Python keyword {part!r}"
    return None


def output_problem(package: str, output: Path, root: Path) -> str | None:
    """Why the ``output`` folder cannot hold ``package``: its last folders must spell the package.

    The generated code, the alembic environment and the database commands import the package by
    its name from the folder above them.
    """
    parts = package.split(".")
    try:
        folders = (root / output).resolve().parts
    except (OSError, RuntimeError):
        return None  # a folder the system cannot look up is ES005
    if list(folders[-len(parts) :]) == parts:
        return None
    return (
        f"output folder {output.as_posix()!r} does not end with the package's folders "
        f"{'/'.join(parts)!r}: {package} could not be imported from it"
    )


def nul_characters(value: Any, origin: Origin) -> list[Diagnostic]:
    """ES283 for every string holding a NUL: no database stores it and C strings end there."""
    out: list[Diagnostic] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if "\x00" in key:
                message = f"the key {key!r} holds a NUL character"
                out.append(at(origin.at(key), "ES283", message, key=True))
            out.extend(nul_characters(item, origin.at(key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            out.extend(nul_characters(item, origin.at(index)))
    elif isinstance(value, str) and "\x00" in value:
        out.append(at(origin, "ES283", f"the value {value!r} holds a NUL character"))
    return out


class Names:
    """Collects identifier diagnostics while the IR is built."""

    def __init__(self) -> None:
        self.out: list[Diagnostic] = []

    def identifier(
        self, name: str, what: str, origin: Origin, role: str = "", *, inputs: bool = False
    ) -> None:
        """One rule set for every name: an identifier, not a keyword, written as Python reads it
        (NFKC), and not a name the generated code uses where this one lands (``role``: "model",
        "event log model"; ``inputs`` for names passed as keyword arguments of an action)."""
        if not name.isidentifier():
            self._add(origin, "ES201", f"{what} name '{name}' is not a valid Python identifier")
        elif keyword.iskeyword(name):
            self._add(origin, "ES201", f"{what} name '{name}' is a Python keyword")
        elif unicodedata.normalize("NFKC", name) != name:
            normal = unicodedata.normalize("NFKC", name)
            message = (
                f"{what} name '{name}' is '{normal}' to Python (identifiers are NFKC-normalised)"
            )
            hint = f"write it as '{normal}', so that Python and the database agree on the name"
            self.out.append(at(origin, "ES270", message, key=True, hint=hint))
        elif inputs and name in generated_names().action_parameters:
            reserved_names = ", ".join(sorted(generated_names().action_parameters))
            message = f"{what} name '{name}' is reserved by the generated code ({reserved_names})"
            self._add(origin, "ES202", message)
        elif role:
            self._member(name, what, origin, role)

    def _member(self, name: str, what: str, origin: Origin, role: str) -> None:
        names = generated_names()
        members = {
            "model": names.model_members,
            "event log model": names.log_members,
            "action input class": names.input_members,
        }[role]
        if name in members or (name.startswith("__") and name.endswith("__")):
            used = "a name the generated class reads, defines or inherits"
        elif name.startswith("_sa_"):
            used = "SQLAlchemy reserves the _sa_ prefix on mapped classes"
        else:
            return
        message = f"{what} name '{name}' would shadow a name of the generated {role} ({used})"
        self.out.append(at(origin, "ES202", message, key=True, hint="choose another name"))

    def class_name(self, name: str, what: str, origin: Origin) -> None:
        if not _CLASS_NAME.fullmatch(name) or keyword.iskeyword(name):
            message = (
                f"{what} name '{name}' must be a CamelCase class name (A-Z, then letters/digits)"
            )
            self.out.append(at(origin, "ES203", message, "name"))
        elif name in generated_names().package_classes:
            reserved = ", ".join(sorted(generated_names().package_classes))
            message = f"{what} name '{name}' is a class of the generated package ({reserved})"
            self.out.append(at(origin, "ES202", message, "name"))

    def table(self, name: str, origin: Origin, explicit: bool) -> None:
        if not _TABLE_NAME.fullmatch(name):
            message = f"table name '{name}' must be letters, digits and underscores"
            self.out.append(at(origin, "ES201", message, *(("table",) if explicit else ("name",))))

    def _add(self, origin: Origin, code: str, message: str) -> None:
        self.out.append(at(origin, code, message, key=True))
