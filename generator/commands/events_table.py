"""``eventspec events``: how events are shown, as an aligned table or as JSON values."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Sequence
from typing import Any

from .. import textwidth
from ..textwidth import ljust, width

CLIP = 48  # table cells longer than this are clipped (--wide shows them whole)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def plain(value: Any) -> Any:
    """A JSON-native value: maps and scalars as they are, UUIDs and instants as strings."""
    if value is None or isinstance(value, dict | list | str | int | float | bool):
        return value
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    return str(value)


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        text = value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%fZ")
    elif isinstance(value, dict | list):
        text = json.dumps(value, ensure_ascii=False, sort_keys=True) if value else ""
    else:
        text = str(plain(value))
    # Stored text is user input: never let it move the cursor or recolour the terminal.
    return _CONTROL.sub(lambda match: repr(match.group())[1:-1], text)


def table(
    fields: list[str],
    rows: Sequence[dict[str, Any]],
    actors: Sequence[str],
    clip: int | None,
    more: bool,
) -> str:
    """An aligned table; the actor columns share one ``actor`` column (``user_id=...``)."""
    if not rows:
        return "no events match\n"
    shown = [name for name in fields if name not in actors]
    if any(name in actors for name in fields):
        shown.insert(next(i for i, name in enumerate(fields) if name in actors), "actor")

    def value(row: dict[str, Any], name: str) -> str:
        if name != "actor":
            return cell(row[name])
        who = [f"{a}={cell(row[a])}" for a in actors if a in row and row[a] is not None]
        return ", ".join(who)

    cells = [[value(row, name) for name in shown] for row in rows]
    clipped = False
    if clip is not None:
        for line in cells:
            for i, text in enumerate(line):
                if width(text) > clip:
                    line[i], clipped = textwidth.clip(text, clip - 1) + "…", True
    widths = [max(width(name), *(width(line[i]) for line in cells)) for i, name in enumerate(shown)]

    def render(line: Sequence[str]) -> str:
        return "  ".join(ljust(text, cols) for text, cols in zip(line, widths, strict=True))

    out = [render(shown).rstrip(), render(["-" * cols for cols in widths]).rstrip()]
    out += [render(line).rstrip() for line in cells]
    notes = [f"{len(rows)} event{'s' if len(rows) != 1 else ''}"]
    if more:
        notes = [f"the latest {notes[0]}, older ones match too: raise --limit"]
    if clipped:
        notes.append("long cells clipped: --wide or --json shows them whole")
    out.append(f"({'; '.join(notes)})")
    return "\n".join(out) + "\n"
