"""Rewrite tests/invalid/*/expected.txt from what the loader prints now.

Run it after changing a message on purpose, then review the diff: the fixtures are the contract of
the error output, so a change here should be one you meant.

    .venv/bin/python tests/regen_invalid.py [CASE ...]
"""

from __future__ import annotations

import sys
from pathlib import Path

from eventspec.loader import load_project

CASES = Path(__file__).parent / "invalid"


def rendered(case: Path) -> str:
    _project, diagnostics = load_project(case / "eventspec.yaml")
    return "".join(d.render() + "\n" for d in diagnostics)


def main(names: list[str]) -> None:
    cases = (
        [CASES / n for n in names] if names else sorted(p for p in CASES.iterdir() if p.is_dir())
    )
    for case in cases:
        text = rendered(case)
        (case / "expected.txt").write_text(text, encoding="utf-8")
        print(f"{case.name}: {text.count(chr(10))} diagnostic(s)")


if __name__ == "__main__":
    main(sys.argv[1:])
