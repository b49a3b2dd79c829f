"""Typed input: every spec type takes the Python values docs/types.md lists, and nothing else.

A project generated for these tests has one attribute of every spec type and one array of every
item type. The properties, per type and on both databases:

* a valid value written through an action (create, update, create_many) reads back from the row,
  decodes from the event, and comes back after replay, equal to what was given (after the
  documented coercions: an ``int`` for a ``float`` or ``decimal``, a ``str`` for a ``uuid``, ...);
* a wrong-typed value is a ``ValidationError`` naming the field, and nothing is written.
"""

from __future__ import annotations

import datetime as dt
import decimal
import importlib
import math
import uuid
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, delete, func, select
from sqlalchemy.orm import Session

from tests.projects import generated_package

SCALARS = (
    "string",
    "text",
    "integer",
    "big_integer",
    "float",
    "decimal",
    "boolean",
    "uuid",
    "uuidv7",
    "date",
    "time",
    "utc_datetime",
    "utc_datetime_usec",
    "naive_datetime",
    "map",
    "binary",
)
ENUM_VALUES = ("red", "green", "blue sky")
# Attributes set by defaults and soft destroys: the runtime checks them as it checks input.
DEFAULTED = {
    "now_date": "{type: date, default: now}",
    "now_naive": "{type: naive_datetime, default: now, update_default: now}",
    "now_utc": "{type: utc_datetime, default: now, update_default: now}",
    "lit_decimal": '{type: decimal, default: "1.25"}',
    "lit_date": '{type: date, default: "2024-02-29"}',
    "lit_time": '{type: time, default: "12:30:00"}',
    "lit_float": "{type: float, default: 2}",
    "lit_utc": '{type: utc_datetime_usec, default: "2024-01-01T10:00:00+02:00"}',
    "gone_at": "naive_datetime",
    "gone_utc": "utc_datetime",
}
KINDS = (*SCALARS, "enum")


def _spec() -> str:
    lines = [
        "kind: event_log",
        "name: Event",
        "---",
        "kind: resource",
        "name: Sample",
        "attributes:",
        "  id: {type: uuid, primary_key: true, default: uuid4, writable: false}",
    ]
    lines += [f"  v_{kind}: {kind}" for kind in SCALARS]
    lines += [f"  a_{kind}: {{type: {{array: {kind}}}}}" for kind in SCALARS]
    lines.append(f"  v_enum: {{type: enum, values: [{', '.join(ENUM_VALUES)}]}}")
    lines += [f"  {name}: {definition}" for name, definition in DEFAULTED.items()]
    names = ", ".join([f"v_{k}" for k in KINDS] + [f"a_{k}" for k in SCALARS])
    lines += [
        "actions:",
        f"  create: {{type: create, accept: [{names}]}}",
        f"  update: {{type: update, accept: [{names}]}}",
        "  destroy: {type: destroy}",
        "  reprice:",
        "    type: update",
        "    changes:",
        "      - set_attribute: {attribute: lit_decimal, value: 2.5}",
        '      - set_attribute: {attribute: lit_date, value: "2024-03-01"}',
        "  retire: {type: destroy, soft: {attribute: gone_at}}",
        "  retire_utc: {type: destroy, soft: {attribute: gone_utc}}",
        "events: {event_log: Event}",
    ]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleNamespace]:
    """The generated package, imported once for the module."""
    name = f"typed_{uuid.uuid4().hex[:8]}"
    with generated_package(tmp_path_factory.mktemp("typed"), name, {"all.yaml": _spec()}):
        modules = {
            part: importlib.import_module(f"{name}.data.{part}")
            for part in ("models", "replay", "errors", "actions.sample")
        }
        yield SimpleNamespace(
            models=modules["models"],
            replay=modules["replay"].replay,
            ValidationError=modules["errors"].ValidationError,
            samples=modules["actions.sample"],
        )


@pytest.fixture
def typed(package: SimpleNamespace, engine: Engine) -> SimpleNamespace:
    package.models.Base.metadata.create_all(engine)
    return SimpleNamespace(**vars(package), engine=engine)


# --- valid values: (what the caller passes, what the row and the event hold) -------------

Pair = tuple[Any, Any]


def _same(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Pair]:
    return strategy.map(lambda value: (value, value))


_TEXT = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=20)
_OFFSETS = st.integers(-23 * 60, 23 * 60).map(lambda m: dt.timezone(dt.timedelta(minutes=m)))
_AWARE = st.datetimes(
    min_value=dt.datetime(2, 1, 1), max_value=dt.datetime(9998, 12, 31), timezones=_OFFSETS
)
_JSON_FLOATS = st.floats(min_value=-(2.0**53) + 1, max_value=2.0**53 - 1)
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | _JSON_FLOATS | _TEXT,
    lambda inner: (
        st.lists(inner, min_size=1, max_size=3)
        | st.dictionaries(_TEXT, inner, min_size=1, max_size=3)
    ),
    max_leaves=8,
)
# Every decimal a double holds exactly: up to 15 significant digits (money in the millions too).
_DECIMALS = st.integers(0, 10).flatmap(
    lambda places: st.decimals(min_value=-(10**13), max_value=10**13, places=places)
).filter(lambda d: len(d.as_tuple().digits) <= 15) | st.just(decimal.Decimal("12345678.12"))

VALID: dict[str, st.SearchStrategy[Pair]] = {
    "string": _same(_TEXT),
    "text": _same(_TEXT),
    "integer": _same(st.integers(-(2**31), 2**31 - 1)),
    "big_integer": _same(st.integers(-(2**63), 2**63 - 1)),
    "float": _same(st.floats(allow_nan=False, allow_infinity=False))
    | st.integers(-(2**53), 2**53).map(lambda i: (i, float(i))),
    "decimal": _same(_DECIMALS)
    | st.integers(-(2**53), 2**53).map(lambda i: (i, decimal.Decimal(i))),
    "boolean": _same(st.booleans()),
    "uuid": _same(st.uuids()) | st.uuids().map(lambda u: (str(u), u)),
    "uuidv7": _same(st.uuids()),
    "date": _same(st.dates()),
    "time": _same(st.times()),
    "utc_datetime": _AWARE.map(lambda d: d.replace(microsecond=0)).map(
        lambda d: (d, d.astimezone(dt.UTC))
    ),
    "utc_datetime_usec": _AWARE.map(lambda d: (d, d.astimezone(dt.UTC))),
    "naive_datetime": _same(st.datetimes()),
    "map": _same(st.dictionaries(_TEXT, _JSON, max_size=4)),
    "binary": _same(st.binary(max_size=16))
    | st.binary(max_size=8).map(lambda b: (bytearray(b), b)),
    "enum": _same(st.sampled_from(ENUM_VALUES)),
}


def _array(kind: str) -> st.SearchStrategy[Pair]:
    pairs = st.lists(VALID[kind], max_size=4)
    as_list = pairs.map(lambda ps: ([p[0] for p in ps], [p[1] for p in ps]))
    as_tuple = pairs.map(lambda ps: (tuple(p[0] for p in ps), [p[1] for p in ps]))
    return as_list | as_tuple


def _values(kind: str) -> st.SearchStrategy[dict[str, Pair]]:
    """Input for one action call: the attribute of ``kind`` and its array (or None)."""
    fields = {f"v_{kind}": st.none().map(lambda _: (None, None)) | VALID[kind]}
    if kind != "enum":
        fields[f"a_{kind}"] = st.none().map(lambda _: (None, None)) | _array(kind)
    return st.fixed_dictionaries(fields)


def _clean(typed: SimpleNamespace) -> None:
    with Session(typed.engine) as session, session.begin():
        session.execute(delete(typed.models.Sample))
        session.execute(delete(typed.models.Event))


def _rows(typed: SimpleNamespace, names: list[str]) -> dict[Any, dict[str, Any]]:
    with Session(typed.engine) as session:
        rows = session.execute(select(typed.models.Sample.id, *_columns(typed, names))).all()
    return {row[0]: dict(zip(names, row[1:], strict=True)) for row in rows}


def _columns(typed: SimpleNamespace, names: list[str]) -> list[Any]:
    return [getattr(typed.models.Sample, name) for name in names]


def _recorded(typed: SimpleNamespace) -> list[tuple[str, Any, dict[str, Any]]]:
    """Each event's action, record id and input, decoded as replay decodes it."""
    actions = {a.name: a for a in (typed.samples.CREATE, typed.samples.UPDATE)}
    with Session(typed.engine) as session:
        events = session.scalars(select(typed.models.Event).order_by(typed.models.Event.id))
        out = []
        for event in events:
            decoders = actions[event.action].decoders
            data = {
                name: value if value is None or decoders[name] is None else decoders[name](value)
                for name, value in event.data.items()
            }
            out.append((event.action, uuid.UUID(str(event.record_id)), data))
    return out


def _check_round_trip(typed: SimpleNamespace, kind: str, data: Any) -> None:
    _clean(typed)
    first, second, many = data.draw(_values(kind)), data.draw(_values(kind)), []
    for _ in range(data.draw(st.integers(0, 2))):
        many.append(data.draw(_values(kind)))
    given_ = {name: pair[0] for name, pair in first.items()}
    with Session(typed.engine) as session, session.begin():
        record = typed.samples.create(session, **given_)
        updated = {name: pair[0] for name, pair in second.items()}
        typed.samples.update(session, record, **updated)
        others = typed.samples.create_many(
            session, [{name: pair[0] for name, pair in m.items()} for m in many]
        )
        ids = [record.id, *(o.id for o in others)]
    expected = {ids[0]: {name: pair[1] for name, pair in second.items()}}
    expected.update(
        (i, {name: pair[1] for name, pair in m.items()}) for i, m in zip(ids[1:], many, strict=True)
    )
    names = sorted(first)
    written = _rows(typed, names)
    assert written == expected  # the row holds what was given

    inputs = [(ids[0], first), (ids[0], second), *zip(ids[1:], many, strict=True)]
    recorded = _recorded(typed)
    assert [(rid, data) for _, rid, data in recorded] == [
        (rid, {name: pair[1] for name, pair in values.items()}) for rid, values in inputs
    ]  # the event holds what the row holds
    with Session(typed.engine) as session, session.begin():
        result = typed.replay(session)
    assert result.applied == len(inputs) and not result.warnings
    assert _rows(typed, names) == written  # replay rebuilds it


SETTINGS = settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
SLOW = settings(SETTINGS, max_examples=150)


@pytest.mark.parametrize("kind", KINDS)
@SETTINGS
@given(data=st.data())
def test_valid_values_are_written_recorded_and_replayed_alike(
    typed: SimpleNamespace, kind: str, data: Any
) -> None:
    _check_round_trip(typed, kind, data)


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
@SLOW
@given(data=st.data())
def test_valid_values_round_trip_long(typed: SimpleNamespace, kind: str, data: Any) -> None:
    _check_round_trip(typed, kind, data)


# --- wrong values -----------------------------------------------------------------------------

FAMILIES: dict[str, st.SearchStrategy[Any]] = {
    "str": _TEXT,
    "int": st.integers(-(2**31), 2**31 - 1),
    "huge_int": st.integers(1, 4095).map(lambda k: 2**64 + k),  # no float holds it exactly
    "bool": st.booleans(),
    "float": st.floats(allow_nan=False, allow_infinity=False).filter(lambda f: f != int(f)),
    "nonfinite": st.sampled_from([math.nan, math.inf, -math.inf]),
    "decimal": st.decimals(allow_nan=False, allow_infinity=False, places=2),
    "uuid": st.uuids(),
    "date": st.dates(),
    "time": st.times(),
    "aware_time": st.times(timezones=_OFFSETS),
    "naive": st.datetimes(),
    "aware": _AWARE,
    "bytes": st.binary(max_size=8),
    "dict": st.dictionaries(_TEXT, st.integers(), max_size=2),
    "bad_dict": st.sampled_from([{1: "x"}, {"k": math.nan}, {"k": {"x"}}, {"\x00": 1}]),
    "list": st.lists(st.integers(), max_size=2),
}
ACCEPTS: dict[str, set[str]] = {
    "string": {"str"},
    "text": {"str"},
    "integer": {"int"},
    "big_integer": {"int"},
    "float": {"int", "float"},
    "decimal": {"int", "decimal"},
    "boolean": {"bool"},
    "uuid": {"uuid"},
    "uuidv7": {"uuid"},
    "date": {"date"},
    "time": {"time"},
    "utc_datetime": {"aware"},
    "utc_datetime_usec": {"aware"},
    "naive_datetime": {"naive"},
    "map": {"dict"},
    "binary": {"bytes"},
    "enum": set(),
}


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def _wrong(kind: str) -> st.SearchStrategy[Any]:
    families = [f for f in FAMILIES if f not in ACCEPTS[kind]]
    wrong = st.sampled_from(families).flatmap(lambda family: FAMILIES[family])
    if kind in ("uuid", "uuidv7"):
        wrong = wrong.filter(lambda v: not (isinstance(v, str) and _is_uuid(v)))
    if kind == "enum":
        wrong = wrong.filter(lambda v: v not in ENUM_VALUES)
    if kind == "decimal":  # more digits than a double holds: refused on both databases
        wrong = wrong | st.just(decimal.Decimal("0.1234567890123456789"))
    if kind == "utc_datetime":
        wrong = wrong | _AWARE.map(lambda d: d.replace(microsecond=d.microsecond or 1))
    return wrong


def _count(typed: SimpleNamespace) -> tuple[int, int]:
    with Session(typed.engine) as session:
        counts = [
            session.scalar(select(func.count()).select_from(model)) or 0
            for model in (typed.models.Sample, typed.models.Event)
        ]
    return counts[0], counts[1]


def _check_wrong(typed: SimpleNamespace, kind: str, data: Any) -> None:
    field, value = f"v_{kind}", data.draw(_wrong(kind))
    if kind != "enum" and data.draw(st.booleans()):
        # An array: not a list at all, or a list with one wrong item among good ones.
        field = f"a_{kind}"
        good = data.draw(st.lists(VALID[kind].map(lambda p: p[0]), max_size=2))
        value = data.draw(st.sampled_from(["whole", "item"]))
        if value == "item":
            value = [*good, data.draw(_wrong(kind).filter(lambda v: v is not None))]
        else:
            value = data.draw(_wrong(kind).filter(lambda v: not isinstance(v, list)))
    with Session(typed.engine) as session, session.begin():
        call: Callable[[], Any] = data.draw(
            st.sampled_from(
                [
                    lambda: typed.samples.create(session, **{field: value}),
                    lambda: typed.samples.create_many(session, [{}, {field: value}]),
                ]
            )
        )
        with pytest.raises(typed.ValidationError) as caught:
            call()
        assert caught.value.field == field
    assert _count(typed) == (0, 0)


@pytest.mark.parametrize("kind", KINDS)
@SETTINGS
@given(data=st.data())
def test_wrong_values_are_refused_and_nothing_is_written(
    typed: SimpleNamespace, kind: str, data: Any
) -> None:
    _check_wrong(typed, kind, data)


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
@SLOW
@given(data=st.data())
def test_wrong_values_refused_long(typed: SimpleNamespace, kind: str, data: Any) -> None:
    _check_wrong(typed, kind, data)


# --- the reproducers, on both databases -----------------------------------------

REPRODUCERS = [
    # (field, value, what the message says): each once stored silently or failed in the driver.
    ("v_date", dt.datetime(2024, 5, 6, 7, 8, 9), "must be a datetime.date, not datetime"),
    ("v_string", b"bytes", "must be a str, not bytes"),
    ("a_string", "abc", "must be a list or a tuple, not str"),
    ("v_integer", 1.5, "must be an int, not float"),
    ("v_integer", 2**31, "must be within the 32-bit range"),
    ("v_float", math.nan, "must be a finite number"),
    ("v_enum", "purple", "must be one of red, green, blue sky"),
    ("v_boolean", 1, "must be a bool, not int"),
    ("v_utc_datetime_usec", dt.datetime(2024, 5, 6), "must be a timezone-aware datetime"),
    ("v_naive_datetime", dt.datetime(2024, 5, 6, tzinfo=dt.UTC), "must be a naive datetime"),
    ("v_decimal", 0.1, "must be a decimal.Decimal or an int, not float"),
    (
        "v_decimal",
        decimal.Decimal("0.1234567890123456789"),
        "must be a decimal that a double holds exactly",
    ),
    ("v_uuid", "not-a-uuid", "must be a uuid.UUID or a str holding one"),
    ("v_map", {"k": {1, 2}}, "must hold JSON values only, not set"),
    ("a_uuid", [uuid.uuid4(), "x"], "item 1 must be a uuid.UUID or a str holding one"),
    ("a_date", [dt.date(2024, 1, 1), None], "item 1 must not be None"),
    ("v_string", "nul\x00", "must not contain NUL characters"),
]


@pytest.mark.parametrize(("field", "value", "message"), REPRODUCERS)
def test_wrong_input_is_a_validation_error_on_every_path(
    typed: SimpleNamespace, field: str, value: Any, message: str
) -> None:
    with Session(typed.engine) as session, session.begin():
        kept = typed.samples.create(session)
        for call in (
            lambda: typed.samples.create(session, **{field: value}),
            lambda: typed.samples.create_many(session, [{}, {field: value}]),
            lambda: typed.samples.update(session, kept, **{field: value}),
        ):
            with pytest.raises(typed.ValidationError) as caught:
                call()
            assert (caught.value.field, message in caught.value.message) == (field, True)
            assert repr(value) not in str(caught.value) or isinstance(value, bool | int | float)
    assert _count(typed) == (1, 1)  # only the first create


def test_coerced_input_is_recorded_as_written(typed: SimpleNamespace) -> None:
    # An int for a decimal, a str for a uuid, a tuple for an array, an aware datetime in another
    # zone: the event records what the row holds, and replay gives the same row.
    some = uuid.uuid4()
    berlin = dt.timezone(dt.timedelta(hours=2))
    with Session(typed.engine) as session, session.begin():
        typed.samples.create(
            session,
            v_decimal=7,
            v_uuid=str(some),
            a_uuid=(str(some), some),
            v_utc_datetime_usec=dt.datetime(2024, 5, 6, 9, 0, 0, 5, tzinfo=berlin),
            v_binary=bytearray(b"\x00\xff"),
            a_date=[dt.date(2024, 2, 29)],
        )
    with Session(typed.engine) as session:
        event = session.scalars(select(typed.models.Event)).one()
        assert event.data["v_decimal"] == "7"
        assert event.data["v_uuid"] == str(some)
        assert event.data["a_uuid"] == [str(some), str(some)]
        assert event.data["v_utc_datetime_usec"] == "2024-05-06T07:00:00.000005+00:00"
        assert event.data["a_date"] == ["2024-02-29"]
        row = session.scalars(select(typed.models.Sample)).one()
        before = (row.v_decimal, row.v_uuid, row.a_uuid, row.v_utc_datetime_usec, row.v_binary)
        assert before == (
            decimal.Decimal(7),
            some,
            [some, some],
            dt.datetime(2024, 5, 6, 7, 0, 0, 5, tzinfo=dt.UTC),
            b"\x00\xff",
        )
        assert row.a_date == [dt.date(2024, 2, 29)]
    with Session(typed.engine) as session, session.begin():
        typed.replay(session)
    with Session(typed.engine) as session:
        row = session.scalars(select(typed.models.Sample)).one()
        after = (row.v_decimal, row.v_uuid, row.a_uuid, row.v_utc_datetime_usec, row.v_binary)
        assert after == before and row.a_date == [dt.date(2024, 2, 29)]


def test_arguments_are_checked_too(features: Engine) -> None:
    from features.data.actions import account as accounts
    from features.data.errors import ValidationError
    from features.data.models import Ledger

    with Session(features, expire_on_commit=False) as session, session.begin():
        account = accounts.open(session, owner="ann")
        for amount in ("10", 1.5, True, 2**63):
            with pytest.raises(ValidationError) as caught:
                accounts.deposit(session, account, amount=amount)  # type: ignore[arg-type]
            assert caught.value.field == "amount"
        accounts.deposit(session, account, amount=10)
        events = session.scalars(select(Ledger)).all()
    assert [e.action for e in events] == ["open", "deposit"]
    assert events[1].data == {"amount": 10} and account.balance == 10


def test_defaults_and_soft_destroys_are_of_their_type(typed: SimpleNamespace) -> None:
    with Session(typed.engine) as session, session.begin():
        first = typed.samples.create(session, v_string="a")
        second = typed.samples.create(session, v_string="b")
        typed.samples.update(session, first, v_string="c")
        typed.samples.reprice(session, second)
        typed.samples.retire(session, first)
        typed.samples.retire_utc(session, second)
        ids = (first.id, second.id)
    names = sorted(DEFAULTED)
    written = _rows(typed, names)
    row = written[ids[0]]
    assert type(row["now_date"]) is dt.date and row["now_naive"].tzinfo is None
    assert row["now_utc"].microsecond == 0 and row["now_utc"].tzinfo is not None
    assert (row["lit_decimal"], row["lit_date"], row["lit_time"], row["lit_float"]) == (
        decimal.Decimal("1.25"),
        dt.date(2024, 2, 29),
        dt.time(12, 30),
        2.0,
    )
    assert row["lit_utc"] == dt.datetime(2024, 1, 1, 8, tzinfo=dt.UTC)
    assert row["gone_at"].tzinfo is None and written[ids[1]]["gone_utc"].microsecond == 0
    repriced = written[ids[1]]
    assert (repriced["lit_decimal"], repriced["lit_date"]) == (
        decimal.Decimal("2.5"),
        dt.date(2024, 3, 1),
    )
    with Session(typed.engine) as session, session.begin():
        assert typed.replay(session).applied == 6
    assert _rows(typed, names) == written
