"""The docs tell the truth: the spec reference is current, links resolve, marked snippets run.

A fenced block whose info string holds ``check`` is executed:

- ``python check`` / ``sh check``: in a copy of examples/accounts whose database was migrated with
  ``alembic upgrade head`` and filled by ``demo.py`` (fresh for every block); it must exit 0.
- ``check=GROUP``: the blocks of one group run in document order, as one session, in an empty
  folder: shell blocks in bash (``cd`` carries over), Python blocks in one interpreter; a
  ``yaml check=GROUP file=PATH`` block is written to PATH first.
- A ``text output`` block right after a checked block is its exact expected stdout.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from eventspec.docgen import render_reference
from eventspec.loader import load_schema

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "accounts"
BIN = Path(sys.executable).parent
DOCS = sorted(
    [ROOT / "README.md", EXAMPLE / "README.md", *(ROOT / "docs").glob("*.md")],
    key=lambda p: p.as_posix(),
)
FENCE = re.compile(
    r"^(?P<indent>[ \t]*)```(?P<info>[^`\n]*)\n(?P<body>.*?)^(?P=indent)```[ \t]*$",
    re.MULTILINE | re.DOTALL,
)


@dataclass(frozen=True)
class Block:
    path: Path
    line: int
    language: str
    options: dict[str, str]
    code: str
    output: str | None  # the exact stdout a following ``text output`` block expects

    @property
    def id(self) -> str:
        return f"{self.path.relative_to(ROOT).as_posix()}:{self.line}"


def blocks(path: Path) -> list[Block]:
    text = path.read_text(encoding="utf-8")
    found: list[Block] = []
    matches = list(FENCE.finditer(text))
    for index, match in enumerate(matches):
        words = match["info"].split()
        if not words:
            continue
        options = dict(word.partition("=")[::2] for word in words[1:])
        if "check" not in options:
            continue
        output = None
        following = matches[index + 1] if index + 1 < len(matches) else None
        between = text[match.end() : following.start()] if following else ""
        if following and following["info"].split() == ["text", "output"] and not between.strip():
            output = _dedent(following["body"], following["indent"])
        found.append(
            Block(
                path=path,
                line=text.count("\n", 0, match.start()) + 1,
                language=words[0],
                options=options,
                code=_dedent(match["body"], match["indent"]),
                output=output,
            )
        )
    return found


def _dedent(body: str, indent: str) -> str:
    return "".join(line.removeprefix(indent) for line in body.splitlines(keepends=True))


ALL_BLOCKS = [block for path in DOCS for block in blocks(path)]
EXAMPLE_BLOCKS = [b for b in ALL_BLOCKS if not b.options["check"]]
GROUPS = sorted({b.options["check"] for b in ALL_BLOCKS if b.options["check"]})


def environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVENTSPEC_DATABASE")}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env.pop("PYTHONPATH", None)
    return env


def run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def explain(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"


# --- the spec reference ---------------------------------------------------------------------------


def test_spec_reference_is_current() -> None:
    current = (ROOT / "docs" / "spec-reference.md").read_text(encoding="utf-8")
    assert current == render_reference(), (
        "docs/spec-reference.md is stale: run `python -m eventspec.docgen`"
    )


def _keys(schema: object) -> Iterator[str]:
    if isinstance(schema, dict):
        for key, value in schema.get("properties", {}).items():
            yield key
            yield from _keys(value)
        for name, value in schema.items():
            if name != "properties":
                yield from _keys(value)
    elif isinstance(schema, list):
        for item in schema:
            yield from _keys(item)


@pytest.mark.parametrize("kind", ["project", "event_log", "resource"])
def test_spec_reference_has_a_row_for_every_key(kind: str) -> None:
    reference = render_reference()
    missing = sorted({k for k in _keys(load_schema(kind)) if f"| `{k}` |" not in reference})
    assert missing == []


def test_every_diagnostic_code_is_documented() -> None:
    used = {
        code
        for path in (ROOT / "generator").rglob("*.py")
        for code in re.findall(r"\"(ES\d{3})\"", path.read_text(encoding="utf-8"))
    }
    reference = render_reference()
    assert sorted(code for code in used if f"| {code} |" not in reference) == []


def test_checks_page_lists_every_diagnostic_code() -> None:
    """docs/checks.md has a row for every code the generator uses, and no code it does not."""
    used = {
        code
        for path in (ROOT / "generator").rglob("*.py")
        for code in re.findall(r"\"(ES\d{3})\"", path.read_text(encoding="utf-8"))
    }
    page = (ROOT / "docs" / "checks.md").read_text(encoding="utf-8")
    rows = set(re.findall(r"^\| (ES\d{3}) \|", page, re.MULTILINE))
    assert sorted(used - rows) == []
    assert sorted(rows - used) == []


def _slug(heading: str) -> str:
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    text = FENCE.sub("", path.read_text(encoding="utf-8"))
    anchors: set[str] = set()
    for heading in re.findall(r"^#{1,6} (.+)$", text, re.MULTILINE):
        slug, n = _slug(heading), 1
        while slug in anchors:
            slug, n = f"{_slug(heading)}-{n}", n + 1
        anchors.add(slug)
    return anchors


def _resolves(source: Path, target: str) -> bool:
    if re.match(r"[a-z]+:", target):
        return True  # an external address
    file, _, anchor = target.partition("#")
    linked = (source.parent / file).resolve() if file else source
    if not linked.exists():
        return False
    return not anchor or linked.suffix != ".md" or anchor in _anchors(linked)


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_links_resolve(path: Path) -> None:
    text = FENCE.sub("", path.read_text(encoding="utf-8"))
    targets = re.findall(r"\]\(([^)\s]+)\)", text)
    assert [target for target in targets if not _resolves(path, target)] == []


# --- snippets run against the accounts example -------------------------------------------------


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, bytes]]:
    """A copy of examples/accounts, migrated and filled by demo.py; and its database's bytes."""
    folder = tmp_path_factory.mktemp("docs") / "accounts"
    shutil.copytree(
        EXAMPLE,
        folder,
        ignore=shutil.ignore_patterns("*.db", "__pycache__", ".mypy_cache", ".ruff_cache"),
    )
    env = environment()
    for args in (["alembic", "upgrade", "head"], [sys.executable, "demo.py"]):
        result = run(args, folder, env)
        assert result.returncode == 0, explain(result)
    assert "rows equal, column by column" in result.stdout
    yield folder, (folder / "accounts.db").read_bytes()


def test_demo_refuses_a_database_it_cannot_use(example: tuple[Path, bytes]) -> None:
    folder, _ = example
    env = environment()
    filled = run([sys.executable, "demo.py"], folder, env)
    assert filled.returncode == 1 and "already holds" in filled.stderr
    env["EVENTSPEC_DATABASE_URL"] = f"sqlite:///{folder / 'empty.db'}"
    empty = run([sys.executable, "demo.py"], folder, env)
    assert empty.returncode == 1 and "alembic upgrade head" in empty.stderr


@pytest.mark.parametrize("block", EXAMPLE_BLOCKS, ids=lambda b: b.id)
def test_example_snippet_runs(block: Block, example: tuple[Path, bytes]) -> None:
    folder, database = example
    (folder / "accounts.db").write_bytes(database)
    env = environment()
    if block.language == "python":
        env["PYTHONPATH"] = str(folder / "src")
        result = run([sys.executable, "-c", block.code], folder, env)
    else:
        result = run(["bash", "-euo", "pipefail", "-c", block.code], folder, env)
    assert result.returncode == 0, explain(result)
    if block.output is not None:
        assert result.stdout == block.output


# --- snippets that build a project of their own (the README tour) --------------------------------

DRIVER = """\
import json, os, subprocess, sys, tempfile
namespace = {"__name__": "__main__"}
for language, options, code in json.loads(sys.stdin.read()):
    print(f"\\n>>> {language} block", flush=True)
    if language == "python":
        exec(compile(code, "<snippet>", "exec"), namespace)
    elif language == "yaml":
        with open(options["file"], "w", encoding="utf-8") as handle:
            handle.write(code)
    else:
        with tempfile.NamedTemporaryFile("r", suffix=".cwd") as cwd:
            script = code + f"\\npwd > {cwd.name}\\n"
            subprocess.run(["bash", "-euo", "pipefail", "-c", script], check=True)
            os.chdir(cwd.read().strip())
    sys.stdout.flush()
"""


@pytest.mark.parametrize("group", GROUPS)
def test_snippet_group_runs_in_order(group: str, tmp_path: Path) -> None:
    chosen = [b for b in ALL_BLOCKS if b.options["check"] == group]
    payload = json.dumps([[b.language, b.options, b.code] for b in chosen])
    env = environment()
    result = subprocess.run(
        [sys.executable, "-c", DRIVER],
        input=payload,
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, explain(result)
