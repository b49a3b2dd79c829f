"""Nested writes through has_many relationships (``manage_relationships``), on both databases,
through the nested golden package: a Team writes its Players with Player's own actions.

Each nested write is its own event (same actor and metadata as the parent's), in the parent's
SAVEPOINT: a failing item leaves none of the writes. Replay applies the parent's event without
its nested writes and each nested write from its own event, so nothing is created twice; the
hooks of nested actions (Player.create writes a Note) follow the replay rules of top-level ones.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Iterator
from typing import Any

import pytest
from nested_data.actions import fan as fans
from nested_data.actions import player as players
from nested_data.actions import team as teams
from nested_data.errors import ValidationError
from nested_data.models import Base, Event, Fan, Note, Player, Stadium, Team
from nested_data.replay import replay, verify
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from tests.engines import create_engine

SQUAD: list[teams.CreatePlayersItem] = [
    {"number": 1, "name": "Ada", "born_on": dt.date(1990, 12, 10)},
    {"number": 7, "name": "Brian", "salary": decimal.Decimal("1200.50")},
    {"number": 9, "name": "Cleo"},
]


@pytest.fixture
def nested(engine: Engine) -> Iterator[Engine]:
    Base.metadata.create_all(engine)
    yield engine


def count(session: Session, model: type[Any]) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def state(session: Session) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table but the log, sorted: what replay must give back exactly."""
    teams_ = session.execute(select(Team.id, Team.name, Team.created_at, Team.updated_at))
    players_ = session.execute(
        select(
            Player.id,
            Player.team_id,
            Player.number,
            Player.name,
            Player.born_on,
            Player.salary,
            Player.created_at,
            Player.updated_at,
        )
    )
    notes = session.execute(select(Note.id, Note.text))
    return {
        "teams": sorted(tuple(map(str, r)) for r in teams_),
        "players": sorted(tuple(map(str, r)) for r in players_),
        "notes": sorted(tuple(map(str, r)) for r in notes),
    }


def test_a_parent_and_three_children_are_four_records_and_four_events(nested: Engine) -> None:
    with Session(nested) as session, session.begin():
        team = teams.create(session, name="Lions", players=SQUAD, metadata={"source": "import"})
        team_id = team.id
    with Session(nested) as session:
        assert count(session, Team) == 1 and count(session, Player) == 3
        events = session.scalars(select(Event).order_by(Event.id)).all()
        # The parent first, then each player and the note its create hook wrote.
        assert [(e.resource, e.action) for e in events] == [
            ("Team", "create"),
            ("Player", "create"),
            ("Note", "create"),
            ("Player", "create"),
            ("Note", "create"),
            ("Player", "create"),
            ("Note", "create"),
        ]
        assert all(e.metadata_ == {"source": "import"} for e in events if e.resource != "Note")
        # The parent's event does not repeat the nested input; each child's records its own.
        assert events[0].data == {"name": "Lions"}
        assert events[1].data == {
            "number": 1,
            "name": "Ada",
            "born_on": "1990-12-10",
            "team_id": str(team_id),
        }
        brian = session.scalars(select(Player).where(Player.number == 7)).one()
        assert brian.team_id == team_id and brian.salary == decimal.Decimal("1200.50")


def test_replay_rebuilds_each_record_once(nested: Engine) -> None:
    with Session(nested) as session, session.begin():
        team = teams.create(session, name="Lions", players=SQUAD)
        teams.sign(
            session,
            team,
            players=[{"number": 7, "name": "Brian Jr"}, {"number": 10, "name": "Dee"}],
        )
    with Session(nested) as session:
        before = state(session)
        assert len(before["players"]) == 4 and len(before["notes"]) == 4
    with Session(nested) as session, session.begin():
        result = replay(session)
        assert result.applied == count(session, Event)
    with Session(nested) as session:
        assert state(session) == before


def test_verify_finds_the_rebuild_identical(nested: Engine, database_url: str) -> None:
    with Session(nested) as session, session.begin():
        team = teams.create(session, name="Lions", players=SQUAD)
        teams.set_roster(session, team, roster=[{"number": 12, "name": "Ivo"}])
    live = create_engine(database_url)  # verify reads the live database in a snapshot of its own
    try:
        result = verify(live)
    finally:
        live.dispose()
    assert result.identical and result.replay.applied == 13


def test_a_failing_third_child_leaves_nothing(nested: Engine) -> None:
    bad = [*SQUAD[:2], {"number": 9, "name": "cleo"}]
    with Session(nested) as session, session.begin():
        with pytest.raises(ValidationError) as failure:
            teams.create(session, name="Lions", players=bad)
        assert failure.value.field == "players[2].name"
        assert "capital" in str(failure.value)
        # The caller's transaction goes on, and nothing of the four writes is in it.
        assert (count(session, Team), count(session, Player), count(session, Event)) == (0, 0, 0)
        assert count(session, Note) == 0
        assert not session.new and not session.identity_map


def test_a_wrong_type_inside_an_item_is_refused_before_anything_is_written(
    nested: Engine,
) -> None:
    with Session(nested) as session, session.begin():
        with pytest.raises(ValidationError) as failure:
            teams.create(session, name="Lions", players=[{"number": "seven", "name": "Ann"}])
        assert failure.value.field == "players[0].number"
        with pytest.raises(ValidationError) as unknown:
            teams.create(session, name="Lions", players=[{"number": 1, "name": "A", "x": 1}])
        assert unknown.value.field == "players[0].x"
        assert count(session, Event) == 0


def test_upsert_updates_matches_and_creates_the_rest(nested: Engine) -> None:
    with Session(nested) as session, session.begin():
        team = teams.create(session, name="Lions", players=SQUAD)
        ada = session.scalars(select(Player).where(Player.number == 1)).one()
        teams.sign(
            session, team, players=[{"number": 1, "name": "Ada L."}, {"number": 4, "name": "Eve"}]
        )
        assert ada.name == "Ada L."
        numbers = session.scalars(select(Player.number).order_by(Player.number)).all()
        assert numbers == [1, 4, 7, 9]
        last = session.scalars(select(Event).order_by(Event.id.desc()).limit(4)).all()[::-1]
        assert [(e.resource, e.action) for e in last] == [
            ("Team", "sign"),
            ("Player", "update"),
            ("Player", "create"),
            ("Note", "create"),
        ]
        assert last[1].data == {"name": "Ada L."}


def test_direct_control_keeps_exactly_the_given_records(nested: Engine) -> None:
    with Session(nested) as session, session.begin():
        team = teams.create(session, name="Lions", players=SQUAD)
        ada, brian, _ = session.scalars(select(Player).order_by(Player.number)).all()
        teams.set_roster(
            session,
            team,
            name="Lions II",
            roster=[{"id": ada.id, "name": "Ada"}, {"number": 11, "name": "Finn"}],
        )
        names = session.scalars(select(Player.name).order_by(Player.number)).all()
        assert names == ["Ada", "Finn"]
        assert brian not in session  # destroyed through Player.destroy, with its event
        actions = session.scalars(
            select(Event.action).where(Event.resource == "Player").order_by(Event.id)
        ).all()
        assert actions[-4:] == ["update", "create", "destroy", "destroy"]
    with Session(nested) as session:
        before = state(session)
    with Session(nested) as session, session.begin():
        replay(session)
    with Session(nested) as session:
        assert state(session) == before


def test_direct_control_refuses_an_id_of_another_parent(nested: Engine) -> None:
    with Session(nested) as session, session.begin():
        lions = teams.create(session, name="Lions", players=SQUAD[:1])
        tigers = teams.create(session, name="Tigers")
        ada = session.scalars(select(Player)).one()
        events = count(session, Event)
        with pytest.raises(ValidationError) as failure:
            teams.set_roster(session, tigers, roster=[{"id": ada.id, "name": "Ada"}])
        assert failure.value.field == "roster[0].id"
        assert count(session, Event) == events and ada.team_id == lions.id


def test_point_in_time_replay_between_parent_and_children(nested: Engine) -> None:
    """Replay stopped inside one transaction rebuilds what its events say up to there: the
    parent without its children (a state that was never committed; see docs/replay.md)."""
    with Session(nested) as session, session.begin():
        teams.create(session, name="Lions", players=SQUAD)
    with Session(nested) as session, session.begin():
        first = session.scalars(select(Event.id).order_by(Event.id)).first()
        replay(session, last_event_id=first)
        assert (count(session, Team), count(session, Player)) == (1, 0)


def test_nested_writes_go_through_the_childs_own_action(nested: Engine) -> None:
    """A Player created on its own and one created through a Team record the same event."""
    with Session(nested) as session, session.begin():
        team = teams.create(session, name="Lions")
        players.create(session, number=3, name="Gus", team_id=team.id)
        teams.sign(session, team, players=[{"number": 5, "name": "Hal"}])
        rows = session.scalars(
            select(Event).where(Event.resource == "Player").order_by(Event.id)
        ).all()
        assert [set(e.data) for e in rows] == [{"number", "name", "team_id"}] * 2
        assert set(rows[0].changed_attributes) == set(rows[1].changed_attributes)


def test_create_many_writes_each_parent_with_its_children(nested: Engine) -> None:
    with Session(nested) as session, session.begin():
        made = teams.create_many(
            session,
            [{"name": "Lions", "players": SQUAD[:2]}, {"name": "Tigers", "players": SQUAD[2:]}],
        )
        assert [sorted(p.number for p in t.players) for t in made] == [[1, 7], [9]]
        with pytest.raises(ValidationError) as failure:
            teams.create_many(
                session,
                [{"name": "Bears", "players": SQUAD[:1]}, {"name": "Wolves", "players": [{}]}],
            )
        assert failure.value.field == "players[0].number"
        assert (count(session, Team), count(session, Player), count(session, Event)) == (2, 3, 8)


def test_has_one_is_created_with_its_parent_and_replaced_under_direct_control(
    nested: Engine,
) -> None:
    with Session(nested) as session, session.begin():
        team = teams.create(session, name="Lions", stadium={"name": "Den", "seats": 100})
        den = session.scalars(select(Stadium)).one()
        assert den.team_id == team.id
        teams.move(session, team, stadium={"id": den.id, "seats": 150})  # named: updated
        assert den.seats == 150 and count(session, Stadium) == 1
        teams.move(session, team, stadium={"name": "Arena"})  # a new one: the old one goes
        assert session.scalars(select(Stadium.name)).all() == ["Arena"]
        actions = session.scalars(
            select(Event.action).where(Event.resource == "Stadium").order_by(Event.id)
        ).all()
        assert actions == ["create", "update", "create", "destroy"]
        with pytest.raises(ValidationError) as failure:
            teams.move(session, team, stadium={"name": "Pit", "seats": -1})
        assert failure.value.field == "stadium.seats"
        assert session.scalars(select(Stadium.name)).all() == ["Arena"]
    with Session(nested) as session:
        before = state(session), session.scalars(select(Stadium.name, Stadium.seats)).all()
    with Session(nested) as session, session.begin():
        replay(session)
    with Session(nested) as session:
        assert (
            state(session),
            session.scalars(select(Stadium.name, Stadium.seats)).all(),
        ) == before


def test_belongs_to_writes_the_target_first_and_points_the_parent_at_it(nested: Engine) -> None:
    with Session(nested) as session, session.begin():
        ada = players.join(session, number=1, name="Ada", team={"name": "Lions"})  # created
        bo = players.join(session, number=2, name="Bo", team={"name": "Lions"})  # found by name
        assert ada.team_id == bo.team_id and count(session, Team) == 1
        events = session.scalars(select(Event).order_by(Event.id)).all()
        # The team's event comes before the player's that points at it; finding it writes none.
        assert [(e.resource, e.action) for e in events] == [
            ("Team", "create"),
            ("Player", "join"),
            ("Player", "join"),
        ]
        assert events[1].data == {"number": 1, "name": "Ada"}
        assert events[1].changed_attributes["team_id"] == str(ada.team_id)
        # A failing player leaves no team behind.
        with pytest.raises(ValidationError) as failure:
            players.join(session, number=0, name="Cy", team={"name": "Tigers"})
        assert failure.value.field == "number"
        assert count(session, Team) == 1
    with Session(nested) as session:
        before = state(session)
    with Session(nested) as session, session.begin():
        replay(session)
    with Session(nested) as session:
        assert state(session) == before


def test_append_relates_existing_records_through_their_update_action(nested: Engine) -> None:
    with Session(nested) as session, session.begin():
        lions = teams.create(session, name="Lions", players=SQUAD[:2])
        tigers = teams.create(session, name="Tigers")
        ada = session.scalars(select(Player).where(Player.number == 1)).one()
        teams.recruit(session, tigers, players=[{"id": ada.id}])
        assert ada.team_id == tigers.id
        last = session.scalars(select(Event).order_by(Event.id.desc()).limit(2)).all()[::-1]
        assert [(e.resource, e.action, e.data) for e in last] == [
            ("Team", "recruit", {}),
            ("Player", "transfer", {"team_id": str(tigers.id)}),
        ]
        with pytest.raises(ValidationError) as failure:
            teams.recruit(session, lions, players=[{"id": ada.id}, {"id": lions.id}])
        assert failure.value.field == "players[1].id"
        assert "no Player with this id exists" in str(failure.value)
        assert ada.team_id == tigers.id  # the first item's transfer is undone with the rest
    with Session(nested) as session:
        before = state(session)
    with Session(nested) as session, session.begin():
        replay(session)
    with Session(nested) as session:
        assert state(session) == before


def fans_of(session: Session, team: Any) -> list[str]:
    """The names of the fans of ``team`` (a Team, or its id)."""
    key = getattr(team, "id", team)
    return list(session.scalars(select(Fan.name).where(Fan.team_id == key).order_by(Fan.name)))


def test_append_and_remove_and_remove_unrelate(nested: Engine) -> None:
    with Session(nested) as session, session.begin():
        lions = teams.create(session, name="Lions")
        for name in ("Ann", "Ben", "Cat"):
            fans.create(session, name=name)
        teams.keep_fans(session, lions, fans=[{"name": "Ann"}, {"name": "Ben"}])
        assert fans_of(session, lions) == ["Ann", "Ben"]
        teams.keep_fans(session, lions, fans=[{"name": "Ben"}, {"name": "Cat"}])
        assert fans_of(session, lions) == ["Ben", "Cat"]  # Ann unrelated, not destroyed
        assert count(session, Fan) == 3
        teams.drop_fans(session, lions, fans=[{"name": "Cat"}])
        assert fans_of(session, lions) == ["Ben"]
        with pytest.raises(ValidationError) as failure:
            teams.drop_fans(session, lions, fans=[{"name": "Ann"}])
        assert failure.value.field == "fans[0].name"
        assert "is related here" in str(failure.value)
        dee = fans.sign_up(session, name="Dee", team={"name": "Lions"})  # belongs_to append
        assert dee.team_id == lions.id
        with pytest.raises(ValidationError) as unknown:
            fans.sign_up(session, name="Eve", team={"name": "Pumas"})
        assert unknown.value.field == "team.name"
        assert count(session, Team) == 1 and count(session, Fan) == 4
        lions_id = lions.id
    with Session(nested) as session:
        before = state(session), fans_of(session, lions_id)
        assert before[1] == ["Ben", "Dee"]
    with Session(nested) as session, session.begin():
        replay(session)
    with Session(nested) as session:
        assert (state(session), fans_of(session, lions_id)) == before
