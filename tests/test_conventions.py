"""The conventions a Python user expects: ``python -m eventspec``, the pre-commit hook, schema
modelines, package metadata, English plurals."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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
