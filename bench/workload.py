"""The mixed event log replay is measured on, written through the generated actions.

About 60% creates, 30% updates and 10% destroys over Customer, Order (belongs to Customer) and
LineItem (belongs to Order); destroys only pick rows without live children, so the log is valid
under PostgreSQL's foreign keys. Deterministic for a given seed.
"""

from __future__ import annotations

import random
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from bench.shop import Customer, LineItem, Order, customers, line_items, orders


class Pool:
    """A set of ids with O(1) add, remove and random choice."""

    def __init__(self) -> None:
        self.items: list[uuid.UUID] = []
        self.index: dict[uuid.UUID, int] = {}

    def __len__(self) -> int:
        return len(self.items)

    def add(self, key: uuid.UUID) -> None:
        self.index[key] = len(self.items)
        self.items.append(key)

    def discard(self, key: uuid.UUID) -> None:
        position = self.index.pop(key, None)
        if position is None:
            return
        last = self.items.pop()
        if position < len(self.items):
            self.items[position] = last
            self.index[last] = position

    def choice(self, rng: random.Random) -> uuid.UUID:
        return self.items[rng.randrange(len(self.items))]


@dataclass
class Workload:
    rng: random.Random
    customers: Pool = field(default_factory=Pool)
    orders: Pool = field(default_factory=Pool)
    items: Pool = field(default_factory=Pool)
    childless_customers: Pool = field(default_factory=Pool)
    childless_orders: Pool = field(default_factory=Pool)
    children: Counter[uuid.UUID] = field(default_factory=Counter)
    parent: dict[uuid.UUID, uuid.UUID] = field(default_factory=dict)
    mix: Counter[str] = field(default_factory=Counter)
    serial: int = 0

    def step(self, session: Session) -> None:
        roll = self.rng.random()
        if roll < 0.6 or not self.customers:
            self.create(session)
        elif roll < 0.9:
            self.update(session)
        elif not self.destroy(session):
            self.create(session)

    # --- creates: 20% customers, 30% orders, 50% line items -----------------------------------

    def create(self, session: Session) -> None:
        self.serial += 1
        i, roll = self.serial, self.rng.random()
        if roll < 0.2 or not self.customers:
            record: Any = customers.create(session, email=f"c{i}@example.com", name=f"Customer {i}")
            self.customers.add(record.id)
            self.childless_customers.add(record.id)
        elif roll < 0.5 or not self.orders:
            owner = self.customers.choice(self.rng)
            record = orders.create(session, reference=f" ord-{i} ", customer_id=owner)
            self._adopt(record.id, owner, self.childless_customers)
            self.orders.add(record.id)
            self.childless_orders.add(record.id)
        else:
            owner = self.orders.choice(self.rng)
            record = line_items.create(
                session,
                sku=f"SKU-{i % 500}",
                quantity=self.rng.randint(1, 5),
                unit_price_cents=self.rng.randint(100, 10_000),
                order_id=owner,
            )
            self._adopt(record.id, owner, self.childless_orders)
            self.items.add(record.id)
        self.mix["create"] += 1

    def _adopt(self, child: uuid.UUID, owner: uuid.UUID, childless: Pool) -> None:
        self.parent[child] = owner
        self.children[owner] += 1
        childless.discard(owner)

    # --- updates -----------------------------------------------------------------------------

    def update(self, session: Session) -> None:
        roll = self.rng.random()
        if roll < 0.5 and self.items:
            item = session.get(LineItem, self.items.choice(self.rng))
            line_items.update(session, item, quantity=self.rng.randint(1, 9))
        elif roll < 0.8 and self.orders:
            order = session.get(Order, self.orders.choice(self.rng))
            status = self.rng.choice(("open", "paid", "shipped"))
            orders.update(session, order, status=status, note=f"now {status}")
        else:
            customer = session.get(Customer, self.customers.choice(self.rng))
            customers.update(session, customer, tier=self.rng.choice(("standard", "gold")))
        self.mix["update"] += 1

    # --- destroys: rows without live children only ---------------------------------------------

    def destroy(self, session: Session) -> bool:
        roll = self.rng.random()
        if roll < 0.15 and self.childless_customers:
            self._destroy_customer(session, self.childless_customers.choice(self.rng))
        elif roll < 0.4 and self.childless_orders:
            self._destroy_order(session, self.childless_orders.choice(self.rng))
        elif self.items:
            self._destroy_item(session, self.items.choice(self.rng))
        else:
            return False
        self.mix["destroy"] += 1
        return True

    def _destroy_customer(self, session: Session, key: uuid.UUID) -> None:
        customers.destroy(session, session.get(Customer, key))
        self.customers.discard(key)
        self.childless_customers.discard(key)

    def _destroy_order(self, session: Session, key: uuid.UUID) -> None:
        orders.destroy(session, session.get(Order, key))
        self.orders.discard(key)
        self.childless_orders.discard(key)
        self._orphan(key, self.childless_customers)

    def _destroy_item(self, session: Session, key: uuid.UUID) -> None:
        line_items.destroy(session, session.get(LineItem, key))
        self.items.discard(key)
        self._orphan(key, self.childless_orders)

    def _orphan(self, child: uuid.UUID, childless: Pool) -> None:
        owner = self.parent.pop(child)
        self.children[owner] -= 1
        if self.children[owner] == 0:
            del self.children[owner]
            childless.add(owner)


def build_log(
    engine: Engine,
    events: int,
    *,
    seed: int = 8,
    per_transaction: int = 500,
    on_progress: Callable[[int], None] | None = None,
) -> Counter[str]:
    """Write ``events`` events through the generated actions; return their mix by type."""
    workload = Workload(random.Random(seed))
    written = 0
    while written < events:
        with Session(engine) as session, session.begin():
            for _ in range(min(per_transaction, events - written)):
                workload.step(session)
                written += 1
        if on_progress is not None:
            on_progress(written)
    return workload.mix
