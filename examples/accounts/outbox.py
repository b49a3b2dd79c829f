"""An outbox relay: every event of the accounts log, published once to a message broker.

The broker here is a callback ("publisher") that prints each message; a real one would send it
to Kafka, SQS, NATS or a webhook. The relay is a consumer of the log (``accounts.data.log``):
each batch is published, then the consumer's checkpoint moves past it in the same transaction.

Publishing is outside the database, so it happens *at least once*: a relay that dies after
publishing and before its commit publishes the same events again when it restarts. Each message
therefore carries the event id as its message id, and the receiving side drops a message whose
id it has seen (``Deduplicating`` below; brokers offer the same: Kafka's idempotent producer,
SQS FIFO deduplication ids, NATS ``Nats-Msg-Id``).

After `make demo`, from examples/accounts:

    python outbox.py            # publishes every event not yet published, then exits

It reads sqlite:///accounts.db next to this file, or the URL in EVENTSPEC_DATABASE_URL.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "src"))  # the example's own package, generated code included

from accounts.data.log import EventRow, consume  # noqa: E402

CONSUMER = "outbox"
Message = dict[str, Any]
Publisher = Callable[[Message], None]


def message(event: EventRow) -> Message:
    """What the broker receives: the event id is the message id, the key to deduplicate on."""
    return {
        "message_id": f"accounts-event-{event.id}",
        "type": f"{event.resource}.{event.action}",
        "record_id": str(event.record_id),
        "version": event.version,
        "occurred_at": event.occurred_at.isoformat(),
        "data": event.data,
    }


def relay(engine: Engine, publish: Publisher, *, batch: int = 100) -> int:
    """Publish every event after the outbox's checkpoint, one transaction per batch; the number
    of events published. A failure rolls back the batch's checkpoint: it is published again."""

    def publish_all(session: Session, events: list[EventRow]) -> None:
        for event in events:
            publish(message(event))

    total = 0
    while True:
        with Session(engine) as session, session.begin():
            published = consume(session, CONSUMER, publish_all, limit=batch)
        if not published:
            return total
        total += published


class Deduplicating:
    """The receiving side: handles each message id once, however often it is delivered."""

    def __init__(self, handle: Publisher) -> None:
        self.handle = handle
        self.seen: set[str] = set()

    def __call__(self, msg: Message) -> None:
        if msg["message_id"] in self.seen:
            return
        self.seen.add(msg["message_id"])
        self.handle(msg)


def main() -> None:
    url = os.environ.get("EVENTSPEC_DATABASE_URL", f"sqlite:///{HERE / 'accounts.db'}")
    engine = create_engine(url)
    count = relay(engine, Deduplicating(lambda msg: print(json.dumps(msg, sort_keys=True))))
    print(f"published {count} events", file=sys.stderr)


if __name__ == "__main__":
    main()
