"""Projects generated during a test: written to a folder, generated, importable, then forgotten."""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from eventspec.loader import load_project
from eventspec.plan import make_plan, write


@contextmanager
def generated_package(root: Path, top: str, specs: Mapping[str, str]) -> Iterator[Path]:
    """Generate ``<top>.data`` from ``specs`` (file name under specs/ -> text) into ``root/src``.

    Yields the folder of the top-level package (to add hand-written modules to). While the block
    runs the package can be imported; afterwards its modules are dropped from ``sys.modules``.
    """
    (root / "specs").mkdir()
    for name, text in specs.items():
        (root / "specs" / name).write_text(text, encoding="utf-8")
    (root / "eventspec.yaml").write_text(
        f"package: {top}.data\noutput: src/{top}/data\nspecs: specs\nmigrations: migrations\n",
        encoding="utf-8",
    )
    project, diagnostics = load_project(root / "eventspec.yaml")
    assert project is not None, [d.render() for d in diagnostics]
    write(make_plan(project))
    source = root / "src" / top
    (source / "__init__.py").write_text("", encoding="utf-8")
    sys.path.insert(0, str(root / "src"))
    try:
        yield source
    finally:
        sys.path.remove(str(root / "src"))
        for module in [m for m in sys.modules if m == top or m.startswith(top + ".")]:
            del sys.modules[module]
