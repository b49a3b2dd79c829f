"""Erase time for a data subject with many events (docs/privacy.md); not part of `make bench`.

    .venv/bin/python -m bench.erase_time [--events 10000] [--database-url URL]

Generates the crypto-shredding test project (tests/test_privacy.py) into a temporary folder,
writes one person with EVENTS - 1 updates of a personal attribute, and times erase_subject (one
transaction) and purge (WAL checkpoint or VACUUM) separately.
"""

from __future__ import annotations

import argparse
import importlib
import os
import tempfile
import time
from pathlib import Path

from sqlalchemy.orm import Session

from tests.engines import create_engine
from tests.projects import generated_package
from tests.test_privacy import ANN, KEY, KEY_ENV, LOG, NOTE, PERSON


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.erase_time")
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    os.environ[KEY_ENV] = KEY
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        specs = {"log.yaml": LOG, "person.yaml": PERSON, "note.yaml": NOTE}
        with generated_package(root, "shredapp", specs) as source:
            (source / "actors.py").write_text("class Operator:\n    name = 'ops'\n")
            (source / "hooks.py").write_text("def fail(cs, record):\n    raise RuntimeError\n")
            models = importlib.import_module("shredapp.data.models")
            person = importlib.import_module("shredapp.data.actions.person")
            privacy = importlib.import_module("shredapp.data.privacy")
            url = args.database_url or f"sqlite:///{root / 'erase.db'}"
            engine = create_engine(url)
            models.Base.metadata.drop_all(engine)
            models.Base.metadata.create_all(engine)
            with Session(engine) as session, session.begin():
                ann = person.create(session, **ANN)
                for number in range(args.events - 1):
                    person.update(session, ann, given_name=f"name {number}")
                subject = ann.id
            started = time.perf_counter()
            with Session(engine) as session, session.begin():
                privacy.erase_subject(session, subject, reason="benchmark")
            erased = time.perf_counter() - started
            started = time.perf_counter()
            with engine.connect() as connection:
                privacy.purge(connection)
            purged = time.perf_counter() - started
            print(
                f"{engine.dialect.name}: erase of a subject with {args.events} events: "
                f"{erased * 1000:.1f} ms (transaction), purge {purged * 1000:.1f} ms"
            )
            models.Base.metadata.drop_all(engine)
            engine.dispose()


if __name__ == "__main__":
    main()
