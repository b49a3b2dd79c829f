"""The benchmark's generated package (bench/project/src/benchshop/data) and its inputs."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path
from typing import Any

SRC = Path(__file__).resolve().parent / "project" / "src"
if str(SRC) not in sys.path:
    sys.path.insert(0, str(SRC))

from benchshop.data import _engine as engine  # noqa: E402
from benchshop.data._support import UTCDateTime, utcnow  # noqa: E402
from benchshop.data.actions import customer as customers  # noqa: E402
from benchshop.data.actions import line_item as line_items  # noqa: E402
from benchshop.data.actions import order as orders  # noqa: E402
from benchshop.data.models import Base, Customer, Event, LineItem, Order  # noqa: E402
from benchshop.data.replay import replay  # noqa: E402

__all__ = [
    "TABLES",
    "Base",
    "Customer",
    "Event",
    "LineItem",
    "Order",
    "UTCDateTime",
    "customer_input",
    "customer_row",
    "customers",
    "engine",
    "line_items",
    "orders",
    "replay",
    "utcnow",
]

# Children first: the order to clear them in.
TABLES = (Event.__table__, LineItem.__table__, Order.__table__, Customer.__table__)


def customer_input(i: int) -> dict[str, Any]:
    """What a caller passes to ``customers.create`` (``tier`` is left to its default)."""
    return {"email": f"customer{i}@example.com", "name": f"Customer {i}"}


def customer_row(i: int) -> dict[str, Any]:
    """The same customer as a full row, the way bare SQLAlchemy Core writes it."""
    now = utcnow()
    return {
        "id": uuid.uuid4(),
        **customer_input(i),
        "tier": "standard",
        "created_at": now,
        "updated_at": now,
    }
