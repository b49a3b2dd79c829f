"""The alltypes golden case, run: every attribute type as a column, an input, an argument, a
default, an enum and an array item, created, updated, destroyed and replayed on both databases.

Its action module states only what the spec says beyond the model (the spec type, a sensitive
flag, bounds); nullability, defaults, keys, lengths, enum values and item types are read from the
mapped columns when it is imported. These tests pin what a user sees of that.
"""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from typing import Any

import pytest
from alltypes_data.actions import item as items
from alltypes_data.errors import ValidationError
from alltypes_data.models import Base, Event, Item
from alltypes_data.replay import replay
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

UTC = dt.UTC
DAY = dt.date(2021, 5, 6)
CLOCK = dt.time(7, 8, 9)
MOMENT = dt.datetime(2022, 3, 4, 5, 6, 7, 890123, tzinfo=UTC)
NAIVE = dt.datetime(2022, 3, 4, 5, 6, 7, 890123)
ID = uuid.UUID("9a1c7f0e-2b3d-4e5f-8a9b-0c1d2e3f4a5b")


@pytest.fixture
def alltypes(engine: Engine) -> Engine:
    Base.metadata.create_all(engine)
    return engine


def every_input() -> dict[str, Any]:
    """A value of its type for every attribute, none of them the default."""
    return {
        "a_string": "ünïcode 'and' \"quotes\"",
        "a_text": "x" * 1000,
        "a_integer": 42,
        "a_big_integer": 2**40,
        "a_float": 0.25,
        "a_decimal": decimal.Decimal("12345.6789"),
        "a_boolean": False,
        "a_uuid": ID,
        "a_uuidv7": ID,
        "a_date": DAY,
        "a_time": CLOCK,
        "a_utc_datetime": MOMENT.replace(microsecond=0),
        "a_utc_datetime_usec": MOMENT,
        "a_naive_datetime": NAIVE,
        "a_map": {"nested": {"list": [1, "two", None]}},
        "a_binary": b"\x00\xffbytes",
        "a_enum": "it's",
        "strings": ["x", "y"],
        "texts": ["long"],
        "integers": [3, 4],
        "big_integers": [2**40],
        "floats": [0.5],
        "decimals": [decimal.Decimal("1.10")],
        "booleans": [True, False],
        "uuids": [ID],
        "uuidv7s": [ID],
        "dates": [DAY],
        "times": [CLOCK],
        "utc_datetimes": [MOMENT.replace(microsecond=0)],
        "utc_datetime_usecs": [MOMENT],
        "naive_datetimes": [NAIVE],
        "maps": [{"a": 1}],
        "binaries": [b"\x01"],
    }


def snapshot(session: Session) -> list[tuple[Any, ...]]:
    columns = list(Item.__table__.columns)
    return sorted((tuple(row) for row in session.execute(select(*columns))), key=repr)


def test_definitions_come_from_the_mapped_columns() -> None:
    attributes = items.RESOURCE.attributes
    assert items.RESOURCE.primary_key == "id"
    assert attributes["id"].primary_key and not attributes["id"].allow_nil
    assert attributes["a_string"].max_length == 40 and not attributes["a_string"].allow_nil
    assert attributes["a_integer"].min == 0 and attributes["a_integer"].max == 100
    assert attributes["a_enum"].values == ("draft", "live", "it's")
    assert attributes["strings"].item == "string" and attributes["maps"].item == "map"
    assert attributes["updated_at"].update_default is not None
    assert attributes["a_binary"].default is None
    # A mutable default is a fresh value for every record.
    default = attributes["strings"].default
    assert default is not None and default() == ["a", "b"] and default() is not default()


def test_defaults_of_every_type(alltypes: Engine) -> None:
    with Session(alltypes) as session, session.begin():
        item = items.create(session, a_string="only this")
        assert isinstance(item.id, uuid.UUID)
        assert item.a_text == "long text"
        assert item.a_integer == 7 and item.a_big_integer == 9000000000
        assert item.a_float == 1.0 and isinstance(item.a_float, float)
        assert item.a_decimal == decimal.Decimal("3.14")
        assert item.a_boolean is True
        assert item.a_uuid == uuid.UUID("0b7e7f5c-3d0a-4c3e-9f5e-1f2d3c4b5a69")
        assert isinstance(item.a_uuidv7, uuid.UUID) and item.a_uuidv7.version == 7
        assert item.a_date == dt.date(2024, 1, 2) and item.a_time == dt.time(12, 30)
        assert item.a_utc_datetime is not None and item.a_utc_datetime.microsecond == 0
        assert item.a_utc_datetime_usec == dt.datetime(2024, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)
        assert item.a_naive_datetime == dt.datetime(2024, 1, 2, 3, 4, 5)
        assert item.a_map == {"k": [1, "two"]}
        assert item.a_enum == "draft"
        assert item.strings == ["a", "b"] and item.integers == [1, 2]
        second = items.create(session, a_string="another")
        assert second.strings == ["a", "b"] and second.strings is not item.strings


def test_limits_read_from_the_columns_are_enforced(alltypes: Engine) -> None:
    with Session(alltypes) as session, session.begin():
        with pytest.raises(ValidationError, match="a_string: must be at most 40 characters"):
            items.create(session, a_string="x" * 41)
        with pytest.raises(ValidationError, match="a_enum"):
            items.create(session, a_string="ok", a_enum="gone")  # type: ignore[typeddict-item]
        with pytest.raises(ValidationError, match="a_string: is required"):
            items.create(session, a_string=None)  # type: ignore[typeddict-item]


def test_every_type_round_trips_through_replay(alltypes: Engine) -> None:
    with Session(alltypes, expire_on_commit=False) as session, session.begin():
        full = items.create(session, **every_input())  # type: ignore[arg-type]
        plain = items.create(session, a_string="plain")
        items.tweak(session, plain)  # every argument's default
        items.tweak(
            session,
            full,
            s="s",
            t="from t",
            i=99,
            bi=1,
            f=0.5,
            d=decimal.Decimal("9.99"),
            b=True,
            u=ID,
            u7=ID,
            day=DAY,
            clock=CLOCK,
            at=MOMENT.replace(microsecond=0),
            at_usec=MOMENT,
            naive=NAIVE,
            m={"k": "v"},
            bin=b"\x02",
            mode="it's",
            tags=["from", "tags"],
            counts=[1],
            stamps=[MOMENT],
        )
        doomed = items.create(session, a_string="doomed")
        items.destroy(session, doomed)
    with Session(alltypes) as session, session.begin():
        tweaked = session.get(Item, full.id)
        assert tweaked is not None
        assert (tweaked.a_enum, tweaked.a_text, tweaked.a_integer) == ("live", "from t", 99)
        assert tweaked.a_decimal == decimal.Decimal("9.99")
        assert tweaked.a_date == dt.date(2030, 1, 1) and tweaked.strings == ["from", "tags"]
        defaulted = session.get(Item, plain.id)
        assert defaulted is not None
        assert (defaulted.a_text, defaulted.a_integer, defaulted.strings) == ("x", 1, ["x"])
        before = snapshot(session)
        assert len(before) == 2
        events = session.scalars(select(Event).order_by(Event.id)).all()
        actions = [e.action for e in events]
        assert actions == ["create", "create", "tweak", "tweak", "create", "destroy"]
    with Session(alltypes) as session, session.begin():
        result = replay(session)
        assert result.applied == 6
    with Session(alltypes) as session:
        assert snapshot(session) == before
