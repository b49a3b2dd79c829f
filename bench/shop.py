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
from benchshop.data import _replay, _upcast  # noqa: E402
from benchshop.data import replay as replay_module  # noqa: E402
from benchshop.data._support import UTCDateTime, utcnow  # noqa: E402
from benchshop.data.actions import customer as customers  # noqa: E402
from benchshop.data.actions import line_item as line_items  # noqa: E402
from benchshop.data.actions import order as orders  # noqa: E402
from benchshop.data.aio.actions import customer as aio_customers  # noqa: E402
from benchshop.data.models import Base, Customer, Event, LineItem, Order  # noqa: E402
from benchshop.data.replay import VerifyResult, replay, verify  # noqa: E402

__all__ = [
    "TABLES",
    "Base",
    "Customer",
    "Event",
    "LineItem",
    "Order",
    "UTCDateTime",
    "VerifyResult",
    "aio_customers",
    "customer_input",
    "customer_row",
    "customers",
    "engine",
    "line_items",
    "orders",
    "replay",
    "replay_upcasting",
    "utcnow",
    "verify",
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


# One upcaster step for every event of the log: what upcasting costs replay (scenario 5).
UPCASTERS = {
    key: _upcast.Upcasters(
        versions={1: (_upcast.set_default("upcast_marker", 1, "changed_attributes"),)}
    )
    for key in replay_module.EVENT_ACTIONS
}


def replay_upcasting(session: Any) -> Any:
    """``replay(session)``, with every event going through one upcaster step first."""
    return _replay.run_replay(
        session,
        log=replay_module.EVENT,
        actions=replay_module.EVENT_ACTIONS,
        routes=replay_module.EVENT_ROUTES,
        clear=replay_module.clear_event,
        upcasters=UPCASTERS,
    )
