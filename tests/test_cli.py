"""The command line as a user meets it: init, validate, generate, --check, --dry-run, replay."""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from eventspec.cli import main

ROOT = Path(__file__).resolve().parent.parent
FEATURES = ROOT / "tests" / "golden" / "features"


def run(*args: str, cwd: Path | None = None) -> Result:
    runner = CliRunner()
    old = Path.cwd()
    try:
        if cwd is not None:
            os.chdir(cwd)
        return runner.invoke(main, list(args), catch_exceptions=False)
    finally:
        os.chdir(old)


def tree(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts and not p.name.endswith(".db")
    }


@pytest.fixture
def project(tmp_path: Path) -> Path:
    result = run("init", str(tmp_path / "shop"))
    assert result.exit_code == 0, result.output
    return tmp_path / "shop"


def test_init_generate_check_round_trip(project: Path) -> None:
    assert run("generate", cwd=project).exit_code == 0
    result = run("generate", "--check", cwd=project)
    assert result.exit_code == 0, result.output
    assert "up to date" in result.output
    second = run("generate", cwd=project)
    assert "wrote 0 files" in second.output


@pytest.mark.parametrize(
    ("package", "problem"),
    [
        ('x"; import os; os.system("touch m"); "', "not a dotted import path"),
        ("pkg..data", "not a dotted import path"),
        ("pkg.data.", "not a dotted import path"),
        ("", "not a dotted import path"),
        ("data\nimport os", "not a dotted import path"),
        ("app-data", "not a dotted import path"),
        ("app.class", "the Python keyword 'class'"),
        ("None.data", "the Python keyword 'None'"),
    ],
)
def test_init_refuses_a_package_the_config_would_refuse(
    tmp_path: Path, package: str, problem: str
) -> None:
    result = run("init", str(tmp_path / "shop"), "--package", package)
    assert result.exit_code == 2
    assert f"--package {package!r} " in result.output and problem in result.output
    assert not (tmp_path / "shop").exists()
    assert list(tmp_path.iterdir()) == []


def test_init_quotes_a_package_yaml_would_misread(tmp_path: Path) -> None:
    result = run("init", str(tmp_path / "shop"), "--package", "null")
    assert result.exit_code == 0, result.output
    assert 'package: "null"' in (tmp_path / "shop" / "eventspec.yaml").read_text()
    assert 'PACKAGE = "null"' in (tmp_path / "shop" / "migrations" / "env.py").read_text()
    result = run("validate", cwd=tmp_path / "shop")
    assert result.exit_code == 0, result.output


def test_check_reports_drift_with_a_diff_and_exit_1(project: Path) -> None:
    run("generate", cwd=project)
    spec = project / "specs" / "author.yaml"
    update = "  update: {type: update, accept: [name]}\n"
    spec.write_text(spec.read_text().replace(update, update + "  touch: {type: update}\n"))
    result = run("generate", "--check", cwd=project)
    assert result.exit_code == 1
    assert "changed: shop_data/actions/author.py" in result.output
    assert "+def touch(" in result.output  # a unified diff
    assert "missing: migrations/versions/" not in result.output  # no schema change


def test_dry_run_writes_nothing(project: Path) -> None:
    before = tree(project)
    result = run("generate", "--dry-run", cwd=project)
    assert result.exit_code == 0
    assert "missing: shop_data/models.py" in result.output
    assert tree(project) == before


def test_generate_removes_files_it_no_longer_generates(project: Path) -> None:
    (project / "specs" / "tag.yaml").write_text(
        "kind: resource\nname: Tag\nattributes:\n  id: {type: uuid, primary_key: true}\n"
        "actions:\n  create: {type: create}\n"
    )
    run("generate", cwd=project)
    assert (project / "shop_data" / "actions" / "tag.py").exists()
    assert (project / "shop_data" / "aio" / "actions" / "tag.py").exists()
    (project / "specs" / "tag.yaml").unlink()
    result = run("generate", cwd=project)
    assert "removed 2" in result.output  # the actions module and its async twin
    assert not (project / "shop_data" / "actions" / "tag.py").exists()
    assert not (project / "shop_data" / "aio" / "actions" / "tag.py").exists()


def test_three_mistakes_give_three_located_errors_and_write_nothing(project: Path) -> None:
    (project / "specs" / "author.yaml").write_text(
        (project / "specs" / "author.yaml")
        .read_text()
        .replace("create_timestamp: created_at", "create_timestamp: created")
        .replace("accept: [name]}", "accept: [nam]}")
    )
    log = project / "specs" / "event_logs" / "event.yaml"
    log.write_text(log.read_text() + "advisory_lock_key_default: 4294967296\n")
    before = tree(project)
    result = run("generate", cwd=project)
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if ": ES" in line]
    assert len(lines) == 3, result.output
    assert lines == sorted(lines)
    assert all(line.split(":")[1].isdigit() for line in lines)  # path:line:col
    assert "3 errors; nothing was written." in result.output
    assert tree(project) == before
    assert "Traceback" not in result.output


def test_validate_and_schema(project: Path) -> None:
    assert "ok:" in run("validate", cwd=project).output
    schema = json.loads(run("schema", "event_log").output)
    assert schema["$schema"].endswith("2020-12/schema")
    assert "replay_overrides" in schema["properties"]


def test_missing_config_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["generate", "--config", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2
    assert "eventspec init" in result.output


def test_replay_refuses_without_a_terminal_and_runs_with_yes(project: Path) -> None:
    run("generate", cwd=project)
    subprocess.run([sys.executable, "-m", "alembic", "upgrade", "head"], cwd=project, check=True)
    refused = run("replay", cwd=project)
    assert refused.exit_code == 2
    assert "--yes" in refused.output
    done = run("replay", "--yes", cwd=project)
    assert done.exit_code == 0, done.output
    assert "replayed 0 events" in done.output


def test_generate_is_deterministic_across_hash_seeds_and_spec_order(tmp_path: Path) -> None:
    """Two subprocesses, different PYTHONHASHSEEDs, the documents in a different order."""
    documents = []
    for spec in sorted((FEATURES / "specs").glob("*.yaml")):
        documents += [d.strip() for d in spec.read_text().split("\n---\n")]
    outputs = []
    for seed in ("1", "2"):
        case = tmp_path / f"seed{seed}"
        (case / "specs").mkdir(parents=True)
        shutil.copy(FEATURES / "eventspec.yaml", case / "eventspec.yaml")
        random.Random(seed).shuffle(documents)
        (case / "specs" / "all.yaml").write_text("\n---\n".join(documents) + "\n")
        env = {**os.environ, "PYTHONHASHSEED": seed}
        subprocess.run(
            [sys.executable, "-m", "eventspec.cli", "generate"], cwd=case, env=env, check=True
        )
        generated = tree(case)
        del generated["specs/all.yaml"]
        outputs.append(generated)
    assert outputs[0] == outputs[1]
    assert any(name.startswith("migrations/versions/") for name in outputs[0])


def test_check_fails_on_a_pending_migration_and_generate_writes_one(project: Path) -> None:
    run("generate", cwd=project)
    spec = project / "specs" / "author.yaml"
    spec.write_text(spec.read_text().replace("  email:", "  bio: text\n  email:"))
    result = run("generate", "--check", cwd=project)
    assert result.exit_code == 1
    assert "missing: migrations/versions/" in result.output
    assert "changed: migrations/snapshots/authors.json" in result.output
    assert run("generate", "--name", "add_author_bio", cwd=project).exit_code == 0
    revisions = sorted((project / "migrations" / "versions").glob("*_add_author_bio.py"))
    assert len(revisions) == 1 and "add_column" in revisions[0].read_text()
    assert run("generate", "--check", cwd=project).exit_code == 0
