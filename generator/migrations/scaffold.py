"""The alembic files ``eventspec init`` writes: alembic.ini, env.py, script.py.mako."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from ..render import environment


def scaffold_alembic(project_root: Path, package: str, migrations: str) -> dict[Path, str]:
    """Starter files keyed by path relative to ``project_root``; plain ``alembic upgrade head``
    works from the project root once the package is generated."""
    folder = PurePosixPath(migrations)
    env = environment()
    context = {"package": package, "migrations": folder.as_posix(), "depth": len(folder.parts)}
    base = Path(*folder.parts)
    return {
        Path("alembic.ini"): env.get_template("alembic/alembic.ini.j2").render(**context),
        base / "env.py": env.get_template("alembic/env.py.j2").render(**context),
        base / "script.py.mako": env.get_template("alembic/script.py.mako.j2").render(**context),
        base / "versions" / ".gitkeep": "",
        base / "snapshots" / ".gitkeep": "",
    }
