"""SQLAlchemy-Continuum, default options, versioning a model equivalent to ``Customer``.

``make_versioned`` listens on every Engine, Mapper and Session by default. Here its listeners
are moved onto Continuum's own engine, model and Session subclass, so that the other contenders
measured in the same process do not pay for them; what Continuum does for its model is unchanged.
"""

from __future__ import annotations

import datetime
import uuid
from typing import ClassVar

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, configure_mappers, mapped_column
from sqlalchemy_continuum import make_versioned, version_class, versioning_manager

from bench.shop import UTCDateTime, utcnow


class ContinuumSession(Session):
    """The only Session class Continuum tracks."""


_ENGINE_LISTENERS = (
    ("before_execute", versioning_manager.track_association_operations),
    ("rollback", versioning_manager.clear_connection),
    ("set_connection_execution_options", versioning_manager.track_cloned_connections),
)

make_versioned(user_cls=None, session=ContinuumSession)
versioning_manager.remove_operations_tracking(sa.orm.Mapper)
for _name, _listener in _ENGINE_LISTENERS:
    sa.event.remove(sa.engine.Engine, _name, _listener)


class ContinuumBase(DeclarativeBase):
    pass


class VersionedCustomer(ContinuumBase):
    __tablename__ = "continuum_customers"
    __versioned__: ClassVar[dict[str, object]] = {}

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid(), primary_key=True, default=uuid.uuid4)
    email: Mapped[str] = mapped_column(sa.String(320))
    name: Mapped[str | None] = mapped_column(sa.String())
    tier: Mapped[str | None] = mapped_column(sa.String(), default="standard")
    created_at: Mapped[datetime.datetime | None] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime.datetime | None] = mapped_column(
        UTCDateTime(), default=utcnow, onupdate=utcnow
    )


configure_mappers()
versioning_manager.track_operations(VersionedCustomer)

METADATA = ContinuumBase.metadata
# Children first, for clearing.
TABLES = (
    version_class(VersionedCustomer).__table__,
    versioning_manager.transaction_cls.__table__,
    VersionedCustomer.__table__,
)


def attach(engine: sa.Engine) -> sa.Engine:
    """Give an engine the listeners Continuum would have put on every engine."""
    for name, listener in _ENGINE_LISTENERS:
        sa.event.listen(engine, name, listener)
    return engine
