"""``eventspec events --follow``: tails the log through the generated reader, stops on Ctrl-C."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
from typing import Any

from accounts.data.actions import org as orgs
from click.testing import CliRunner
from eventspec.cli import main
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from tests.conftest import EXAMPLE, FEATURES, ROOT

WAIT = 60  # seconds before a test gives up on a line that never comes (a hang, not a timing)


class Tail:
    """``eventspec events --follow --json`` in a subprocess, its stdout read line by line."""

    def __init__(self, database_url: str, *args: str) -> None:
        command = [
            *(sys.executable, "-m", "eventspec", "events", "--follow", "--json", "--all"),
            *("--interval", "0.05", "--config", str(EXAMPLE / "eventspec.yaml")),
            *("--database-url", database_url, *args),
        ]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(map(str, (EXAMPLE / "src", ROOT)))}
        self.process = subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self.lines: queue.Queue[str | None] = queue.Queue()  # None: stdout ended
        assert self.process.stdout is not None
        stdout = self.process.stdout
        self.reader = threading.Thread(
            target=lambda: [*map(self.lines.put, stdout), self.lines.put(None)]
        )
        self.reader.start()

    def read(self, count: int) -> list[dict[str, Any]]:
        out = []
        for _ in range(count):
            line = self.lines.get(timeout=WAIT)
            if line is None:
                assert self.process.stderr is not None
                raise AssertionError(f"the command ended: {self.process.stderr.read()}")
            out.append(json.loads(line))
        return out

    def interrupt(self) -> tuple[int, str]:
        self.process.send_signal(signal.SIGINT)
        code = self.process.wait(timeout=WAIT)
        self.reader.join(timeout=WAIT)  # stdout is at its end: every line printed is queued
        assert self.process.stderr is not None
        return code, self.process.stderr.read()


def rename_orgs(engine: Engine, *names: str) -> None:
    with Session(engine) as session, session.begin():
        for name in names:
            org = orgs.create(session, name=name)
            orgs.rename(session, org, name=name.upper())


def test_follow_prints_the_log_then_each_new_event_and_stops_cleanly_on_ctrl_c(
    accounts: Engine, database_url: str
) -> None:
    rename_orgs(accounts, "a")
    tail = Tail(database_url)
    try:
        first = tail.read(2)
        assert [(e["action"], e["data"]) for e in first] == [
            ("create", {"name": "a"}),
            ("rename", {"name": "A"}),
        ]
        rename_orgs(accounts, "b", "c")
        later = tail.read(4)
        assert [e["data"]["name"] for e in later] == ["b", "B", "c", "C"]
        assert [e["id"] for e in first + later] == sorted(e["id"] for e in first + later)
    finally:
        code, stderr = tail.interrupt()
    assert code == 0, stderr
    assert "Traceback" not in stderr
    assert tail.lines.get_nowait() is None  # nothing more: nothing printed twice


def test_follow_applies_the_filters_and_limit_to_new_events_too(
    accounts: Engine, database_url: str
) -> None:
    rename_orgs(accounts, "a", "b")
    tail = Tail(database_url, "--action", "rename", "--limit", "1")
    try:
        assert [e["data"] for e in tail.read(1)] == [{"name": "B"}]  # the latest one only
        rename_orgs(accounts, "c")
        assert [e["data"] for e in tail.read(1)] == [{"name": "C"}]  # not c's create
    finally:
        code, stderr = tail.interrupt()
    assert code == 0, stderr
    assert tail.lines.get_nowait() is None


def test_follow_refuses_a_log_whose_ids_are_not_in_commit_order(features: Engine) -> None:
    url = features.url.render_as_string(hide_password=False)
    result = CliRunner().invoke(
        main,
        [
            *("events", "--config", str(FEATURES / "eventspec.yaml"), "--database-url", url),
            *("--event-log", "Ledger", "--follow"),
        ],
    )
    assert result.exit_code == 2
    assert "--follow needs a log with integer ids; Ledger has primary_key_type uuidv7" in (
        result.output
    )
