"""The accounts example and the features project with partitioned event logs, for running the
action, replay, follower and CLI suites against partitioned tables (`make test-partitioned`).

Set EVENTSPEC_TEST_PARTITIONED=1: conftest then generates both projects, with `partitioning` added
to every event log, into a temporary folder that it puts first on sys.path, so `accounts.data` and
`features.data` are the partitioned variants (the hand-written modules next to them are copied).
"""

from __future__ import annotations

import atexit
import re
import shutil
import tempfile
from pathlib import Path

from eventspec.loader import load_project
from eventspec.plan import make_plan, write

ROOT = Path(__file__).resolve().parent.parent
PROJECTS = {
    ROOT / "examples" / "accounts": {"Event": "{by: occurred_at, interval: month}"},
    ROOT / "tests" / "golden" / "features": {
        "Event": "{by: id, size: 100000}",
        "Ledger": "{by: occurred_at, interval: day, ahead: 40}",
    },
}


def partitioned(text: str, options: dict[str, str]) -> str:
    """``text`` (a spec file) with ``partitioning: ...`` in each event log named in ``options``."""
    documents = re.split(r"(?m)^---\s*$", text)
    out = []
    for document in documents:
        name = re.search(r"(?m)^name:\s*(\w+)\s*$", document)
        if re.search(r"(?m)^kind:\s*event_log\s*$", document) and name:
            document = document.rstrip("\n") + f"\npartitioning: {options[name.group(1)]}\n"
        out.append(document)
    return "---\n".join(out)


def make_variants() -> list[Path]:
    """Generate the variants; return the folders to put first on sys.path."""
    base = Path(tempfile.mkdtemp(prefix="eventspec-partitioned-"))
    atexit.register(shutil.rmtree, base, True)
    folders = []
    for source, options in PROJECTS.items():
        target = base / source.name
        shutil.copytree(source, target, ignore=shutil.ignore_patterns("migrations", "*.db"))
        for spec in sorted((target / "specs").rglob("*.yaml")):
            spec.write_text(partitioned(spec.read_text(encoding="utf-8"), options))
        project, diagnostics = load_project(target / "eventspec.yaml")
        assert project is not None, [d.render() for d in diagnostics]
        write(make_plan(project))
        folders.append(target / "src")
    return folders
