"""The comparison of stored snapshots with the spec's tables, split by concern as alembic splits
``autogenerate/compare``: :mod:`.tables`, :mod:`.columns`, :mod:`.enums`, :mod:`.constraints`, all
appending to the operation buckets of one :class:`~.context.Context`."""
