"""A wheel built from a clean checkout installs in a fresh virtualenv and works as a user meets it:
``eventspec init -> generate -> alembic upgrade head -> generate --check``, then the generated
package records an event, on SQLite and on PostgreSQL.

Slow (a wheel build and a virtualenv with eventspec's dependencies take about a minute), so
``make test`` leaves it out and .ci/run runs it on its own (``make test-wheel``).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, inspect, text

ROOT = Path(__file__).resolve().parent.parent
PSYCOPG = "psycopg[binary]>=3.2,<3.4"  # the driver the dev extra pins; the wheel needs none

pytestmark = pytest.mark.slow


def run(*command: str | Path, cwd: Path) -> str:
    result = subprocess.run(
        [str(part) for part in command], cwd=cwd, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def checkout(folder: Path) -> Path:
    """The repository's files as a clean checkout has them: tracked or not ignored, no build
    leftovers, no virtualenv."""
    listed = run("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", cwd=ROOT)
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, folder / name)
    return folder


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The ``bin`` folder of a fresh virtualenv with only the wheel (and a PostgreSQL driver)."""
    base = tmp_path_factory.mktemp("wheel")
    source = checkout(base / "checkout")
    pip = (sys.executable, "-m", "pip")
    run(*pip, "wheel", "--no-deps", "--quiet", "--wheel-dir", base / "dist", source, cwd=base)
    [wheel] = (base / "dist").glob("eventspec-*.whl")
    check_wheel(wheel)
    run(sys.executable, "-m", "venv", base / "venv", cwd=base)
    bin_ = base / "venv" / "bin"
    run(bin_ / "python", "-m", "pip", "install", "--quiet", wheel, PSYCOPG, cwd=base)
    yield bin_


def check_wheel(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        [metadata] = [n for n in names if n.endswith(".dist-info/METADATA")]
        fields = archive.read(metadata).decode().split("\n\n", 1)[0].splitlines()
    for name in (
        "eventspec/__main__.py",
        "eventspec/py.typed",
        "eventspec/schemas/resource.json",
        "eventspec/templates/models.py.j2",
        "eventspec/templates/alembic/env.py.j2",
        "eventspec/templates/runtime/_replay.py",
    ):
        assert name in names, name
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    for field in (
        "License-Expression: MIT",
        "License-File: LICENSE",
        "Author: The eventspec contributors",
        "Classifier: Typing :: Typed",
        "Project-URL: Source, https://github.com/eventspec/eventspec",
        "Description-Content-Type: text/markdown",
    ):
        assert field in fields, field
    assert any(field.startswith("Keywords: event log,") for field in fields)
    assert any(field.startswith("Requires-Dist: wcwidth") for field in fields)


def test_the_wheel_runs_the_whole_workflow(
    venv: Path, tmp_path: Path, database_url: str, engine: Engine
) -> None:
    run(venv / "eventspec", "init", "demo", cwd=tmp_path)
    project = tmp_path / "demo"
    config = project / "eventspec.yaml"
    lines = config.read_text().splitlines()
    config.write_text("\n".join(line for line in lines if not line.startswith("database_url:")))
    config.write_text(config.read_text() + f"\ndatabase_url: '{database_url}'\n")
    assert run(venv / "eventspec", "generate", cwd=project).startswith("wrote ")
    run(venv / "alembic", "upgrade", "head", cwd=project)
    assert run(venv / "eventspec", "generate", "--check", cwd=project).endswith("up to date\n")
    assert run(venv / "python", "-m", "eventspec", "validate", cwd=project).startswith("ok: 2 ")
    script = (
        "from sqlalchemy import create_engine\n"
        "from sqlalchemy.orm import Session\n"
        "from demo_data.actions import author\n"
        f"engine = create_engine({database_url!r})\n"
        "with Session(engine) as session, session.begin():\n"
        "    author.create(session, name='Ann', email='ann@example.com')\n"
    )
    run(venv / "python", "-c", script, cwd=project)
    assert {"authors", "events", "alembic_version"} <= set(inspect(engine).get_table_names())
    with engine.connect() as connection:
        assert connection.execute(text("SELECT resource, action FROM events")).all() == [
            ("Author", "create")
        ]
    assert "1 event" in run(venv / "eventspec", "events", cwd=project)
