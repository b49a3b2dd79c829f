"""Offline alembic migrations: snapshots of the schema, diffed into revision files."""

from __future__ import annotations

from .plan import MigrationPlan, plan_migrations
from .scaffold import scaffold_alembic
from .snapshot import SnapshotError

__all__ = ["MigrationPlan", "SnapshotError", "plan_migrations", "scaffold_alembic"]
