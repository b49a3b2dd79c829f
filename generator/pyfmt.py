"""Python expressions as small trees, so that ``filters.layout`` can print them as ruff would."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Call:
    fn: str
    args: Sequence[Expr] = ()
    kwargs: Sequence[tuple[str, Expr]] = ()


@dataclass(frozen=True)
class Seq:
    """A tuple, list or set literal: ``open`` is one of ``(``, ``[``, ``{``."""

    open: str
    items: Sequence[Expr] = field(default_factory=tuple)


@dataclass(frozen=True)
class Dict:
    """A dict literal; an item whose value is ``None`` is a ``**spread`` of its key."""

    items: Sequence[tuple[Expr, Expr | None]] = ()


def _item(key: Expr, value: Expr | None, render: str) -> str:
    return f"**{flat(key)}" if value is None else f"{flat(key)}: {render}"


Expr = str | Call | Seq | Dict  # a str is source text, emitted as is

_CLOSE = {"(": ")", "[": "]", "{": "}"}


def flat(expr: Expr) -> str:
    if isinstance(expr, str):
        return expr
    if isinstance(expr, Call):
        parts = [flat(a) for a in expr.args] + [f"{k}={flat(v)}" for k, v in expr.kwargs]
        return f"{expr.fn}({', '.join(parts)})"
    if isinstance(expr, Seq):
        inner = ", ".join(flat(i) for i in expr.items)
        if expr.open == "(" and len(expr.items) == 1:
            inner += ","
        return expr.open + inner + _CLOSE[expr.open]
    return (
        "{" + ", ".join(_item(k, v, flat(v) if v is not None else "") for k, v in expr.items) + "}"
    )
