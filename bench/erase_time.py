"""Erase time for a data subject with many events (docs/privacy.md); not part of `make bench`.

    .venv/bin/python -m bench.erase_time [--events 10000] [--database-url URL]

Uses the privacy golden project (tests/golden/privacy): writes one person with EVENTS - 1
updates of a personal attribute, and times erase_subject (its transaction, commit included) and
purge (WAL checkpoint, or VACUUM) separately. Without --database-url, a SQLite file in a
temporary folder.
"""

from __future__ import annotations

import argparse
import base64
import os
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy.orm import Session

sys.path.insert(
    0, str(Path(__file__).resolve().parent.parent / "tests" / "golden" / "privacy" / "src")
)

from privacyapp.data import privacy
from privacyapp.data.actions import person
from privacyapp.data.models import Base

from tests.engines import create_engine


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.erase_time")
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    os.environ["PRIVACY_EVENT_KEYS"] = base64.urlsafe_b64encode(os.urandom(32)).decode()
    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url or f"sqlite:///{Path(folder) / 'erase.db'}"
        engine = create_engine(url)
        Base.metadata.drop_all(engine)
        Base.metadata.create_all(engine)
        with Session(engine) as session, session.begin():
            ann = person.create(session, email="ann@example.org", given_name="Ann", phone="+31")
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
        Base.metadata.drop_all(engine)
        engine.dispose()


if __name__ == "__main__":
    main()
