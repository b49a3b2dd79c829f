"""Layout of Python expressions exactly as ``ruff format`` would print them (line length 100).

ruff treats brackets in two ways. A call that does not fit first "hugs": its arguments go on one
indented line between the brackets; only when that line is too long does every argument get its own
line and a trailing comma. Collection literals (tuples, lists, dicts) and ``from`` imports skip the
hugging step. Templates use these helpers, so generated code needs no formatter run.

Why not run a formatter instead: ruff ships as a binary, not a library, so generating would need a
subprocess per file and a pinned ruff on every user's machine; black lays some constructs out
differently from ruff. Layout here covers only what the views build (calls, collections,
annotations, imports) and the golden tests check every generated file with ``ruff format``.
"""

from __future__ import annotations

import ast
import unicodedata
from collections.abc import Iterable

from .pyfmt import Call, Dict, Expr, Seq, flat

WIDTH = 100
# Imports wrap at ruff's default line length: its isort then accepts them in a project with no
# configuration, and the trailing comma keeps them wrapped for ruff format at any width.
IMPORT_WIDTH = 88
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
        suffix = len(operator) + width(opening)
        annotation = type_layout(annotation, indent, len(name) + 2, suffix)
        head = f"{INDENT * indent}{name}: {annotation}{operator}"
        last = annotation.rsplit("\n", 1)[-1].lstrip(" ") if "\n" in annotation else head
        return head + layout(expr, indent, width(last) + len(operator) * ("\n" in annotation))
    if width(head + one_line) > WIDTH and width(head + opening) > WIDTH:
        # Not even the opening bracket fits: ruff wraps the right-hand side in parentheses, but
        # an atom (a long string) only when that makes it fit.
        pad = INDENT * (indent + 1)
        if isinstance(expr, str) and width(pad + one_line) > WIDTH:
            return head + one_line
        inner = layout(expr, indent + 1)
        return f"{head}(\n{pad}{inner}\n{INDENT * indent})"
    return head + layout(expr, indent, width(head) - len(INDENT) * indent)


def annotated(name: str, annotation: str, indent: int = 0) -> str:
    """``name: annotation`` on its own (a TypedDict field), laid out as ruff lays it out."""
    pad = INDENT * indent
    line = f"{pad}{name}: {annotation}"
    if width(line) <= WIDTH:
        return line
    tree = ast.parse(annotation, mode="eval").body
    if isinstance(tree, ast.BinOp):  # a union alone is put in parentheses to split it
        inner = type_layout(annotation, indent + 1)
        return f"{line[: len(pad) + len(name) + 2]}(\n{INDENT * (indent + 1)}{inner}\n{pad})"
    return f"{pad}{name}: {type_layout(annotation, indent, len(name) + 2)}"


def type_layout(annotation: str, indent: int = 0, prefix_len: int = 0, suffix_len: int = 0) -> str:
    """A type annotation that starts ``prefix_len`` columns into a line at ``indent`` levels:
    a subscript splits inside its brackets (a tuple of items one per line, with a trailing comma),
    a union puts each ``| part`` on a line of its own."""
    if width(annotation) <= WIDTH - len(INDENT) * indent - prefix_len - suffix_len:
        return annotation
    tree = ast.parse(annotation, mode="eval").body

    def source(node: ast.expr) -> str:
        text = ast.get_source_segment(annotation, node)
        assert text is not None
        return text

    pad, inner_pad = INDENT * indent, INDENT * (indent + 1)
    if isinstance(tree, ast.BinOp) and isinstance(tree.op, ast.BitOr):
        parts: list[ast.expr] = []
        node: ast.expr = tree
        while isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
            parts.insert(0, node.right)
            node = node.left
        parts.insert(0, node)
        lines = [type_layout(source(parts[0]), indent)]
        lines += ["| " + type_layout(source(p), indent, 2) for p in parts[1:]]
        return f"\n{pad}".join(lines)
    if isinstance(tree, ast.Subscript):
        head = source(tree.value)
        if isinstance(tree.slice, ast.Tuple):
            items = "".join(f"{inner_pad}{source(e)},\n" for e in tree.slice.elts)
            return f"{head}[\n{items}{pad}]"
        return f"{head}[\n{inner_pad}{type_layout(source(tree.slice), indent + 1)}\n{pad}]"
    return annotation


def from_import(module: str, names: Iterable[str]) -> str:
    """``from module import a, b`` sorted as ruff's isort does, exploded when too long."""
    ordered = sorted(set(names), key=import_name_key)
    line = f"from {module} import {', '.join(ordered)}"
    if width(line) <= IMPORT_WIDTH:
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
