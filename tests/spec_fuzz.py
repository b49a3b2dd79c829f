"""Spec mutation for the fuzz suite (tests/test_fuzz_specs.py).

A mutant starts as a copy of one of the valid projects whose output is committed (the golden cases
and examples/accounts): its eventspec.yaml, specs and hand-written modules. Hypothesis then applies
a few mutations: to the YAML values (wrong types, deleted keys, swapped values, hostile strings,
identifier edge cases, renamed or duplicated entries) or to the YAML text (duplicate lines, alias
bombs, deep nesting, huge documents, random text and bytes). ``run_mutant`` runs the real pipeline
on it and checks the one rule: a located diagnostic (``path:line:col: CODE message``) or generated
code that compiles, never a traceback and never a hang. ``check_imports`` goes further for a
sample: the generated package imports, creates its tables on SQLite and migrates with alembic, in a
child process (``python -m tests.spec_fuzz ROOT...``), so thousands of packages never share one.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import json
import keyword
import re
import signal
import subprocess
import sys
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import yaml
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parent.parent
BUDGET_SECONDS = 60.0  # per mutant: the biggest take ~2 s alone, 20 s on a machine loaded 10-fold
LOCATED = re.compile(r"^(?P<file>[^\n]+?):(?P<line>[1-9]\d*):(?P<col>[1-9]\d*): ES\d{3} \S")

# Mutations that find bugs owned by other parts of issue #12 (identifier rules, the literal
# printer). They stay off until those parts land; turn one on by deleting it here, then run
# `make fuzz`. Each names the reproducer the fuzzer found.
KNOWN_GAPS: dict[str, str] = {}


def _seed_files(folder: Path) -> dict[str, str]:
    """eventspec.yaml, the specs and hand-written modules of a seed project (not its output)."""
    config = yaml.safe_load((folder / "eventspec.yaml").read_text(encoding="utf-8"))
    output = (folder / config["output"]).resolve()
    files = {"eventspec.yaml": (folder / "eventspec.yaml").read_text(encoding="utf-8")}
    for path in sorted((folder / config.get("specs", "specs")).rglob("*.y*ml")):
        files[path.relative_to(folder).as_posix()] = path.read_text(encoding="utf-8")
    source = folder / "src"
    if source.is_dir():
        for path in sorted(source.rglob("*.py")):
            if output not in path.resolve().parents:
                files[path.relative_to(folder).as_posix()] = path.read_text(encoding="utf-8")
    return files


def seeds() -> dict[str, dict[str, str]]:
    from tests.golden_cases import CASES

    return {name: _seed_files(folder) for name, folder in sorted(CASES.items())}


SEEDS = seeds()


# --- values -----------------------------------------------------------------------------------

HOSTILE_STRINGS = [
    "",
    " ",
    '"',
    "'",
    '"""',
    "'''",
    "\\",
    "\\n",
    'x"""; import os; os.system("touch m"); """',
    "x'''; raise SystemExit; '''",
    "\x00",
    "a\x00b",
    "\x1b[31mred",
    "\x7f",
    "\r\n",
    "line\nbreak",
    "\u2028",
    "\ufeff",
    "\t",
    "{{ x }}",
    "{% raw %}",
    "${HOME}",
    "%s%d",
    "{0}",
    "# comment",
    "- item",
    ": x",
    "*x",
    "&x",
    "!tag",
    "null",
    "true",
    "1e3",
    "0x10",
    "é",
    "日本語",
    "🙂",
    "\U0001d4b6",
    "ﬁeld",
    "\uff46\uff49\uff45\uff4c\uff44",  # fullwidth "field", NFKC-equal to it
    "Ⅸ",
    "İ",
    "ß",
    "a" * 64,
    "é" * 40,
    "x" * 5000,
]
IDENTIFIERS = [
    *sorted(keyword.kwlist),
    *sorted(keyword.softkwlist),
    "None",
    "print",
    "type",
    "id",
    "__init__",
    "__table__",
    "__class__",
    "__dict__",
    "_sa_instance_state",
    "metadata",
    "registry",
    "query",
    "session",
    "actor",
    "engine",
    "resource",
    "actions",
    "models",
    "TypedDict",
    "Any",
    "String",
    "Enum",
    "Base",
    "Event",
    "PUBLIC_FIELDS",
    "to_public_dict",
    "_",
    "__",
    "x",
    "X",
    "a1",
    "1a",
    "a-b",
    "a b",
    "a.b",
    "ﬁeld",
    "ünïcode",
    "Ωmega",
    "sqlite_master",
    "sqlite_x",
    "alembic_version",
    "events",
    "users",
    "a" * 63,
    "a" * 64,
    "b" * 200,
    "é" * 32,
]


def _text(max_size: int = 20) -> st.SearchStrategy[str]:
    return st.text(st.characters(exclude_categories=("Cs",)), max_size=max_size)


def scalars() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.sampled_from([0, 1, -1, 2**31, 2**31 - 1, -(2**31) - 1, 2**63, 10**20]),
        st.floats(allow_nan=True, allow_infinity=True),
        st.sampled_from([0.0, 1.0, 10.0, -0.0, 1.5, 1e300]),
        st.sampled_from(HOSTILE_STRINGS),
        st.sampled_from(IDENTIFIERS),
        _text(),
    )


def values() -> st.SearchStrategy[Any]:
    return st.recursive(
        scalars(),
        lambda inner: st.one_of(
            st.lists(inner, max_size=4),
            st.dictionaries(st.one_of(st.sampled_from(IDENTIFIERS), _text(8)), inner, max_size=3),
        ),
        max_leaves=8,
    )


def names() -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(IDENTIFIERS), st.sampled_from(HOSTILE_STRINGS), _text(12))


# --- the tree of one document -------------------------------------------------------------------

Path_ = tuple[Any, ...]


def paths(value: Any, prefix: Path_ = ()) -> Iterator[Path_]:
    """Every path to a value inside ``value``, the root excluded."""
    if isinstance(value, dict):
        items: Iterator[tuple[Any, Any]] = iter(value.items())
    elif isinstance(value, list):
        items = iter(enumerate(value))
    else:
        return
    for key, child in items:
        yield (*prefix, key)
        yield from paths(child, (*prefix, key))


def _parent(tree: Any, path: Path_) -> Any:
    for step in path[:-1]:
        tree = tree[step]
    return tree


def _get(tree: Any, path: Path_) -> Any:
    return _parent(tree, path)[path[-1]]


def _set(tree: Any, path: Path_, value: Any) -> None:
    _parent(tree, path)[path[-1]] = value


def _rename(mapping: dict[Any, Any], old: Any, new: Any) -> None:
    """Rename a key keeping its position (a new key equal to another one replaces it)."""
    items = [(new if k == old else k, v) for k, v in mapping.items()]
    mapping.clear()
    mapping.update(items)


_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


@functools.lru_cache(maxsize=64)
def _parsed(text: str) -> Any:
    return yaml.load(text, Loader=_LOADER)


def _load(text: str) -> Any:
    """The value of a document (a fresh copy: the cache is shared)."""
    return copy.deepcopy(_parsed(text))


def _dump(tree: Any, unicode: bool) -> str:
    return yaml.dump(tree, Dumper=_DUMPER, sort_keys=False, allow_unicode=unicode, width=10**6)


# --- mutations ----------------------------------------------------------------------------------


@dataclass
class Mutant:
    seed: str
    files: dict[str, str | bytes]
    log: list[str] = field(default_factory=list)

    def write(self, root: Path) -> None:
        for rel, content in self.files.items():
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content, encoding="utf-8")

    def describe(self) -> str:
        return f"seed {self.seed}: " + "; ".join(line[:300] for line in self.log)


TREE_OPS = ("set", "delete", "rename", "swap", "duplicate", "splice", "set_name")
TEXT_OPS = (
    "dup_line",
    "alias_bomb",
    "deep",
    "huge",
    "random_text",
    "cut",
    "bytes",
    "anchor",
    "tag",
)
TAGS = [
    "!!int",
    "!!float",
    "!!bool",
    "!!str",
    "!!null",
    "!!timestamp",
    "!!binary",
    "!!set",
    "!!omap",
    "!!python/object/apply:os.system",
    "!custom",
]
SCALAR_TEXTS = ["abc", "1", "1.5", "yes", "~", "2024-01-02", "0x" + "f" * 4000, "9" * 5000, "1:2:3"]


def _tree_op(draw: st.DrawFn, mutant: Mutant, rel: str, tree: Any, op: str) -> Any:
    """One mutation of the value of one document; returns the (possibly new) tree."""
    all_paths = list(paths(tree))
    if not all_paths or op == "set_root":
        new = draw(values(), label="root")
        mutant.log.append(f"{rel}: root = {new!r}")
        return new
    path = draw(st.sampled_from(all_paths), label="path")
    parent = _parent(tree, path)
    if op == "set":
        new = draw(values(), label="value")
        _set(tree, path, new)
        mutant.log.append(f"{rel}: {list(path)} = {new!r}")
    elif op == "delete":
        del parent[path[-1]]
        mutant.log.append(f"{rel}: del {list(path)}")
    elif op == "rename" and isinstance(parent, dict):
        new = draw(names(), label="key")
        _rename(parent, path[-1], new)
        mutant.log.append(f"{rel}: rename {list(path)} -> {new!r}")
    elif op == "swap":
        other = draw(st.sampled_from(all_paths), label="other")
        first, second = copy.deepcopy(_get(tree, path)), copy.deepcopy(_get(tree, other))
        _set(tree, path, second)
        with contextlib.suppress(KeyError, IndexError, TypeError):
            _set(tree, other, first)  # unless the second path went away with the first swap
        mutant.log.append(f"{rel}: swap {list(path)} <-> {list(other)}")
    elif op == "duplicate" and isinstance(parent, dict):
        key = path[-1]
        variants = [str(key).upper(), str(key).capitalize(), f"{key}_", f"_{key}", f"{key}" * 3]
        new = draw(st.one_of(st.sampled_from(variants), names()), label="copy")
        parent[new] = copy.deepcopy(parent[key])
        mutant.log.append(f"{rel}: copy {list(path)} as {new!r}")
    elif op == "splice":
        current = _get(tree, path)
        piece = draw(st.sampled_from(HOSTILE_STRINGS), label="piece")
        new = f"{current}{piece}" if draw(st.booleans()) else f"{piece}{current}"
        _set(tree, path, new)
        mutant.log.append(f"{rel}: {list(path)} = {new!r}")
    else:  # set_name, or rename/duplicate on a list: an identifier where a value was
        new = draw(names(), label="name")
        _set(tree, path, new)
        mutant.log.append(f"{rel}: {list(path)} = {new!r}")
    return tree


def _bomb(width: int, levels: int) -> str:
    lines = [f"l0: &l0 [{', '.join(['lol'] * width)}]"]
    for level in range(1, levels):
        lines.append(f"l{level}: &l{level} [{', '.join([f'*l{level - 1}'] * width)}]")
    return "\n".join(lines) + "\n"


def _text_op(draw: st.DrawFn, mutant: Mutant, rel: str, text: str, op: str) -> str | bytes:
    lines = text.splitlines(keepends=True) or ["\n"]
    if op == "dup_line":
        index = draw(st.integers(0, len(lines) - 1), label="line")
        lines.insert(index, lines[index])
        mutant.log.append(f"{rel}: duplicate line {index + 1}")
        return "".join(lines)
    if op == "alias_bomb":
        width, levels = draw(st.integers(2, 12)), draw(st.integers(1, 9))
        mutant.log.append(f"{rel}: alias bomb {width}**{levels}")
        return text + _bomb(width, levels)
    if op == "deep":
        depth = draw(st.integers(1, 120), label="depth")
        index = draw(st.integers(0, len(lines) - 1), label="line")
        opener, closer = draw(st.sampled_from([("[", "]"), ("{a: ", "}")]))
        nested = f": {opener * depth}1{closer * depth}"
        lines[index] = re.sub(r":\s.*$", lambda _m: nested, lines[index], count=1)
        mutant.log.append(f"{rel}: nest line {index + 1} {depth} deep")
        return "".join(lines)
    if op == "huge":
        size = draw(st.sampled_from([1000, 30_000, 120_000]), label="size")
        kind = draw(st.sampled_from(["list", "string", "keys"]), label="kind")
        mutant.log.append(f"{rel}: huge {kind} {size}")
        if kind == "list":
            return text + f"huge: [{', '.join(['1'] * size)}]\n"
        if kind == "string":
            return text + f"huge: '{'x' * size * 10}'\n"
        return text + "".join(f"k{i}: {i}\n" for i in range(size // 10))
    if op == "tag":  # an explicit tag, or an odd scalar, in front of or instead of a value
        index = draw(st.integers(0, len(lines) - 1), label="line")
        tag = draw(st.sampled_from(["", *TAGS]), label="tag")
        scalar = draw(st.sampled_from(SCALAR_TEXTS), label="scalar")
        keep = draw(st.booleans(), label="keep")
        new = f": {tag} " + (r"\1" if keep else scalar.replace("\\", "\\\\"))
        lines[index] = re.sub(r":\s+(.*)$", new, lines[index], count=1)
        mutant.log.append(f"{rel}: line {index + 1} = {lines[index]!r}")
        return "".join(lines)
    if op == "random_text":
        new = draw(_text(200), label="text")
        mutant.log.append(f"{rel}: text {new!r}")
        return new
    if op == "cut":
        start = draw(st.integers(0, len(text)), label="start")
        end = draw(st.integers(start, min(len(text), start + 40)), label="end")
        insert = draw(st.one_of(st.just(""), st.sampled_from(HOSTILE_STRINGS), _text(5)))
        mutant.log.append(f"{rel}: text[{start}:{end}] = {insert!r}")
        return text[:start] + insert + text[end:]
    if op == "bytes":
        raw = draw(st.binary(max_size=60), label="bytes")
        mutant.log.append(f"{rel}: bytes {raw!r}")
        return text.encode("utf-8") + raw
    # anchor: give one value an anchor and use it again as another value, or at the end
    keyed = [i for i, line in enumerate(lines) if re.match(r"^\s*[\w.-]+:\s+\S", line)]
    if not keyed:
        return text
    first, second = draw(st.sampled_from(keyed)), draw(st.sampled_from(keyed))
    lines[first] = re.sub(r":(\s+)", r": &fz\1", lines[first], count=1)
    if second > first:
        lines[second] = re.sub(r":\s+.*$", ": *fz", lines[second], count=1)
    else:
        lines.append("extra: *fz\n")
    mutant.log.append(f"{rel}: anchor line {first + 1}, alias line {second + 1}")
    return "".join(lines)


@st.composite
def mutants(draw: st.DrawFn, gaps: frozenset[str] = frozenset()) -> Mutant:
    """A seed project with one to three mutations (``gaps``: KNOWN_GAPS keys to leave out)."""
    seed = draw(st.sampled_from(sorted(SEEDS)), label="seed")
    mutant = Mutant(seed, dict(SEEDS[seed]))
    documents = [rel for rel in mutant.files if rel.endswith((".yaml", ".yml"))]
    as_text: set[str] = set()  # text-mutated files are not parsed again: an alias bomb would be
    for _ in range(draw(st.integers(1, 3), label="count")):
        rel = draw(st.sampled_from(documents), label="file")
        content = mutant.files[rel]
        if isinstance(content, bytes):
            continue
        if rel in as_text or draw(st.integers(0, 3), label="level") == 0:
            op = draw(st.sampled_from(TEXT_OPS), label="text op")
            mutant.files[rel] = _text_op(draw, mutant, rel, content, op)
            as_text.add(rel)
            continue
        try:
            tree = _load(content)
        except (yaml.YAMLError, RecursionError):
            continue  # an earlier text mutation broke it: text mutations only from here
        op = draw(st.sampled_from(TREE_OPS), label="tree op")
        tree = _tree_op(draw, mutant, rel, tree, op)
        mutant.files[rel] = _dump(tree, unicode=draw(st.booleans(), label="unicode"))
    _check_gaps(mutant, gaps)
    return mutant


def _check_gaps(mutant: Mutant, gaps: frozenset[str]) -> None:
    from hypothesis import reject

    for name in gaps:
        if GAP_FILTERS[name](mutant):
            reject()


_LONG_RUN = re.compile(r"(.)\1{60}")  # the long names of HOSTILE_STRINGS and IDENTIFIERS
_STRING_DEFAULT = re.compile(r"'(default|update_default)'\] = '")

GAP_FILTERS: dict[str, Callable[[Mutant], bool]] = {
    "string_default": lambda mutant: any(_STRING_DEFAULT.search(line) for line in mutant.log),
    "long_name": lambda mutant: any(_LONG_RUN.search(line) for line in mutant.log),
}


# --- running a mutant ---------------------------------------------------------------------------


class Hang(Exception):
    pass


@contextlib.contextmanager
def time_budget(seconds: float) -> Iterator[None]:
    def expire(_signum: int, _frame: FrameType | None) -> None:
        raise Hang(f"no answer within {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@dataclass
class Outcome:
    diagnostics: list[str]  # rendered, when the project is invalid
    package: str | None = None  # the generated package, when it is valid
    files: dict[Path, str] = field(default_factory=dict)


class RuleBroken(AssertionError):
    """The pipeline answered, but not with a located diagnostic or code that compiles."""


def run_mutant(root: Path, *, cli: bool = False) -> Outcome:
    """Validate and plan the project at ``root`` like ``eventspec validate`` and ``generate``."""
    from eventspec.loader import load_project
    from eventspec.plan import make_plan

    with time_budget(BUDGET_SECONDS):
        if cli:
            _run_cli(root)
        project, diagnostics = load_project(root / "eventspec.yaml")
        if diagnostics or project is None:
            rendered = [d.render() for d in diagnostics]
            _check_located(root, rendered)
            return Outcome(rendered)
        plan = make_plan(project)
        for rel, text in plan.files.items():
            if rel.suffix == ".py":
                problem = _compile_error(text)
                if problem:
                    raise RuleBroken(f"generated {rel} does not compile: {problem}")
        return Outcome([], project.package, plan.files)


@functools.lru_cache(maxsize=1024)
def _compile_error(source: str) -> str:
    """Why ``source`` does not compile ("" when it does); most files repeat from mutant to mutant
    (the runtime is copied verbatim), so each distinct text is compiled once."""
    try:
        compile(source, "<generated>", "exec")
    except (SyntaxError, ValueError) as error:  # ValueError: a NUL byte in the source
        return str(error)
    return ""


def _check_located(root: Path, rendered: list[str]) -> None:
    if not rendered:
        raise RuleBroken("the project is invalid but no diagnostic says why")
    for text in rendered:
        first, *rest = text.split("\n")
        match = LOCATED.match(first)
        if match is None:
            raise RuleBroken(f"not a located diagnostic: {text!r}")
        if [line for line in rest if not line.startswith("    hint: ")] or len(rest) > 1:
            raise RuleBroken(f"a diagnostic of more than its line and a hint: {text!r}")
        if not first.isprintable() or any(not line.isprintable() for line in rest):
            raise RuleBroken(f"spec text printed raw (control characters): {text!r}")
        if not (root / match["file"]).is_file():
            raise RuleBroken(f"diagnostic names a file that does not exist: {text!r}")


def _run_cli(root: Path) -> None:
    """`eventspec validate` through click: exit 0 or 2, a summary line, never a traceback."""
    from click.testing import CliRunner
    from eventspec.cli import main

    result = CliRunner().invoke(main, ["validate", "--config", str(root / "eventspec.yaml")])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    if result.exit_code not in (0, 2) or "Traceback" in result.output:
        raise RuleBroken(f"validate exited {result.exit_code}: {result.output[-2000:]}")
    if result.exit_code == 2:
        lines = result.output.splitlines()
        last = lines[-1] if lines else ""
        if not re.fullmatch(r"\d+ errors?; nothing was written\.", last):
            raise RuleBroken(f"validate exited 2 without the summary: {result.output[-2000:]}")


def failure_signature(error: BaseException) -> str:
    """Groups failures: the exception type and the innermost eventspec frame (or the innermost
    frame at all, when eventspec is not on the stack)."""
    stack = traceback.extract_tb(error.__traceback__)
    frames = [f for f in stack if "eventspec" in f.filename or "/generator/" in f.filename]
    frames = frames or stack[-1:]
    where = f"{Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else "?"
    return f"{type(error).__name__} at {where}"


# --- imports, tables and migrations, in a child process ----------------------------------------


def prepare_for_import(root: Path, outcome: Outcome) -> bool:
    """Write the generated files and an alembic scaffold; False when the package cannot be
    imported by its name from its output folder (a mutated ``output``), or a path leaves root."""
    from eventspec.migrations import scaffold_alembic

    assert outcome.package is not None
    config = yaml.load((root / "eventspec.yaml").read_text(encoding="utf-8"), Loader=_LOADER)
    parts = tuple(outcome.package.split("."))
    if Path(str(config["output"])).parts[-len(parts) :] != parts:
        return False
    migrations = str(config.get("migrations", "migrations"))
    files = {**scaffold_alembic(root, outcome.package, migrations), **outcome.files}
    resolved = root.resolve()
    for rel in files:
        if resolved not in (root / rel).resolve().parents:
            return False
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    return True


def check_imports(jobs: list[tuple[Path, str, bool]]) -> dict[Path, str]:
    """Import, create tables and (when asked) migrate each (root, package, migrate) job.

    Returns the failures by root: one child process checks the whole batch.
    """
    if not jobs:
        return {}
    payload = json.dumps([[str(root), package, migrate] for root, package, migrate in jobs])
    result = subprocess.run(
        [sys.executable, "-m", "tests.spec_fuzz"],
        input=payload,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60 + 30 * len(jobs),
    )
    if result.returncode != 0:
        return {jobs[0][0]: f"checker crashed:\n{result.stdout}\n{result.stderr}"}
    reports: dict[str, str] = json.loads(result.stdout.splitlines()[-1])
    return {Path(root): text for root, text in reports.items()}


def _import_base(root: Path, package: str) -> Path:
    config = yaml.load((root / "eventspec.yaml").read_text(encoding="utf-8"), Loader=_LOADER)
    output = (root / str(config["output"])).resolve()
    return output.parents[len(package.split(".")) - 1]


def _unload(top: str) -> None:
    for name in [n for n in sys.modules if n == top or n.startswith(top + ".")]:
        del sys.modules[name]


def _check_one(root: Path, package: str, migrate: bool) -> None:
    import argparse
    import importlib

    from alembic import command
    from alembic.config import Config
    from sqlalchemy import create_engine, inspect

    base = _import_base(root, package)
    top = package.split(".")[0]
    _unload(top)
    sys.path.insert(0, str(base))
    try:
        output = base.joinpath(*package.split("."))
        modules = sorted(
            ".".join((package, *p.relative_to(output).with_suffix("").parts))
            for p in output.rglob("*.py")
        )
        for name in modules:
            importlib.import_module(name.removesuffix(".__init__"))
        models = importlib.import_module(f"{package}.models")
        engine = create_engine("sqlite://")
        models.Base.metadata.create_all(engine)
        expected = set(models.Base.metadata.tables)
        if set(inspect(engine).get_table_names()) != expected:
            raise AssertionError("create_all did not create every table")
        engine.dispose()
        if migrate:
            database = root / "fuzz.db"
            config = Config(str(root / "alembic.ini"))
            config.cmd_opts = argparse.Namespace(x=[f"database_url=sqlite:///{database}"])
            config.attributes["configure_logger"] = False
            command.upgrade(config, "head")
            engine = create_engine(f"sqlite:///{database}")
            found = set(inspect(engine).get_table_names()) - {"alembic_version"}
            engine.dispose()
            if found != expected:
                raise AssertionError(f"migrations made {sorted(found)}, not {sorted(expected)}")
    finally:
        sys.path.remove(str(base))
        _unload(top)


def _checker() -> None:
    jobs = json.loads(sys.stdin.read())
    reports: dict[str, str] = {}
    for root, package, migrate in jobs:
        try:
            _check_one(Path(root), package, migrate)
        except Exception as error:
            if not _in_hand_written_code(Path(root), package, error):
                reports[root] = traceback.format_exc()
    print(json.dumps(reports))


def _in_hand_written_code(root: Path, package: str, error: BaseException) -> bool:
    """The seed's own modules (hooks, changes) failed, e.g. importing a resource the mutant
    deleted: the user's code, not what eventspec generated."""
    output = _import_base(root, package).joinpath(*package.split(".")).resolve()
    innermost = [
        Path(f.filename).resolve()
        for f in traceback.extract_tb(error.__traceback__)
        if Path(f.filename).resolve().is_relative_to(root.resolve())
    ]
    return bool(innermost) and not innermost[-1].is_relative_to(output)


if __name__ == "__main__":
    _checker()
