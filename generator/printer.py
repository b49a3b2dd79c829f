"""The one way spec text becomes Python source: literals, docstrings and comments.

Specs are untrusted input (a pull request can change them), so every spec string that reaches
generated code goes through this module; templates never paste raw text. Each function returns
source that compiles to exactly the given value and that ``ruff format`` leaves as it is.
"""

from __future__ import annotations

import datetime
import decimal
import math
import uuid
from collections.abc import Mapping

from .pyfmt import Dict, Expr, Seq, flat

# ``repr`` escapes every character that is not printable; these have shorter spellings.
_ESCAPES = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def py(value: object) -> str:
    """A deterministic Python literal of ``value``, quoted as ruff format quotes.

    Dicts keep their order, lists stay lists and tuples tuples; a float that is not finite becomes
    ``float("inf")`` / ``float("nan")``; decimals, UUIDs, dates and times become constructor calls
    of their (imported) module, e.g. ``uuid.UUID("...")``.
    """
    if value is None or isinstance(value, bool | int):
        return repr(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else f"float({_string(repr(value))})"
    if isinstance(value, Mapping | list | tuple):
        return flat(expr(value))
    if isinstance(value, decimal.Decimal):
        return f"decimal.Decimal({_string(str(value))})"
    if isinstance(value, uuid.UUID):
        return f"uuid.UUID({_string(str(value))})"
    if isinstance(value, datetime.date | datetime.time | datetime.timedelta):
        # datetime.date(2024, 1, 2): only numbers, and the UTC zone by its Python 3.11 name.
        return repr(value).replace("datetime.timezone.utc", "datetime.UTC")
    raise TypeError(f"no Python literal for {type(value).__name__}")


def expr(value: object) -> Expr:
    """``value`` as a layout tree: a long list, tuple or dict breaks as ruff format breaks it."""
    if isinstance(value, Mapping):
        return Dict([(expr(k), expr(v)) for k, v in value.items()])
    if isinstance(value, list | tuple):
        return Seq("[" if isinstance(value, list) else "(", [expr(v) for v in value])
    return py(value)


def _string(value: str) -> str:
    # ruff prefers double quotes, unless the text holds more double quotes than single ones.
    quote = "'" if value.count('"') > value.count("'") else '"'
    return quote + "".join(_char(c, quote) for c in value) + quote


def _char(char: str, quote: str) -> str:
    if char == quote:
        return "\\" + char
    if char in _ESCAPES:
        return _ESCAPES[char]
    if char.isprintable():
        return char
    return repr(char)[1:-1]  # \x00, \x7f, \u2028, \U000e0001, a lone surrogate \ud800 ...


def docstring(text: str, indent: int = 0) -> str:
    """A triple-quoted docstring for ``text``, to print at ``indent`` levels.

    Its value is ``text`` with the docstring's indentation after every newline that starts a
    non-empty line and, when the source spans several lines, one more line holding only that
    indentation before the closing quotes (where ruff format puts them). Escapes keep it exact
    for any text: backslashes, quotes, control characters, spaces at either end of a line and blank
    lines at either end, which ruff format would strip, and a NUL, which Python source cannot hold.
    """
    if not text:
        raise ValueError("a docstring needs text")  # ruff turns an empty one into a space
    pad = "    " * indent
    lines = text.split("\n")
    head = 0
    while head < len(lines) - 1 and not lines[head]:
        head += 1
    tail = len(lines)
    while tail - 1 > head and not lines[tail - 1]:
        tail -= 1
    kept = lines[head:tail]
    body = [
        _doc_line(line, first=i == 0, last=i == len(kept) - 1 and len(kept) == 1)
        for i, line in enumerate(kept)
    ]
    # Blank lines at either end would be stripped: they stay as escaped newlines.
    body[0] = "\\n" * head + body[0]
    body[-1] += "\\n" * (len(lines) - tail)
    if len(body) == 1:
        return f'"""{body[0]}"""'
    rest = "".join(f"\n{pad}{line}" if line else "\n" for line in body[1:])
    return f'"""{body[0]}{rest}\n{pad}"""'


def _doc_line(line: str, *, first: bool, last: bool) -> str:
    chars: list[str] = []
    run = 0  # consecutive unescaped double quotes: a third one would close the docstring
    for char in line:
        run = run + 1 if char == '"' else 0
        chars.append('\\"' if run == 3 else _char(char, quote=""))
        run %= 3
    # ruff strips spaces at either end of a line, and keeps a quote that touches the docstring's
    # own quotes off them with a space: escaped, they are neither.
    if chars and chars[0] == " ":
        chars[0] = "\\x20"
    elif first and chars and chars[0] == '"':
        chars[0] = '\\"'
    if chars and chars[-1] == " ":
        chars[-1] = "\\x20"
    if last:
        for i in range(len(chars) - 1, -1, -1):
            if chars[i] != '"':
                break
            chars[i] = '\\"'
    return "".join(chars)


def comment(text: str) -> str:
    """``text`` made safe to follow ``#`` on one line: no character can end the comment."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def unrepresentable(text: str) -> str | None:
    """Why ``text`` cannot appear in generated code, or None: a lone surrogate has no UTF-8
    form, so no file, class docstring or database column can hold it."""
    for index, char in enumerate(text):
        if "\ud800" <= char <= "\udfff":
            return f"holds a lone surrogate {char!r} at index {index}"
    return None
