"""Regenerate the benchmark's own package: ``python -m bench.regen``.

Uses the in-process pipeline (load_project + render_package); migrations are not needed here.
"""

from __future__ import annotations

import sys
from pathlib import Path

from eventspec.loader import load_project
from eventspec.render import environment, render_package

PROJECT = Path(__file__).resolve().parent / "project" / "eventspec.yaml"


def render(config: Path = PROJECT) -> tuple[Path, dict[str, str]]:
    """The package folder and every file of it, rendered in memory."""
    project, diagnostics = load_project(config)
    if project is None:
        raise SystemExit("\n".join(str(d) for d in diagnostics))
    return project.root / project.output, render_package(project, environment())


def write(folder: Path, files: dict[str, str]) -> int:
    """Write the files that differ from what is on disk; return how many were written."""
    written = 0
    for rel, text in files.items():
        path = folder / rel
        if path.exists() and path.read_text(encoding="utf-8") == text:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written += 1
    return written


def main() -> None:
    folder, files = render()
    print(f"wrote {write(folder, files)} of {len(files)} files under {folder}", file=sys.stderr)


if __name__ == "__main__":
    main()
