"""Spec text never becomes code: a project whose every text slot holds hostile text generates
code that is ruff- and mypy-clean, migrates, imports and runs, keeps every text exactly as
written, and runs nothing the text says."""

from __future__ import annotations

import argparse
import ast
import importlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
import yaml
from alembic import command
from alembic.config import Config
from eventspec.filters import statement
from eventspec.loader import load_project
from eventspec.migrations import scaffold_alembic
from eventspec.plan import make_plan, write
from eventspec.printer import docstring, py
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

BIN = Path(sys.executable).parent
PACKAGE = "hostile_text.data"
INJECTION = 'x"""; import os; os.system("touch m"); """'
HOSTILE = (
    INJECTION,
    '"""',
    "'''",
    'ends with a quote"',
    "ends with a backslash\\",
    "back\\slash \\n \\x00 \\N{BULLET}",
    "{{ jinja }} {% raw %} ${shell} %(ini)s {format}",
    "two\nlines",
    "  indented\n\tand tabbed  ",
    "carriage\r\nreturn, form\x0cfeed, line\u2028separator",
    "bell \x07 and escape \x1b",  # a NUL is refused in any spec text (ES283)
    "non-BMP 𝄞 😀 and wide 漢字",
)
DESCRIPTION = "\n\n".join(HOSTILE)
# Values that reach the database too: no NUL (PostgreSQL text cannot hold it).
VALUES = (INJECTION, '"""', "'''", 'it\'s "quoted"', "back\\slash\\", "{{ x }} ${y}", "a\nb")
# Wide characters take two columns: ruff format lays out lines by that width.
WIDE = "タイトルは必須です。空のままでは保存できません。" * 2
# An enum whose Literal[...] annotation needs several lines.
STAGES = tuple(f"stage {i} of a long enumeration" for i in range(8))
MOODS = ("it's", 'say "hi"', "{{ x }}", "${HOME}", "back\\slash", 'x"""y')


def spec_documents() -> dict[str, object]:
    note = {
        "kind": "resource",
        "name": "Note",
        "description": DESCRIPTION,
        "attributes": {
            "id": {"type": "uuid", "primary_key": True, "default": "uuid4", "writable": False},
            "title": {"type": "string", "allow_nil": False, "description": DESCRIPTION},
            "body": {"type": "text", "default": INJECTION},
            "mood": {"type": "enum", "values": list(MOODS), "default": MOODS[1]},
            "tags": {"type": {"array": "string"}},
            "stage": {"type": "enum", "values": list(STAGES)},
        },
        "actions": {
            "create": {
                "type": "create",
                "description": DESCRIPTION,
                "accept": ["title", "body", "mood", "stage"],
                "arguments": {
                    "tone": {"type": "enum", "values": list(MOODS[:3]), "description": INJECTION},
                    "level": {"type": "enum", "values": list(STAGES), "allow_nil": False},
                },
                "validations": [
                    {
                        "attribute_does_not_equal": {
                            "attribute": "title",
                            "value": VALUES[1],
                            "message": INJECTION,
                        }
                    },
                    {"match": {"attribute": "title", "pattern": "^[^#]*$", "message": '"""'}},
                    {"one_of": {"attribute": "mood", "values": list(MOODS), "message": "\\"}},
                    {"present": ["title"], "message": WIDE},
                ],
            },
            "retitle": {
                "type": "update",
                "description": '"""',
                "accept": ["title"],
                "changes": [{"set_attribute": {"attribute": "tags", "value": list(VALUES)}}],
            },
        },
        "events": {"event_log": "Event"},
    }
    log = {"kind": "event_log", "name": "Event", "description": DESCRIPTION}
    return {"note.yaml": note, "event_log.yaml": log}


@pytest.fixture(scope="module")
def hostile_project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("hostile")
    files = scaffold_alembic(root, PACKAGE, "migrations")
    files[Path("eventspec.yaml")] = f"package: {PACKAGE}\noutput: src/hostile_text/data\n"
    for name, document in spec_documents().items():
        files[Path("specs") / name] = yaml.safe_dump(document, allow_unicode=False)
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text, encoding="utf-8")
    project, diagnostics = load_project(root / "eventspec.yaml")
    assert project is not None, [d.render() for d in diagnostics]
    write(make_plan(project))
    sys.path.insert(0, str(root / "src"))
    try:
        yield root
    finally:
        sys.path.remove(str(root / "src"))
        for name in [m for m in sys.modules if m.split(".")[0] == "hostile_text"]:
            del sys.modules[name]


def generated(root: Path) -> list[Path]:
    return sorted((root / "src").rglob("*.py")) + sorted((root / "migrations").rglob("*.py"))


def test_hostile_text_gives_code_that_ruff_and_mypy_accept(hostile_project: Path) -> None:
    for path in generated(hostile_project):
        ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = ["src/hostile_text", "migrations/versions"]
    for args in (
        ["check", "--isolated", "--select", "E4,E7,E9,F,B,UP,W", *package],
        ["format", "--isolated", "--line-length", "100", "--check", *package],
    ):
        result = subprocess.run(
            [BIN / "ruff", *args], cwd=hostile_project, capture_output=True, text=True
        )
        assert result.returncode == 0, result.stdout + result.stderr
    result = subprocess.run(
        [BIN / "mypy", "--strict", "--no-incremental", "-p", "hostile_text"],
        cwd=hostile_project / "src",
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _migrate(root: Path, engine: Engine) -> None:
    config = Config(str(root / "alembic.ini"))
    config.cmd_opts = argparse.Namespace(x=[])
    config.attributes["configure_logger"] = False
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def test_hostile_text_migrates_runs_and_keeps_its_value(
    hostile_project: Path, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(hostile_project)
    _migrate(hostile_project, engine)
    notes: ModuleType = importlib.import_module(f"{PACKAGE}.actions.note")
    models: ModuleType = importlib.import_module(f"{PACKAGE}.models")
    errors: ModuleType = importlib.import_module(f"{PACKAGE}.errors")
    for title in (v for v in VALUES if v != VALUES[1]):
        with Session(engine) as session, session.begin():
            note = notes.create(
                session,
                title=title,
                mood=MOODS[-1],
                tone=MOODS[0],
                stage=STAGES[-1],
                level=STAGES[0],
            )
            notes.retitle(session, note, title=title + "!")
            note_id = note.id
        with Session(engine) as session:
            stored = session.scalars(select(models.Note).where(models.Note.id == note_id)).one()
            assert (stored.title, stored.body, stored.mood) == (title + "!", INJECTION, MOODS[-1])
            assert stored.tags == list(VALUES)
            events = session.scalars(select(models.Event).order_by(models.Event.id)).all()
            assert events[-2].data["title"] == title and events[-1].data["title"] == title + "!"
    with Session(engine) as session, session.begin():
        assert notes.create(session, title="defaults", level=STAGES[1]).mood == MOODS[1]
    with Session(engine) as session, session.begin(), pytest.raises(errors.ValidationError) as err:
        notes.create(session, title=VALUES[1], level=STAGES[1])
    assert err.value.message == INJECTION
    with Session(engine) as session, session.begin(), pytest.raises(errors.ValidationError) as err:
        notes.create(session, title="#", level=STAGES[1])
    assert err.value.message == '"""'
    with Session(engine) as session, session.begin(), pytest.raises(errors.ValidationError) as err:
        notes.create(session, title=None, level=STAGES[1])
    assert err.value.message == WIDE
    assert not (hostile_project / "m").exists() and not Path("m").exists()


def test_hostile_text_is_the_docstrings_word_for_word(hostile_project: Path) -> None:
    notes = importlib.import_module(f"{PACKAGE}.actions.note")
    models = importlib.import_module(f"{PACKAGE}.models")
    summary = "Create a Note: writes an Event event, version 1."
    assert _unindent(notes.create.__doc__, "\n", "    ") == f"{summary}\n\n{DESCRIPTION}"
    assert _unindent(notes.retitle.__doc__, "\n", "    ").endswith('\n\n"""')
    for model in (models.Note, models.Event):
        assert _unindent(model.__doc__, "\n", "    ").endswith("\n\n" + DESCRIPTION)
    assert not (hostile_project / "m").exists()


# --- the printer itself, for any text -------------------------------------------------------

TRICKY = [" ", '"', "'", "\\", "\n", "\r", "\t", "\x00", "\x0c", "\u2028", "a", "é", "😀"]
TEXT = st.text(
    st.sampled_from(TRICKY) | st.characters(codec="utf-8"),  # lone surrogates are ES262
    min_size=1,
    max_size=30,
)


def _unindent(value: str, source: str, pad: str) -> str:
    """The text of a docstring value, as :func:`eventspec.printer.docstring` promises it."""
    first, *rest = value.split("\n")
    text = "\n".join([first, *(line.removeprefix(pad) for line in rest)])
    return text.removesuffix("\n") if "\n" in source else text


@settings(max_examples=200, deadline=None)
@given(st.lists(TEXT, min_size=1, max_size=20))
def test_printed_text_round_trips_and_is_ruff_formatted(
    tmp_path_factory: pytest.TempPathFactory, texts: list[str]
) -> None:
    lines = []
    for i, text in enumerate(texts):
        lines += [f"def f{i}() -> None:", f"    {docstring(text, 1)}", "", ""]
        lines += [f"class C{i}:", f"    {docstring(text, 1)}", "", ""]
        # Through the layout printer, as generated code prints an assignment: escaped, 30
        # characters can be longer than a line, and ruff then wraps the literal in parentheses.
        lines += [statement(f"S{i}", py(text)), "", ""]
    source = "\n".join(lines).rstrip("\n") + "\n"
    namespace: dict[str, object] = {}
    exec(compile(source, "printed", "exec"), namespace)
    for i, text in enumerate(texts):
        printed = docstring(text, 1)
        for holder in (namespace[f"f{i}"], namespace[f"C{i}"]):
            assert _unindent(str(holder.__doc__), printed, "    ") == text
        assert namespace[f"S{i}"] == text
    folder = tmp_path_factory.mktemp("printed")
    (folder / "printed.py").write_text(source, encoding="utf-8")
    result = subprocess.run(
        [BIN / "ruff", "format", "--isolated", "--line-length", "100", "--diff", "printed.py"],
        cwd=folder,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert result.returncode == 0, result.stdout
