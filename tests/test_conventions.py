"""The conventions a Python user expects: ``python -m eventspec``, the pre-commit hook, schema
modelines, package metadata, English plurals."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from eventspec.ir import snake_case
from eventspec.plural import plural
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
