"""The accounts example, start to finish: actions by several actors, an audit trail, replay.

`make demo` (from the repository root) generates the package, creates the tables with
`alembic upgrade head` and runs this file. By hand, from examples/accounts:

    eventspec generate && alembic upgrade head && python demo.py

It needs a migrated, empty database: sqlite:///accounts.db next to this file, or the URL in
EVENTSPEC_DATABASE_URL. It exits 1 if the replayed state differs from the state the actions built.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, func, inspect, select
from sqlalchemy.orm import Session

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "src"))  # the example's own package, generated code included

from accounts.actors import SystemActor  # noqa: E402
from accounts.data.actions import org, user  # noqa: E402
from accounts.data.errors import ValidationError  # noqa: E402
from accounts.data.models import Base, Event, Org, User, UserRole  # noqa: E402
from accounts.data.replay import replay  # noqa: E402

DATABASE_URL = os.environ.get("EVENTSPEC_DATABASE_URL", f"sqlite:///{HERE / 'accounts.db'}")
TRACKED = (Org, User, UserRole)
Snapshot = dict[str, list[tuple[Any, ...]]]  # table name -> its rows, sorted


def main() -> int:
    engine = create_engine(DATABASE_URL)
    try:
        problem = check_database(engine)
        if problem:
            print(f"error: {problem}", file=sys.stderr)
            return 1
        print(f"The accounts example on {engine.url.render_as_string(hide_password=True)}")
        ids, checkpoint, at_checkpoint = run_actions(engine)
        show_audit_trail(engine, ids)
        with Session(engine) as session:
            before = snapshot(session)
        past_ok = replay_to_checkpoint(engine, checkpoint, at_checkpoint)
        full_ok = full_replay(engine, before)
        return 0 if past_ok and full_ok else 1
    finally:
        engine.dispose()


def check_database(engine: Engine) -> str | None:
    """Why the demo cannot run on this database, or None."""
    shown = engine.url.render_as_string(hide_password=True)
    tables = inspect(engine).get_table_names()
    missing = [table for table in Base.metadata.tables if table not in tables]
    if missing:
        return (
            f"the tables {', '.join(sorted(missing))} are missing from {shown}: "
            "run `alembic upgrade head` in examples/accounts first (or `make demo`)"
        )
    with Session(engine) as session:
        count = session.scalar(select(func.count()).select_from(Event)) or 0
    if count:
        return (
            f"{shown} already holds {count} events; the demo starts from an empty database "
            "(`make demo` recreates accounts.db)"
        )
    return None


# --- 1. actions ----------------------------------------------------------------------------------


def run_actions(engine: Engine) -> tuple[dict[str, uuid.UUID], dt.datetime, Snapshot]:
    heading("1. Actions: each call writes its record and one event, in one transaction")
    row("actor", "action", "what happened", header=True)
    provisioning = SystemActor("provisioning")

    # Monday: a provisioning job creates the org with its owner, in one call (a nested write);
    # the owner adds a colleague.
    with Session(engine) as session, session.begin():
        acme = org.found(
            session,
            name="Acme",
            head_office={
                "street": "Keizersgracht 1",
                "postal_code": "1015 CJ",
                "city": "Amsterdam",
            },
            users=[
                {
                    "email": "ann@acme.test",
                    "given_name": "Ann",
                    "password": "correct horse",
                    "role": "owner",
                }
            ],
            actor=provisioning,
            metadata={"source": "provisioning"},
        )
        row("system:provisioning", "Org.found", "Acme (head office an embedded Address) + Ann")
        row("system:provisioning", "User.create", "ann@acme.test, nested; its hook grants owner")
        ann = session.scalars(select(User).where(User.org_id == acme.id)).one()
        ids = {"acme": acme.id, "ann": ann.id}
    with Session(engine) as session, session.begin():
        ann = session.get_one(User, ids["ann"])
        bob = user.create(
            session,
            email="bob@acme.test",
            given_name="Bob",
            password="hunter2",
            org_id=ids["acme"],
            actor=ann,
            metadata={"source": "admin-ui", "request_id": "req-7f3a"},
        )
        row("ann@acme.test", "User.create", "bob@acme.test; its hook grants role member")
        user.update(session, bob, given_name="Robert", actor=bob, metadata={"source": "profile"})
        row("bob@acme.test", "User.update", "given_name Bob -> Robert")
        ids["bob"] = bob.id

    with Session(engine) as session:
        at_checkpoint = snapshot(session)
    checkpoint = dt.datetime.now(dt.UTC)
    while dt.datetime.now(dt.UTC) <= checkpoint:  # later events must occur strictly after it
        time.sleep(0.001)
    print(f"  {'':<21}-- checkpoint {clock(checkpoint)} (replayed to in section 3) --")

    # Tuesday: a visitor signs up twice (an upsert), Bob changes his password, Ann cleans up.
    with Session(engine) as session, session.begin():
        cy = user.register(session, email="cy@example.com", metadata={"source": "signup"})
        row("anonymous", "User.register", "cy@example.com, a new row")
        cy = user.register(
            session, email="cy@example.com", given_name="Cy", metadata={"source": "signup"}
        )
        row("anonymous", "User.register", "cy@example.com again: the same row, given_name Cy")
        ann = session.get_one(User, ids["ann"])
        bob = session.get_one(User, ids["bob"])
        user.change_password(session, bob, password="correct horse battery", actor=bob)
        row("bob@acme.test", "User.change_password", "the event stores the password as null")
        org.rename(session, session.get_one(Org, ids["acme"]), name="Acme Corp", actor=ann)
        row("ann@acme.test", "Org.rename", "Acme -> Acme Corp (slug acme-corp)")
        acme = session.get_one(Org, ids["acme"])
        office = {"street": "Coolsingel 40", "postal_code": "3011 AD", "city": "Rotterdam"}
        try:
            org.move(session, acme, head_office={**office, "postal_code": 3011}, actor=ann)
        except ValidationError as error:
            row("ann@acme.test", "Org.move", f"refused ({error}); nothing written")
        org.move(session, acme, head_office=office, actor=ann)
        row("ann@acme.test", "Org.move", "head office -> Rotterdam (country NL, its default)")
        reason = {"source": "admin-ui", "reason": "left the company"}
        user.suspend(session, bob, actor=ann, metadata=reason)
        row("ann@acme.test", "User.suspend", "bob@acme.test")
        try:
            user.suspend(session, bob, actor=ann, metadata=reason)
        except ValidationError as error:
            # The action's SAVEPOINT rolled back; this transaction goes on.
            row("ann@acme.test", "User.suspend", f"refused ({error}); nothing written")
        user.soft_delete(session, cy, actor=ann)
        row("ann@acme.test", "User.soft_delete", "cy@example.com: deleted_at set, row kept")
        ids["cy"] = cy.id
    with Session(engine) as session:
        events = session.scalar(select(func.count()).select_from(Event))
        roles = session.scalar(select(func.count()).select_from(UserRole))
    print(f"\n  {events} events in the log ({roles} of them UserRole.grant, written by the hook).")
    return ids, checkpoint, at_checkpoint


# --- 2. the audit trail --------------------------------------------------------------------------


def show_audit_trail(engine: Engine, ids: dict[str, uuid.UUID]) -> None:
    heading("2. The audit trail of bob@acme.test")
    with Session(engine) as session:
        names = {u.id: u.email for u in session.scalars(select(User))}
        events = session.scalars(
            select(Event).where(Event.record_id == ids["bob"]).order_by(Event.id)
        ).all()
        every = session.scalars(select(Event)).all()
    print(f"  {'id':>3}  {'occurred_at UTC':<15}  {'action':<17} v  {'actor':<14}  metadata")
    for event in events:
        line = (
            f"  {event.id:>3}  {clock(event.occurred_at):<15}  {event.action:<17} "
            f"{event.version}  {actor_of(event, names):<14}  {pairs(event.metadata_)}"
        )
        print(line.rstrip())
        if event.data:
            print(f"{'':<24}data     {pairs(event.data)}")
        if event.changed_attributes:
            print(f"{'':<24}changed  {', '.join(event.changed_attributes)}")
    print(
        "\n  data is the input exactly as given, except the sensitive password: stored as null."
        "\n  changed lists what the action set on its own, the password hash among them;"
        "\n  replay writes those values back, so it never needs the password."
    )
    by_actor = Counter(actor_of(event, names) for event in every)
    summary = ", ".join(f"{name} {count}" for name, count in sorted(by_actor.items()))
    print(f"\n  Events per actor: {summary}.")
    print("  The same from the command line, in examples/accounts:")
    print(f"    eventspec events --record-id {ids['bob']} --all")
    print(f"    eventspec events --actor user_id={ids['ann']}")


# --- 3. and 4. replay ----------------------------------------------------------------------------


def replay_to_checkpoint(engine: Engine, checkpoint: dt.datetime, expected: Snapshot) -> bool:
    heading(f"3. Replay to the checkpoint ({clock(checkpoint)}), look, roll back")
    with Session(engine) as session, rolled_back(session):
        result = replay(session, point_in_time=checkpoint)
        print(f"  {result.applied} events replayed into emptied tables; the users then were:\n")
        show_users(session)
        acme = session.scalars(select(Org)).one()
        print(f"\n  The org was called {acme.name!r}.")
        same = compare(expected, snapshot(session), "the state saved at the checkpoint")
    print("  The transaction is rolled back: the tables hold today's state again.")
    return same


def full_replay(engine: Engine, before: Snapshot) -> bool:
    heading("4. Full replay: clear every tracked table, rebuild it from the log")
    with Session(engine) as session:
        events_before = session.scalar(select(func.count()).select_from(Event))
    with Session(engine) as session, session.begin():
        result = replay(session)
    elapsed = f"{result.elapsed * 1000:.0f} ms"
    print(f"  {result.applied} events replayed in {elapsed}, by target action:")
    grouped: dict[str, list[str]] = {}
    for target, count in result.by_target.items():
        resource, action = target.split(".")
        grouped.setdefault(resource, []).append(f"{action} {count}")
    for resource, counts in sorted(grouped.items()):
        print(f"    {resource:<9} {', '.join(counts)}")
    for warning in result.warnings:
        print(f"    warning: {warning}")
    with Session(engine) as session:
        events_after = session.scalar(select(func.count()).select_from(Event))
        print()
        show_users(session)
        after = snapshot(session)
    print(f"\n  Events written by the replay: {(events_after or 0) - (events_before or 0)}.")
    print("  Hooks did not run again: the roles come from the UserRole.grant events.")
    return compare(before, after, "the state the actions built")


def compare(expected: Snapshot, actual: Snapshot, what: str) -> bool:
    """Print whether every row of every tracked table is as expected."""
    differences = [name for name in expected if expected[name] != actual[name]]
    if differences:
        print(f"  FAILED: the replayed {', '.join(differences)} differ from {what}:")
        for name in differences:
            print(f"    expected: {expected[name]}\n    replayed: {actual[name]}")
        return False
    rows = sum(len(table) for table in actual.values())
    print(f"  All {rows} rows equal, column by column, {what}.")
    return True


@contextmanager
def rolled_back(session: Session) -> Iterator[None]:
    session.begin()
    try:
        yield
    finally:
        session.rollback()


def snapshot(session: Session) -> Snapshot:
    """Every row of every tracked table, as sorted tuples."""
    out: Snapshot = {}
    for model in TRACKED:
        rows = session.execute(select(*model.__table__.columns)).all()
        out[model.__tablename__] = sorted((tuple(row) for row in rows), key=repr)
    return out


# --- printing ------------------------------------------------------------------------------------


def heading(title: str) -> None:
    print(f"\n{title}\n{'-' * len(title)}")


def row(actor: str, action: str, what: str, *, header: bool = False) -> None:
    print(f"  {actor:<20} {action:<21} {what}")
    if header:
        print(f"  {'-' * 20} {'-' * 21} {'-' * 13}")


def show_users(session: Session) -> None:
    users = session.scalars(select(User).order_by(User.created_at)).all()
    print(f"    {'email':<16} {'given_name':<11} {'status':<10} {'deleted':<8} roles")
    for u in users:
        names = ", ".join(sorted(r.name for r in u.roles))
        deleted = "yes" if u.deleted_at else ""
        name, status = u.given_name or "", u.status or ""
        print(f"    {u.email:<16} {name:<11} {status:<10} {deleted:<8} {names}".rstrip())


def clock(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%H:%M:%S.%f")


def actor_of(event: Event, names: dict[uuid.UUID, str]) -> str:
    if event.user_id is not None:
        return names.get(event.user_id, str(event.user_id))
    if event.system_actor is not None:
        return f"system:{event.system_actor}"
    return "anonymous"


def pairs(values: dict[str, Any]) -> str:
    """``key=value`` pairs, ids shortened to 8 characters."""
    shown = []
    for key, value in values.items():
        text = "null" if value is None else str(value)
        if len(text) == 36 and text.count("-") == 4:
            text = text[:8] + "..."
        shown.append(f"{key}={text}")
    return " ".join(shown)


if __name__ == "__main__":
    sys.exit(main())
