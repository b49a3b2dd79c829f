"""Regenerate every golden tree and the example (`make golden`); review the diff, then commit."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from eventspec.loader import load_project
from eventspec.plan import make_plan, write

from tests.golden_cases import CASES


def main() -> int:
    for name, folder in CASES.items():
        project, diagnostics = load_project(folder / "eventspec.yaml")
        if project is None:
            for diagnostic in diagnostics:
                print(diagnostic.render(), file=sys.stderr)
            return 2
        changes = write(make_plan(project))
        print(
            f"{name}: {len(changes.changed)} changed, {len(changes.missing)} new, "
            f"{len(changes.extra)} removed"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
