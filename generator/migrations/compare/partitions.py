"""A partitioned event table (``partitioning``): created partitioned on PostgreSQL, where its
primary key must hold the partition key, then given its first partitions by the generated
package's runtime (``_partitions``). Other databases get the plain table.

Migrations do not re-partition a table that exists: turning a plain table into a partitioned
one (or back, or onto another key) copies every event, which is an operator's job
(docs/scaling.md); the differ warns and keeps the table as it is.
"""

from __future__ import annotations

from dataclasses import replace

import sqlalchemy as sa
from alembic.operations import ops

from ...filters import INDENT
from ...printer import py
from ...pyfmt import Call
from .. import codeop
from ..codeop import PG_GUARD, CodeOp, line
from ..revision import render_ops
from ..schema import metadata_of
from ..snapshot import Table
from .context import Context

LEVEL = codeop.BODY + 1  # inside ``if op.get_bind().dialect.name == "postgresql":``


def create_table(snap: Table) -> CodeOp:
    """``create_table``: partitioned on PostgreSQL, plain elsewhere (SQLite ignores the
    ``postgresql_partition_by`` option, but a composite key would stop its ids counting up)."""
    key = snap.partition_by
    keyed = tuple(replace(c, primary_key=c.primary_key or c.name == key) for c in snap.columns)
    partitioned = _table(replace(snap, columns=keyed))
    if keyed == snap.columns:  # by id: the key is the primary key already
        return CodeOp(render_ops([ops.CreateTableOp.from_table(partitioned)]), _drop(snap))
    plain = _table(replace(snap, partition_by=None))
    lines = [INDENT * codeop.BODY + PG_GUARD]
    lines += render_ops([ops.CreateTableOp.from_table(partitioned)], LEVEL)
    lines += [INDENT * codeop.BODY + "else:"]
    lines += render_ops([ops.CreateTableOp.from_table(plain)], LEVEL)
    return CodeOp(lines, _drop(snap))


def first_partitions(ctx: Context, snap: Table) -> CodeOp:
    """The partitions a new table starts with (dropped with it on downgrade)."""
    partitioning = ctx.defs[snap.name].partitioning
    assert partitioning is not None, f"{snap.name} is not partitioned"
    span = ("size", str(partitioning.size)) if partitioning.by == "id" else None
    spec = Call(
        "_partitions.Partitioning",
        [],
        [
            ("by", py(partitioning.by)),
            span or ("interval", py(partitioning.interval)),
            ("ahead", str(partitioning.ahead)),
        ],
    )
    create = Call("_partitions.create_partitions", ["op.get_bind()", py(snap.name), spec])
    lines = [
        INDENT * codeop.BODY + PG_GUARD,
        INDENT * LEVEL + f"from {ctx.package} import _partitions",
        "",
        line(create, LEVEL),
    ]
    return CodeOp(lines, [])


def check_unchanged(ctx: Context, current: Table, target: Table) -> None:
    if current.partition_by == target.partition_by:
        return
    was = f"partitioned by {current.partition_by}" if current.partition_by else "not partitioned"
    ctx.result.warnings.append(
        f"{target.name}: the table is {was} in the database; migrations do not re-partition an "
        "existing table (copy its events into a new one, see docs/scaling.md)"
    )


def _table(snap: Table) -> sa.Table:
    return metadata_of([snap]).tables[snap.name]


def _drop(snap: Table) -> list[str]:
    return [INDENT * codeop.BODY + f"op.drop_table({py(snap.name)})"]
