"""Layout of Python expressions exactly as ``ruff format`` would print them (line length 100).

ruff treats brackets in two ways. A call that does not fit first "hugs": its arguments go on one
indented line between the brackets; only when that line is too long does every argument get its own
line and a trailing comma. Collection literals (tuples, lists, dicts) and ``from`` imports skip the
hugging step. Templates use these helpers, so generated code needs no formatter run.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

import jinja2

from .pyfmt import Call, Dict, Expr, Seq, flat

WIDTH = 100
INDENT = "    "
_CLOSE = {"(": ")", "[": "]", "{": "}"}


def layout(expr: Expr, indent: int = 0, prefix_len: int = 0, suffix_len: int = 0) -> str:
    """Format ``expr`` that starts after ``prefix_len`` characters on a line at ``indent`` levels
    and is followed by ``suffix_len`` characters; continuation lines are indented accordingly."""
    one_line = flat(expr)
    room = WIDTH - len(INDENT) * indent - prefix_len - suffix_len
    if isinstance(expr, str) or width(one_line) <= room:
        return one_line
    pad = INDENT * (indent + 1)
    items: list[tuple[str, Expr]]
    if isinstance(expr, Call):
        opening, closing = f"{expr.fn}(", ")"
        items = [("", a) for a in expr.args] + [(f"{k}=", v) for k, v in expr.kwargs]
        hugged = ", ".join(prefix + flat(value) for prefix, value in items)
        if items and len(pad) + width(hugged) <= WIDTH:
            return f"{opening}\n{pad}{hugged}\n{INDENT * indent}{closing}"
        if len(items) == 1:  # a sole argument splits inside its own brackets, without a comma
            prefix, value = items[0]
            inner = layout(value, indent + 1, width(prefix), 0)
            return f"{opening}\n{pad}{prefix}{inner}\n{INDENT * indent}{closing}"
    elif isinstance(expr, Seq):
        opening, closing = expr.open, _CLOSE[expr.open]
        items = [("", item) for item in expr.items]
    else:
        assert isinstance(expr, Dict)
        opening, closing = "{", "}"
        items = [(f"{flat(k)}: ", v) if v is not None else ("**", k) for k, v in expr.items]
    if not items:
        return one_line
    lines = [
        pad + prefix + layout(value, indent + 1, width(prefix), 1) + "," for prefix, value in items
    ]
    return opening + "\n" + "\n".join(lines) + "\n" + INDENT * indent + closing


def width(text: str) -> int:
    """Columns ``text`` takes as ruff measures them (Unicode width): East Asian wide characters
    take two, combining marks none. Spec text may hold any of them in a literal."""
    if text.isascii():
        return len(text)
    return sum(_char_width(char) for char in text)


def _char_width(char: str) -> int:
    if unicodedata.category(char) in ("Mn", "Me", "Cf") or "\u1160" <= char <= "\u11ff":
        return 0  # marks, format characters and Hangul medial vowels and final consonants
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def statement(target: str, expr: Expr, indent: int = 0, operator: str = " = ") -> str:
    """``target = expr`` (or ``target: T = expr`` when ``target`` holds the annotation)."""
    head = INDENT * indent + target + operator
    one_line = flat(expr)
    if isinstance(expr, Call):
        opening = f"{expr.fn}("
    elif isinstance(expr, Seq):
        opening = expr.open
    else:
        opening = one_line if isinstance(expr, str) else "{"
    name, colon, annotation = target.partition(": ")
    if width(head + opening) > WIDTH and colon and annotation.endswith("]"):
        # The annotation alone is too long: ruff splits its outer subscript, e.g. Mapped[...].
        outer, _, inner = annotation[:-1].partition("[")
        pad = INDENT * (indent + 1)
        head = f"{INDENT * indent}{name}: {outer}[\n{pad}{inner}\n{INDENT * indent}]{operator}"
        return head + layout(expr, indent, len("]" + operator))
    if width(head + one_line) > WIDTH and width(head + opening) > WIDTH:
        # Not even the opening bracket fits: ruff wraps the right-hand side in parentheses.
        pad = INDENT * (indent + 1)
        inner = layout(expr, indent + 1)
        return f"{head}(\n{pad}{inner}\n{INDENT * indent})"
    return head + layout(expr, indent, width(head) - len(INDENT) * indent)


def from_import(module: str, names: Iterable[str]) -> str:
    """``from module import a, b`` sorted as ruff's isort does, exploded when too long."""
    ordered = sorted(set(names), key=import_name_key)
    line = f"from {module} import {', '.join(ordered)}"
    if width(line) <= WIDTH:
        return line
    body = "".join(f"{INDENT}{name},\n" for name in ordered)
    return f"from {module} import (\n{body})"


def import_name_key(name: str) -> tuple[int, str]:
    """isort's ``order-by-type``: CONSTANTS, then Classes, then functions and variables."""
    if name.isupper() and len(name) > 1:
        kind = 0
    elif name[:1].isupper():
        kind = 1
    else:
        kind = 2
    return (kind, name.lower())


def register_filters(env: jinja2.Environment) -> None:
    env.filters.update({"layout": layout, "statement": statement, "from_import": from_import})
