"""Property: replaying the log rebuilds exactly the state the actions built, at every event id."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import pytest
from accounts.actors import SystemActor
from accounts.data.actions import org as orgs
from accounts.data.actions import user as users
from accounts.data.actions import user_role as roles
from accounts.data.clear_records import clear_records
from accounts.data.errors import ValidationError
from accounts.data.models import Event, Org, User
from accounts.data.replay import replay
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tests.test_replay import snapshot

EMAILS = [f"user{i}@example.com" for i in range(5)]
NAMES = st.sampled_from(["Acme", "Globex", "Initech", "Umbrella", "Hooli"])
index = st.integers(min_value=0, max_value=20)

# Embedded values (the org's head office, an Address): valid ones, and ones its spec refuses.
BAD_ADDRESSES = [
    {"street": "Dam 1", "postal_code": 1012, "city": "Amsterdam"},  # a number for a string
    {"street": "", "postal_code": "1012", "city": "Amsterdam"},  # shorter than min_length
    {"street": "Dam 1", "city": "Amsterdam"},  # a required field left out
    {"street": "Dam 1", "postal_code": "1012", "city": "Amsterdam", "floor": 2},  # no such field
]
valid_addresses = st.one_of(
    st.none(),
    st.fixed_dictionaries(
        {
            "street": st.text(
                st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=8
            ),
            "postal_code": st.text(
                st.characters(codec="utf-8", exclude_characters="\x00"), max_size=6
            ),
            "city": st.sampled_from(["Delft", "Gent", "Zürich"]),
        },
        optional={"country": st.sampled_from(["NL", "BE", "CH"])},
    ),
)
addresses = st.one_of(valid_addresses, st.sampled_from(BAD_ADDRESSES))
org_create = st.tuples(st.just("org_create"), NAMES, addresses)
# Org.found: an org and its first users in one call (nested writes through Org.users).
first_users = st.lists(
    st.tuples(
        st.sampled_from(EMAILS),
        st.sampled_from(["member", "owner"]),
        st.one_of(st.none(), st.text(min_size=1, max_size=8)),
    ),
    max_size=3,
)
org_found = st.tuples(st.just("org_found"), NAMES, addresses, first_users)
# A history opens with a create into empty tables: it cannot be refused, so one operation applies.
opening = st.one_of(
    st.tuples(st.just("org_create"), NAMES, valid_addresses),
    st.tuples(
        st.just("user_create"), st.sampled_from(EMAILS), st.none(), st.just("member"), st.none()
    ),
)
operations = st.lists(
    st.one_of(
        org_create,
        org_found,
        st.tuples(st.just("org_rename"), index, NAMES),
        st.tuples(st.just("org_destroy"), index),
        st.tuples(st.just("org_move"), index, addresses),
        st.tuples(
            st.just("user_create"),
            st.sampled_from(EMAILS),
            st.one_of(st.none(), index),
            st.sampled_from(["member", "admin"]),
            st.one_of(st.none(), st.text(min_size=1, max_size=8)),
        ),
        st.tuples(st.just("user_register"), st.sampled_from(EMAILS), st.text(max_size=6)),
        st.tuples(st.just("user_update"), index, st.one_of(st.none(), st.text(max_size=6))),
        st.tuples(st.just("user_suspend"), index),
        st.tuples(st.just("user_soft_delete"), index),
        st.tuples(st.just("user_destroy"), index),
        st.tuples(st.just("role_grant"), index, st.sampled_from(["viewer", "editor"])),
    ),
    max_size=24,
)
histories = st.builds(lambda first, rest: [first, *rest], opening, operations)
actors = st.sampled_from([None, SystemActor("cron"), "first-user"])


def pick(session: Session, model: Any, i: int) -> Any:
    rows = list(session.scalars(select(model).order_by(model.id)))
    return rows[i % len(rows)] if rows else None


Refusal = type[Exception] | None


def exists(session: Session, *conditions: Any) -> bool:
    return session.scalar(select(func.count()).where(*conditions)) != 0


def has_nul(*values: str | None) -> bool:
    return any(value is not None and "\x00" in value for value in values)


def prepare(
    session: Session, op: tuple[Any, ...], actor: Any
) -> tuple[Callable[[], object], Refusal] | None:
    """The call that performs ``op``, and the error it must raise (``None``: it must apply),
    predicted from the state before it; ``None`` when the operation has no record to act on.

    Refusals: NUL in a string (a validation), an embedded address its spec refuses (a validation),
    a duplicate org slug or user email (a unique constraint), an org that still has users (a
    foreign key), suspending a suspended user.
    """
    kind, *args = op
    if actor == "first-user":
        actor = pick(session, User, 0)
    if kind == "org_create":
        # The sampled names are words whose slugs differ: equal slugs means equal names.
        clash = exists(session, Org.name == args[0])
        call = partial(orgs.create, session, name=args[0], head_office=args[1], actor=actor)
        if args[1] in BAD_ADDRESSES:  # checked before the insert could clash
            return call, ValidationError
        return call, IntegrityError if clash else None
    if kind == "org_found":
        name, office, first = args
        items = [{"email": e, "role": r, "password": p} for e, r, p in first]
        call = partial(orgs.found, session, name=name, head_office=office, users=items, actor=actor)
        return call, _found_refusal(session, name, office, first)
    if kind == "user_create":
        email, org_i, role, password = args
        org = pick(session, Org, org_i) if org_i is not None else None
        call = partial(
            users.create,
            session,
            email=email,
            org_id=org.id if org else None,
            role=role,
            password=password,
            actor=actor,
            metadata={"op": kind},
        )
        if has_nul(password):
            return call, ValidationError
        return call, IntegrityError if exists(session, User.email == email) else None
    if kind == "user_register":
        call = partial(users.register, session, email=args[0], given_name=args[1], actor=actor)
        return call, ValidationError if has_nul(args[1]) else None
    if kind in ("org_rename", "org_destroy", "org_move"):
        org = pick(session, Org, args[0])
        if org is None:
            return None
        if kind == "org_move":
            call = partial(orgs.move, session, org, head_office=args[1], actor=actor)
            return call, ValidationError if args[1] in BAD_ADDRESSES else None
        if kind == "org_rename":
            clash = exists(session, Org.name == args[1], Org.id != org.id)
            call = partial(orgs.rename, session, org, name=args[1], actor=actor)
            return call, IntegrityError if clash else None
        call = partial(orgs.destroy, session, org, actor=actor)
        return call, IntegrityError if exists(session, User.org_id == org.id) else None
    if kind == "role_grant":
        user = pick(session, User, args[0])
        if user is None:
            return None
        return partial(roles.grant, session, name=args[1], user_id=user.id, actor=actor), None
    user = pick(session, User, args[0])
    if user is None:
        return None
    if kind == "user_update":
        call = partial(users.update, session, user, given_name=args[1], actor=actor)
        return call, ValidationError if has_nul(args[1]) else None
    if kind == "user_suspend":
        call = partial(users.suspend, session, user, actor=actor)
        return call, ValidationError if user.status == "suspended" else None
    if kind == "user_soft_delete":
        return partial(users.soft_delete, session, user, actor=actor), None

    def destroy() -> None:
        for role in list(user.roles):
            roles.revoke(session, role, actor=actor)
        users.destroy(session, user, actor=actor)

    return destroy, None


def _found_refusal(
    session: Session, name: str, office: Any, first: list[tuple[str, str, str | None]]
) -> Refusal:
    """What Org.found raises: the org's own refusals first, then its users' in order (each
    written by User.create after the org); any of them leaves none of the writes."""
    if office in BAD_ADDRESSES:
        return ValidationError
    if exists(session, Org.name == name):
        return IntegrityError
    emails: set[str] = set()
    for email, _role, password in first:
        if has_nul(password):
            return ValidationError
        if email in emails or exists(session, User.email == email):
            return IntegrityError
        emails.add(email)
    return None


def reset(engine: Engine) -> None:
    with Session(engine) as session, session.begin():
        clear_records(session)
        session.execute(delete(Event))


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(history=histories, actor_choices=st.lists(actors, min_size=25, max_size=25), data=st.data())
def test_replay_rebuilds_every_state_of_a_random_history(
    accounts: Engine, history: list[tuple[Any, ...]], actor_choices: list[Any], data: Any
) -> None:
    reset(accounts)
    moments: list[tuple[int, dict[str, list[Any]]]] = []
    applied = refused = 0
    for op, actor in zip(history, actor_choices, strict=False):
        with Session(accounts) as session, session.begin():
            before = session.scalar(select(func.count(Event.id)))
            step = prepare(session, op, actor)
            if step is None:
                continue
            call, refusal = step
            if refusal is None:
                call()
                applied += 1
            else:
                # A refused action leaves nothing behind and the transaction goes on.
                with pytest.raises(refusal):
                    call()
                refused += 1
            written = session.scalar(select(func.count(Event.id)))
            assert written == before if refusal else written > before, op
            last = session.scalar(select(func.max(Event.id)))
        with Session(accounts) as session:
            if last is not None:
                moments.append((last, snapshot(session)))
    assert applied >= 1  # the opening create
    note(f"{applied} applied, {refused} refused, {len(history) - applied - refused} skipped")
    with Session(accounts) as session:
        final, events = snapshot(session), session.scalar(select(func.count(Event.id)))

    # Pages of 1 and 3 events put records' history across pages; 1000 holds it all in one.
    batch_size = data.draw(st.sampled_from([1, 3, 1000]), label="batch_size")
    with Session(accounts) as session, session.begin():
        replay(session, batch_size=batch_size)
    with Session(accounts) as session:
        assert snapshot(session) == final
        assert session.scalar(select(func.count(Event.id))) == events

    if moments:
        last_id, state = data.draw(st.sampled_from(moments), label="moment")
        with Session(accounts) as session, session.begin():
            replay(session, last_event_id=last_id, batch_size=batch_size)
            assert snapshot(session) == state
