"""Property: replaying the log rebuilds exactly the state the actions built, at every event id."""

from __future__ import annotations

import contextlib
from typing import Any

from accounts.actors import SystemActor
from accounts.data.actions import org as orgs
from accounts.data.actions import user as users
from accounts.data.actions import user_role as roles
from accounts.data.clear_records import clear_records
from accounts.data.errors import ValidationError
from accounts.data.models import Event, Org, User
from accounts.data.replay import replay
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tests.test_replay import snapshot

EMAILS = [f"user{i}@example.com" for i in range(5)]
NAMES = st.sampled_from(["Acme", "Globex", "Initech", "Umbrella", "Hooli"])
index = st.integers(min_value=0, max_value=20)

operations = st.lists(
    st.one_of(
        st.tuples(st.just("org_create"), NAMES),
        st.tuples(st.just("org_rename"), index, NAMES),
        st.tuples(st.just("org_destroy"), index),
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
    min_size=1,
    max_size=25,
)
actors = st.sampled_from([None, SystemActor("cron"), "first-user"])


def pick(session: Session, model: Any, i: int) -> Any:
    rows = list(session.scalars(select(model).order_by(model.id)))
    return rows[i % len(rows)] if rows else None


def apply(session: Session, op: tuple[Any, ...], actor: Any) -> None:
    kind, *args = op
    if actor == "first-user":
        actor = pick(session, User, 0)
    if kind == "org_create":
        orgs.create(session, name=args[0], actor=actor)
    elif kind == "user_create":
        email, org_i, role, password = args
        org = pick(session, Org, org_i) if org_i is not None else None
        users.create(
            session,
            email=email,
            org_id=org.id if org else None,
            role=role,
            password=password,
            actor=actor,
            metadata={"op": kind},
        )
    elif kind == "user_register":
        users.register(session, email=args[0], given_name=args[1], actor=actor)
    elif kind in ("org_rename", "org_destroy"):
        org = pick(session, Org, args[0])
        if org is None:
            return
        if kind == "org_rename":
            orgs.rename(session, org, name=args[1], actor=actor)
        elif not session.scalar(select(func.count()).where(User.org_id == org.id)):
            orgs.destroy(session, org, actor=actor)
    elif kind == "role_grant":
        user = pick(session, User, args[0])
        if user is not None:
            roles.grant(session, name=args[1], user_id=user.id, actor=actor)
    else:
        user = pick(session, User, args[0])
        if user is None:
            return
        if kind == "user_update":
            users.update(session, user, given_name=args[1], actor=actor)
        elif kind == "user_suspend":
            users.suspend(session, user, actor=actor)
        elif kind == "user_soft_delete":
            users.soft_delete(session, user, actor=actor)
        else:
            for role in list(user.roles):
                roles.revoke(session, role, actor=actor)
            users.destroy(session, user, actor=actor)


def reset(engine: Engine) -> None:
    with Session(engine) as session, session.begin():
        clear_records(session)
        session.execute(delete(Event))


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(history=operations, actor_choices=st.lists(actors, min_size=25, max_size=25), data=st.data())
def test_replay_rebuilds_every_state_of_a_random_history(
    accounts: Engine, history: list[tuple[Any, ...]], actor_choices: list[Any], data: Any
) -> None:
    reset(accounts)
    moments: list[tuple[int, dict[str, list[Any]]]] = []
    for op, actor in zip(history, actor_choices, strict=False):
        with Session(accounts) as session, session.begin():
            # A failed action leaves nothing behind and the transaction goes on.
            with contextlib.suppress(ValidationError, IntegrityError):
                apply(session, op, actor)
            last = session.scalar(select(func.max(Event.id)))
        with Session(accounts) as session:
            if last is not None:
                moments.append((last, snapshot(session)))
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
