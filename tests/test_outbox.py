"""examples/accounts/outbox.py: an outbox relay publishes each event, once, despite a crash."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from types import ModuleType
from typing import Any

import pytest
from accounts.data.actions import org as orgs
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from tests.conftest import EXAMPLE


@pytest.fixture(scope="module")
def outbox() -> ModuleType:
    spec = importlib.util.spec_from_file_location("accounts_outbox", EXAMPLE / "outbox.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_orgs(engine: Engine, *names: str) -> None:
    with Session(engine) as session, session.begin():
        for name in names:
            org = orgs.create(session, name=name)
            orgs.rename(session, org, name=name.upper())


class Flaky(Exception):
    pass


def test_a_failed_batch_is_published_again_and_received_once(
    accounts: Engine, outbox: ModuleType
) -> None:
    make_orgs(accounts, "a", "b", "c")  # 6 events
    delivered: list[str] = []
    received: list[dict[str, Any]] = []
    broker = outbox.Deduplicating(received.append)

    def failing(msg: dict[str, Any]) -> None:
        delivered.append(msg["message_id"])
        broker(msg)
        if len(delivered) == 3:
            raise Flaky("the connection to the broker dropped")

    with pytest.raises(Flaky):
        outbox.relay(accounts, failing, batch=4)  # the first batch fails at its third event

    def working(msg: dict[str, Any]) -> None:
        delivered.append(msg["message_id"])
        broker(msg)

    assert outbox.relay(accounts, working, batch=4) == 6
    assert outbox.relay(accounts, working, batch=4) == 0
    ids = [f"accounts-event-{n}" for n in range(1, 7)]
    assert delivered == ids[:3] + ids  # at least once: the failed batch again, from its start
    assert [msg["message_id"] for msg in received] == ids  # once each, in order
    assert [msg["type"] for msg in received[:2]] == ["Org.create", "Org.rename"]
    assert received[1]["data"] == {"name": "A"}


def test_the_script_publishes_what_is_new_and_then_nothing(
    accounts: Engine, database_url: str
) -> None:
    make_orgs(accounts, "a", "b")
    env = {**os.environ, "EVENTSPEC_DATABASE_URL": database_url}

    def run() -> list[dict[str, Any]]:
        command = [sys.executable, str(EXAMPLE / "outbox.py")]
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        return [json.loads(line) for line in result.stdout.splitlines()]

    assert [msg["type"] for msg in run()] == ["Org.create", "Org.rename"] * 2
    make_orgs(accounts, "c")
    assert [msg["data"] for msg in run()] == [{"name": "c"}, {"name": "C"}]
    assert run() == []
