"""The conventions a Python user expects: ``python -m eventspec``, the pre-commit hook, schema
modelines, package metadata, English plurals."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from eventspec.ir import snake_case
from eventspec.plural import plural
from jsonschema import Draft202012Validator
from sqlalchemy import Engine, inspect

ROOT = Path(__file__).resolve().parent.parent


def module(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "eventspec", *args]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=120)


def test_python_m_eventspec_is_the_eventspec_command(tmp_path: Path) -> None:
    usage = module("--help", cwd=tmp_path)
    assert usage.returncode == 0, usage.stderr
    assert usage.stdout.startswith("Usage: eventspec [OPTIONS] COMMAND")
    assert module("--version", cwd=tmp_path).stdout == "eventspec, version 0.1.0\n"
    assert module("init", "shop", cwd=tmp_path).returncode == 0
    generated = module("generate", cwd=tmp_path / "shop")
    assert generated.returncode == 0, generated.stderr
    assert module("generate", "--check", cwd=tmp_path / "shop").stdout.endswith("up to date\n")
    wrong = module("validate", "--config", "missing.yaml", cwd=tmp_path)
    assert wrong.returncode == 2 and "Usage: eventspec validate" in wrong.stderr


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("person", "people"),
        ("child", "children"),
        ("sales_person", "sales_people"),
        ("category", "categories"),
        ("product_category", "product_categories"),
        ("status", "statuses"),
        ("http_status", "http_statuses"),
        ("bus", "buses"),
        ("address", "addresses"),
        ("box", "boxes"),
        ("batch", "batches"),
        ("wish", "wishes"),
        ("quiz", "quizzes"),
        ("day", "days"),
        ("key", "keys"),
        ("soliloquy", "soliloquies"),
        ("analysis", "analyses"),
        ("axis", "axes"),
        ("leaf", "leaves"),
        ("roof", "roofs"),
        ("knife", "knives"),
        ("hero", "heroes"),
        ("photo", "photos"),
        ("criterion", "criteria"),
        ("datum", "data"),
        ("human", "humans"),
        ("woman", "women"),
        ("sheep", "sheep"),
        ("series", "series"),
        ("metadata", "metadata"),
        ("user", "users"),
        ("order_item", "order_items"),
        ("event", "events"),
        ("y", "ys"),
    ],
)
def test_plural(name: str, expected: str) -> None:
    assert plural(name) == expected


def test_default_table_names_are_english_plurals(tmp_path: Path) -> None:
    assert module("init", "crm", cwd=tmp_path).returncode == 0
    project = tmp_path / "crm"
    for name in ("Person", "Child", "OrderStatus"):
        (project / "specs" / f"{snake_case(name)}.yaml").write_text(
            f"kind: resource\nname: {name}\n"
            "attributes:\n  id: {type: uuid, primary_key: true, default: uuid4}\n"
            "actions:\n  create: {type: create}\n"
        )
    generated = module("generate", cwd=project)
    assert generated.returncode == 0, generated.stderr
    models = (project / "crm_data" / "models.py").read_text()
    for table in ("people", "children", "order_statuses"):
        assert f'__tablename__ = "{table}"' in models
    (migration,) = (project / "migrations" / "versions").glob("*.py")
    assert 'op.create_table(\n        "people",' in migration.read_text()


def alembic(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    command = [str(Path(sys.executable).parent / "alembic"), *args]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=120)


def test_env_py_reads_eventspec_yaml_as_yaml(
    tmp_path: Path, database_url: str, engine: Engine
) -> None:
    """Flow style, quoting and comments: what a line-by-line reading of the file would miss."""
    assert module("init", "shop", cwd=tmp_path).returncode == 0
    project = tmp_path / "shop"
    config = (
        "# the project, in YAML flow style\n"
        "{package: shop_data, output: 'src/shop_data',  # the package under src/\n"
        " specs: specs, migrations: migrations,\n"
        f" database_url: {json.dumps(database_url)}}}\n"
    )
    (project / "eventspec.yaml").write_text(config)
    generated = module("generate", cwd=project)
    assert generated.returncode == 0, generated.stderr
    upgraded = alembic("upgrade", "head", cwd=project)
    assert upgraded.returncode == 0, upgraded.stderr
    assert {"authors", "events", "alembic_version"} <= set(inspect(engine).get_table_names())
    (project / "eventspec.yaml").write_text(config.replace("}", ""))
    broken = alembic("upgrade", "head", cwd=project)
    assert broken.returncode == 1 and "Traceback" not in broken.stderr
    assert "eventspec.yaml: while parsing a flow mapping" in broken.stderr
    assert "(eventspec validate explains)" in broken.stderr


MODELINE = re.compile(r"# yaml-language-server: \$schema=(\S+)\n")


def spec_files(project: Path) -> list[Path]:
    return [project / "eventspec.yaml", *sorted((project / "specs").rglob("*.yaml"))]


def test_every_spec_init_writes_names_its_schema(tmp_path: Path) -> None:
    assert module("init", "shop", cwd=tmp_path).returncode == 0
    project = tmp_path / "shop"
    kinds = []
    for path in spec_files(project):
        text = path.read_text()
        match = MODELINE.match(text)
        assert match, path
        schema_path = (path.parent / match.group(1)).resolve()
        assert schema_path.parent == project / ".eventspec" / "schemas"
        value = yaml.safe_load(text)
        kind = value.get("kind", "project")
        assert schema_path.name == f"{kind}.json"
        schema = json.loads(schema_path.read_text())
        assert module("schema", kind, cwd=tmp_path).stdout == schema_path.read_text()
        assert list(Draft202012Validator(schema).iter_errors(value)) == []
        kinds.append(kind)
    assert kinds == ["project", "resource", "event_log"]
    assert [p.relative_to(project).as_posix() for p in spec_files(project)][1:] == [
        "specs/author.yaml",
        "specs/event_logs/event.yaml",
    ]


def test_readme_editor_globs_give_each_spec_its_schema(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"```json\n(\{\n  \"yaml\.schemas\".*?)```", readme, re.DOTALL)
    assert block, "the README shows a VS Code yaml.schemas mapping"
    mapping: dict[str, str] = json.loads(block.group(1))["yaml.schemas"]
    assert module("init", "shop", cwd=tmp_path).returncode == 0
    (tmp_path / "shop" / "specs" / "post.yaml").write_text("kind: resource\nname: Post\n")
    (tmp_path / "shop" / "specs" / "event_logs" / "audit.yaml").write_text("kind: event_log\n")
    for path in spec_files(tmp_path / "shop"):
        relative = path.relative_to(tmp_path / "shop").as_posix()
        matches = [schema for schema, glob in mapping.items() if glob_match(glob, relative)]
        kind = yaml.safe_load(path.read_text()).get("kind", "project")
        assert matches == [f".eventspec/schemas/{kind}.json"], relative  # exactly one, right one


def glob_match(glob: str, path: str) -> bool:
    """A VS Code glob: ``*`` stays within one folder."""
    return re.fullmatch(re.escape(glob).replace(r"\*", "[^/]*"), path) is not None


def test_schema_write_drops_the_schemas_into_a_folder(tmp_path: Path) -> None:
    written = module("schema", "--write", cwd=tmp_path)
    assert written.returncode == 0, written.stderr
    folder = tmp_path / ".eventspec" / "schemas"
    assert written.stdout.splitlines() == [
        f"wrote .eventspec/schemas/{name}.json"
        for name in ("project", "resource", "event_log", "embedded")
    ]
    for name in ("project", "resource", "event_log", "embedded"):
        assert (folder / f"{name}.json").read_text() == module("schema", name, cwd=tmp_path).stdout
    again = module("schema", "--write", cwd=tmp_path)
    assert again.stdout.count("unchanged ") == 4
    (folder / "resource.json").write_text("{}")  # an older eventspec's schema: refreshed
    assert (
        "wrote .eventspec/schemas/resource.json" in module("schema", "--write", cwd=tmp_path).stdout
    )
    elsewhere = module("schema", "--write", "editor/schemas", cwd=tmp_path)
    assert elsewhere.returncode == 0 and (tmp_path / "editor/schemas/event_log.json").is_file()
    (tmp_path / "taken").write_text("")
    blocked = module("schema", "--write", "taken/schemas", cwd=tmp_path)
    assert blocked.returncode == 1 and "Traceback" not in blocked.stderr
    assert blocked.stderr == "Error: cannot write taken/schemas/project.json: Not a directory\n"


def test_the_pre_commit_hook_is_the_drift_gate(tmp_path: Path) -> None:
    [hook] = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert (
        hook["id"] == "eventspec-check"
        and "id: eventspec-check" in (ROOT / "README.md").read_text()
    )
    assert hook["entry"] == "eventspec generate --check" and hook["pass_filenames"] is False
    assert hook["language"] == "python"  # pre-commit installs this repository's package
    files = re.compile(hook["files"])
    for changed in (
        "eventspec.yaml",
        "specs/author.yaml",
        "specs/event_logs/event.yml",
        "shop_data/models.py",
        "migrations/versions/0001_initial.py",
    ):
        assert files.search(changed), changed
    for unrelated in ("README.md", "shop.db", ".eventspec/schemas/resource.json"):
        assert not files.search(unrelated), unrelated
    assert module("init", "shop", cwd=tmp_path).returncode == 0
    project = tmp_path / "shop"
    _program, *args = shlex.split(hook["entry"])
    assert module(*args, cwd=project).returncode == 1  # nothing generated yet: stale
    assert module("generate", cwd=project).returncode == 0
    assert module(*args, cwd=project).returncode == 0
    spec = project / "specs" / "author.yaml"
    destroy = "  destroy: {type: destroy}\n"
    spec.write_text(spec.read_text().replace(destroy, destroy + "  touch: {type: update}\n"))
    stale = module(*args, cwd=project)
    assert stale.returncode == 1 and "+def touch(" in stale.stdout


def test_every_package_folder_is_in_the_wheel() -> None:
    """pyproject.toml lists the packages by hand (the import names differ from the folders)."""
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    roots = {"eventspec": "generator", **setuptools["package-dir"]}
    folders = {}
    for name, folder in roots.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            relative = init.parent.relative_to(ROOT / folder).parts
            folders[".".join((name, *relative))] = init.parent
    assert sorted(setuptools["packages"]) == sorted(folders)
