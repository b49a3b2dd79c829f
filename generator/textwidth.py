"""Text measured in terminal columns, for aligned tables: a CJK character or an emoji takes two
columns, a combining mark none (``len`` counts one for each)."""

from __future__ import annotations

from wcwidth import wcswidth, wcwidth


def width(text: str) -> int:
    """The columns ``text`` takes in a terminal."""
    columns = wcswidth(text)  # knows emoji sequences (ZWJ, skin tones) in recent wcwidth releases
    if columns >= 0:
        return columns
    # -1: a control character somewhere; count each such character as one column.
    return sum(columns if (columns := wcwidth(char)) >= 0 else 1 for char in text)


def clip(text: str, columns: int) -> str:
    """The longest start of ``text`` that fits in ``columns``; a wide character is never halved."""
    used = 0
    for i, char in enumerate(text):
        used += max(wcwidth(char), 0)
        if used > columns:
            return text[:i]
    return text


def ljust(text: str, columns: int) -> str:
    """``text`` padded with spaces to ``columns`` (``str.ljust`` counted in columns)."""
    return text + " " * max(columns - width(text), 0)
