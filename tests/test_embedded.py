"""Embedded attributes, run on both databases through the alltypes golden package: an Address
(`Item.address`) and a list of LineItems (`Item.line_items`) holding every type, one of them an
Address again.

What an action accepts is checked field by field and comes back from the row, the event and replay
as the same value: the types inside (decimals, dates, uuids, bytes, ...) included. A wrong value
anywhere inside is a ValidationError naming its path, and nothing is written.
"""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from pathlib import Path
from typing import Any

import pytest
from alltypes_data._support import to_json
from alltypes_data.actions import item as items
from alltypes_data.embedded import Address, LineItem
from alltypes_data.errors import ValidationError
from alltypes_data.models import Base, Event, Item
from alltypes_data.replay import replay
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

UTC = dt.UTC
SKU = uuid.UUID("5f0c6b1e-8d2a-4c3b-9e4f-a1b2c3d4e5f6")
SHIP_TO: Address = {"street": "Dam 1", "zip": "1012 JS", "note": "back door"}


@pytest.fixture
def alltypes(engine: Engine) -> Engine:
    Base.metadata.create_all(engine)
    return engine


def full_item() -> LineItem:
    """A line item with a value of its type in every field, none of them its default."""
    return {
        "sku": SKU,
        "quantity": 3,
        "price": decimal.Decimal("12.50"),
        "weight": 2.0,
        "big": 2**40,
        "gift": True,
        "shipped_on": dt.date(2024, 2, 29),
        "at": dt.datetime(2024, 2, 29, 23, 59, 58, 123456, tzinfo=UTC),
        "at_second": dt.datetime(2024, 3, 1, 1, 2, 3, tzinfo=dt.timezone(dt.timedelta(hours=2))),
        "local": dt.datetime(2024, 3, 1, 4, 5, 6, 7),
        "clock": dt.time(7, 8, 9, 10),
        "ref": uuid.UUID("01900000-0000-7000-8000-000000000001"),
        "state": "it's",
        "tags": ["ünï", "'quoted'"],
        "days": [dt.date(2020, 1, 1), dt.date(2021, 12, 31)],
        "extra": {"nested": [1, "two", None, {"x": 0.5}]},
        "blob": b"\x00\xff",
        "ship_to": SHIP_TO,
    }


ADDRESS: Address = {"street": "Main Street 1", "zip": "12345"}


def rows(session: Session) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in session.execute(select(Item.id, Item.address, Item.line_items))]


def counts(session: Session) -> tuple[int, int]:
    items_ = session.scalar(select(func.count()).select_from(Item)) or 0
    events = session.scalar(select(func.count()).select_from(Event)) or 0
    return items_, events


def test_create_fills_defaults_inside_and_reads_back_the_types(alltypes: Engine) -> None:
    with Session(alltypes) as session, session.begin():
        record = items.create(
            session, address=ADDRESS, line_items=[full_item(), {"sku": str(SKU), "price": 7}]
        )
        key = record.id
    with Session(alltypes) as session:
        stored = session.get_one(Item, key)
        assert stored.address == {
            "street": "Main Street 1",
            "zip": "12345",
            "country": "NL",  # its default
            "note": None,  # nullable, left out
        }
        assert stored.line_items is not None
        first, second = stored.line_items
        expected = dict(full_item())
        expected["at_second"] = dt.datetime(2024, 2, 29, 23, 2, 3, tzinfo=UTC)  # as UTC
        expected["ship_to"] = {**SHIP_TO, "country": "NL"}
        assert first == expected
        assert str(first["price"]) == "12.50"  # the decimal's own digits, not 12.5
        assert type(first["weight"]) is float  # JSONB gives 2.0 back as 2: decoded to float
        assert second["sku"] == SKU  # a str holding a uuid is stored as the uuid
        assert second["price"] == decimal.Decimal(7)
        assert second["quantity"] == 1 and second["state"] == "open" and second["tags"] == []
        assert isinstance(second["ref"], uuid.UUID)  # default_factory uuidv7, made once
        assert second["ship_to"] is None


def test_the_event_records_exactly_what_was_stored(alltypes: Engine) -> None:
    with Session(alltypes) as session, session.begin():
        key = items.create(session, address=ADDRESS, line_items=[full_item()]).id
    with Session(alltypes) as session:
        stored = session.get_one(Item, key)
        event = session.scalars(select(Event)).one()
        assert event.data["address"] == to_json(stored.address)
        assert event.data["line_items"] == to_json(stored.line_items)
        assert event.data["line_items"][0]["price"] == "12.50"
        assert event.data["line_items"][0]["ship_to"]["country"] == "NL"


@pytest.mark.parametrize(
    ("inputs", "field", "message"),
    [
        ({"address": {"street": "x", "zip": 1012}}, "address.zip", "must be a str, not int"),
        ({"address": {"street": "x"}}, "address.zip", "is required"),
        ({"address": {"street": "x", "zip": None}}, "address.zip", "is required"),
        ({"address": {"street": "", "zip": "1"}}, "address.street", "at least 1 characters"),
        ({"address": {"street": "x", "zip": "12345678901"}}, "address.zip", "at most 10"),
        ({"address": {"street": "x", "zip": "1", "city": "A"}}, "address.city", "not a field"),
        ({"address": ["Main Street"]}, "address", "must be a dict (Address), not list"),
        ({"line_items": [{"sku": SKU, "price": 1}, None]}, "line_items[1]", "must not be None"),
        (
            {"line_items": [{"sku": SKU, "price": 1}, {"sku": SKU, "price": 1, "quantity": "2"}]},
            "line_items[1].quantity",
            "must be an int, not str",
        ),
        ({"line_items": [{"sku": SKU, "price": 1, "quantity": 0}]}, "line_items[0].quantity", "1"),
        ({"line_items": [{"sku": "nope", "price": 1}]}, "line_items[0].sku", "uuid.UUID"),
        ({"line_items": [{"sku": SKU, "price": 0.1}]}, "line_items[0].price", "decimal.Decimal"),
        ({"line_items": [{"sku": SKU, "price": 1, "state": "x"}]}, "line_items[0].state", "one of"),
        ({"line_items": [{"sku": SKU, "price": 1, "days": ["2020"]}]}, "line_items[0].days", "0"),
        (
            {"line_items": [{"sku": SKU, "price": 1, "ship_to": {"street": "x", "zip": 5}}]},
            "line_items[0].ship_to.zip",
            "must be a str",
        ),
        (
            {"line_items": [{"sku": SKU, "price": 1, "at": dt.datetime(2020, 1, 1)}]},
            "line_items[0].at",
            "timezone-aware",
        ),
        ({"line_items": {"sku": SKU, "price": 1}}, "line_items", "must be a list"),
    ],
)
def test_a_wrong_value_inside_names_its_path_and_writes_nothing(
    alltypes: Engine, inputs: dict[str, Any], field: str, message: str
) -> None:
    with Session(alltypes) as session, session.begin():
        with pytest.raises(ValidationError) as raised:
            items.create(session, **inputs)
        assert raised.value.field == field
        assert message in raised.value.message
        assert counts(session) == (0, 0)
        assert not session.new  # no stale object in the session either


def test_a_refused_update_leaves_the_record_and_the_log_as_they_were(alltypes: Engine) -> None:
    with Session(alltypes) as session, session.begin():
        key = items.create(session, address=ADDRESS, line_items=[full_item()]).id
    with Session(alltypes) as session, session.begin():
        record = session.get_one(Item, key)
        before = rows(session)
        bad = [full_item(), {**full_item(), "quantity": 1001}]
        with pytest.raises(ValidationError, match=r"line_items\[1\]\.quantity: must be at most"):
            items.place(session, record, line_items=bad)
        assert record.line_items == before[0][2]  # the object in the session is unchanged
        assert rows(session) == before
        assert counts(session) == (1, 1)


def test_update_replaces_the_values_and_none_stores_sql_null(alltypes: Engine) -> None:
    with Session(alltypes) as session, session.begin():
        record = items.create(session, address=ADDRESS)
        items.place(session, record, address={**ADDRESS, "country": "DE"}, line_items=[])
        key = record.id
    with Session(alltypes) as session, session.begin():
        record = session.get_one(Item, key)
        assert record.address is not None and record.address["country"] == "DE"
        assert record.line_items == []
        items.place(session, record, address=None)
    with Session(alltypes) as session:
        # SQL NULL, not a JSON null: IS NULL finds it on both databases.
        found = session.scalar(select(func.count()).where(Item.address.is_(None)))
        assert found == 1
        assert session.scalar(text("SELECT count(*) FROM items WHERE address IS NULL")) == 1


def test_replay_rebuilds_embedded_values_exactly(alltypes: Engine) -> None:
    with Session(alltypes) as session, session.begin():
        record = items.create(session, address=ADDRESS, line_items=[full_item()])
        items.place(session, record, line_items=[full_item(), {"sku": SKU, "price": 1}])
        other = items.create(session, line_items=[{"sku": SKU, "price": decimal.Decimal("3.10")}])
        items.place(session, other, address={"street": "y", "zip": "2"})
        key = record.id
    with Session(alltypes) as session:
        before = sorted(rows(session), key=repr)
        stored = session.get_one(Item, key).line_items
    with Session(alltypes) as session, session.begin():
        result = replay(session)
        assert result.applied == 4
    with Session(alltypes) as session:
        after = sorted(rows(session), key=repr)
        assert after == before
        replayed = session.get_one(Item, key).line_items
        assert replayed is not None and stored is not None
        # Equal is not enough for decimals and floats: the same digits and the same type.
        assert [str(i["price"]) for i in replayed] == [str(i["price"]) for i in stored]
        assert [type(i["weight"]) for i in replayed] == [type(i["weight"]) for i in stored]
        # The uuidv7 default made when the action ran comes back; it is not made again.
        assert [i["ref"] for i in replayed] == [i["ref"] for i in stored]


def test_create_many_checks_every_value_and_writes_all_or_none(alltypes: Engine) -> None:
    good: list[items.CreateInput] = [{"address": ADDRESS}, {"line_items": [full_item()]}]
    bad: list[items.CreateInput] = [*good, {"address": {"street": "x", "zip": "1", "floor": 3}}]
    with Session(alltypes) as session, session.begin():
        with pytest.raises(ValidationError) as raised:
            items.create_many(session, bad)
        assert raised.value.field == "address.floor"
        assert counts(session) == (0, 0)
        created = items.create_many(session, good)
        keys = [record.id for record in created]
    with Session(alltypes) as session:
        assert counts(session) == (2, 2)
        first, second = (session.get_one(Item, key) for key in keys)
        assert first.address == {**ADDRESS, "country": "NL", "note": None}
        assert (
            second.line_items is not None and second.line_items[0]["price"] == full_item()["price"]
        )
        recorded = session.scalars(select(Event.data).order_by(Event.id)).all()
        assert [d.get("address") for d in recorded] == [to_json(first.address), None]
        assert recorded[1]["line_items"] == to_json(second.line_items)


# --- the event contract of an embedded spec -------------------------------------------------------

SHOP = """\
kind: resource
name: Shop
attributes:
  id: {type: uuid, primary_key: true, default: uuid4, writable: false}
  address: {type: {embedded: Address}}
actions:
  create: {type: create, accept: [address]}
events: {event_log: Event}
"""
ADDRESS_SPEC = """\
kind: embedded
name: Address
attributes:
  street: {type: string, allow_nil: false}
  zip: string
  country: {type: string, allow_nil: false, default: NL}
"""
CONTRACT_CHANGES = {
    # Recorded values hold every field of the old spec, so each must still be accepted.
    "field_removed": (True, [("  zip: string\n", "")]),
    "field_narrowed": (True, [("  zip: string", "  zip: integer")]),
    "field_made_required": (True, [("  zip: string", "  zip: {type: string, allow_nil: false}")]),
    "required_field_added": (
        True,
        [("  zip: string", "  zip: string\n  city: {type: string, allow_nil: false}")],
    ),
    "nullable_field_added": (False, [("  zip: string", "  zip: string\n  city: string")]),
    "field_with_default_added": (
        False,
        [("  zip: string", "  zip: string\n  city: {type: string, allow_nil: false, default: x}")],
    ),
    "field_widened": (False, [("  zip: string", "  zip: text")]),
    "field_made_nullable": (
        False,
        [("  street: {type: string, allow_nil: false}", "  street: string")],
    ),
}


@pytest.mark.parametrize("change", sorted(CONTRACT_CHANGES))
def test_a_change_inside_an_embedded_spec_is_judged_as_an_input_type_change(
    tmp_path: Path, change: str
) -> None:
    from eventspec.contracts import lock_diagnostics
    from eventspec.loader import load_project
    from eventspec.plan import make_plan, write

    (tmp_path / "specs").mkdir()
    (tmp_path / "eventspec.yaml").write_text("package: shop_data\noutput: shop_data\n")
    (tmp_path / "specs" / "event.yaml").write_text("kind: event_log\nname: Event\n")
    (tmp_path / "specs" / "shop.yaml").write_text(SHOP)
    spec = tmp_path / "specs" / "address.yaml"
    spec.write_text(ADDRESS_SPEC)
    project, problems = load_project(tmp_path / "eventspec.yaml")
    assert project is not None, problems
    write(make_plan(project))
    breaking, replacements = CONTRACT_CHANGES[change]
    text = ADDRESS_SPEC
    for old, new in replacements:
        text = text.replace(old, new)
    spec.write_text(text)
    project, problems = load_project(tmp_path / "eventspec.yaml")
    codes = [p.code for p in problems]
    if breaking:
        assert codes == ["ES302"], problems
        assert "input 'address' of Shop.create changed type" in problems[0].message
        assert problems[0].file == "specs/shop.yaml"
    else:
        assert project is not None and not codes, problems
        assert lock_diagnostics(project, ()) == []


@pytest.mark.parametrize(
    ("address", "path", "message"),
    [
        ({"street": "Dam 1", "zip": "!1012"}, "address.zip", "must be a postal code"),
        ({"street": "Dam 1", "zip": "1012", "country": "XX"}, "address.country", "one of"),
        ({"street": "Rue 1", "zip": "75001", "country": "FR"}, "address.note", "present"),
    ],
)
def test_an_embedded_specs_validations_name_the_path(
    alltypes: Engine, address: dict[str, Any], path: str, message: str
) -> None:
    with Session(alltypes) as session, session.begin():
        with pytest.raises(ValidationError) as failure:
            items.create(session, address=address)  # type: ignore[typeddict-item]
        assert failure.value.field == path and message in str(failure.value)
        with pytest.raises(ValidationError) as inner:
            items.create(session, line_items=[full_item(), {**full_item(), "ship_to": address}])  # type: ignore[typeddict-item]
        assert inner.value.field == "line_items[1].ship_to" + path.removeprefix("address")
        assert counts(session) == (0, 0)
        # Where its condition holds the check applies; elsewhere the value passes.
        record = items.create(
            session, address={"street": "Rue 1", "zip": "75001", "country": "FR", "note": "2e"}
        )
        assert record.address == {"street": "Rue 1", "zip": "75001", "country": "FR", "note": "2e"}
