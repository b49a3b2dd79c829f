"""Archiving an event log: its old events move to a gzip JSON Lines file, after a snapshot of the
state they built, so that replay starts from the snapshot (``_snapshots``).

The file: a header line (format, log, id range, count, the event-schema lock), one line per event
with every column as stored (an encrypted log's maps stay ciphertext, in base64), and a trailer
line with the count and a SHA-256 over the event lines. Nothing is deleted before the snapshot
and the file have been read back and checked; the delete re-checks the count in its transaction.
On a partitioned log (PostgreSQL) the oldest partitions whose events are all archived are
detached and dropped in that transaction instead of having their rows deleted (``_partitions``).
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import gzip
import hashlib
import json
import os
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from sqlalchemy import (
    Column,
    ColumnElement,
    Engine,
    LargeBinary,
    func,
    select,
    true,
    type_coerce,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.types import TypeDecorator

from . import _partitions, _snapshots
from ._engine import EventLogDef
from ._replay import ProgressFn, ReplayResult
from ._scratch import scratch_database
from ._support import EncryptedJSON, to_json, utcnow
from ._upcast import UpcastEvent
from .errors import ArchiveError

FORMAT = "eventspec-archive"
VERSION = 1
_INTACT = "nothing was deleted: the log is intact"
CHECKPOINTS = "eventspec_checkpoints"  # the consumers' table (``log.consume``)
Rehearse = Callable[..., ReplayResult]


@dataclass(frozen=True, slots=True)
class ArchiveResult:
    """What an archive run did."""

    log: str
    path: Path
    first_event_id: Any
    last_event_id: Any
    count: int
    snapshot_id: int
    snapshot_rows: int
    sha256: str
    elapsed: float
    # Named consumers (``log.consume``) whose checkpoint is before the last archived event.
    behind: tuple[tuple[str, int], ...] = ()
    # The partitions detached and dropped (a partitioned log on PostgreSQL), oldest first.
    detached: tuple[str, ...] = ()

    def __str__(self) -> str:
        lines = [
            (
                f"archived {self.count} events of {self.log} (ids {self.first_event_id} to "
                f"{self.last_event_id}) to {self.path} in {self.elapsed:.2f}s"
            ),
            (
                f"  snapshot {self.snapshot_id} ({self.snapshot_rows} rows) is where replay "
                "starts; keep the file: it is the only copy of these events"
            ),
        ]
        if self.detached:
            lines.append(
                "  detached and dropped the partitions whose events are all archived: "
                + ", ".join(self.detached)
            )
        lines += [
            (
                f"  warning: consumer {name!r} had handled events up to {position} only: it will "
                "not see the archived events after that (unless it consumes another log)"
            )
            for name, position in self.behind
        ]
        return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class _Range:
    first: Any
    last: Any
    count: int
    last_occurred_at: dt.datetime
    previous: _snapshots.Snapshot | None


def run_archive(
    live: Engine,
    *,
    log: EventLogDef,
    snapshots: _snapshots.SnapshotTables,
    rehearse: Rehearse,
    before: Any,
    to: str | os.PathLike[str],
    lock: Mapping[str, Any] | None = None,
    on_progress: ProgressFn | None = None,
    batch_size: int = 1000,
    delete: Callable[..., Sequence[str] | None] | None = None,
) -> ArchiveResult:
    """Snapshot, write and check the file, then delete the events it holds (see the module).
    ``delete`` is the step deleting them, ``delete_archived`` unless given."""
    started = time.perf_counter()
    path = Path(to)
    tmp = path.with_name(path.name + ".tmp")
    if path.exists():
        raise ArchiveError(f"{path} exists: an archive file is never overwritten")
    if tmp.exists():
        raise ArchiveError(
            f"{tmp} exists: another archive run is writing it, or one was interrupted (then "
            "remove it)"
        )
    span = _span(live, log, snapshots, before)
    behind = _behind(live, log, span.last)
    snapshot: _snapshots.Snapshot | None = None
    written: list[Path] = []
    deleting = False
    try:
        with scratch_database(live) as scratch:
            replayed = rehearse(
                live,
                scratch,
                last_event_id=span.last,
                on_progress=on_progress,
                batch_size=batch_size,
            )
            if replayed.applied != span.count:
                raise ArchiveError(
                    f"{log.name} holds {span.count} events up to {span.last} but the snapshot "
                    f"replayed {replayed.applied}: events were written meanwhile; run it again"
                )
            snapshot = _snapshots.write(
                live,
                snapshots,
                _snapshots.state_rows(scratch, snapshots),
                last_event_id=span.last,
                last_occurred_at=span.last_occurred_at,
                event_count=span.count,
            )
        header = {
            "format": FORMAT,
            "version": VERSION,
            "log": log.name,
            "table": log.table.name,
            "columns": {column.name: _kind(column) for column in log.table.columns},
            "first_event_id": to_json(span.first),
            "last_event_id": to_json(span.last),
            "previous_last_event_id": to_json(span.previous.last_event_id)
            if span.previous
            else None,
            "count": span.count,
            "created_at": utcnow().isoformat(),
            "snapshot_id": snapshot.id,
            "event_schema_lock": lock,
        }
        written.append(tmp)
        digest = _write(live, log, tmp, header, span, batch_size)
        _check_against(live, log, tmp, span, digest, batch_size)
        os.replace(tmp, path)
        written[:] = [path]
        _sync_folder(path.parent)
        deleting = True
        detached = (delete or delete_archived)(live, log, snapshots, snapshot, path.name)
        written.clear()  # from here on the file is the only copy of the events
    except BaseException as error:
        if deleting and not _intact(live, log, span):
            # The delete may have committed (a connection lost at COMMIT): keep everything.
            raise ArchiveError(
                f"archiving {log.name} failed while deleting the archived events, and the log "
                f"no longer holds all of them: keep {path}, it may be their only copy "
                f"({_summary(error)})"
            ) from error
        for leftover in written:
            leftover.unlink(missing_ok=True)
        if snapshot is not None:
            with contextlib.suppress(Exception):
                _snapshots.forget(live, snapshots, snapshot.id)
        if not isinstance(error, Exception):
            raise
        reason = str(error) if isinstance(error, ArchiveError) else _summary(error)
        raise ArchiveError(f"archiving {log.name} failed: {reason}; {_INTACT}") from error
    return ArchiveResult(
        log.name,
        path,
        span.first,
        span.last,
        span.count,
        snapshot.id,
        snapshot.row_count,
        digest,
        time.perf_counter() - started,
        behind,
        tuple(detached or ()),
    )


def _behind(live: Engine, log: EventLogDef, last: Any) -> tuple[tuple[str, int], ...]:
    """The consumers whose checkpoint is below ``last`` (checkpoints are shared by the logs
    with integer ids, so one may be another log's)."""
    checkpoints = log.table.metadata.tables.get(CHECKPOINTS)
    if checkpoints is None or not isinstance(last, int):
        return ()
    query = select(checkpoints.c.name, checkpoints.c.position).where(checkpoints.c.position < last)
    with live.connect() as connection:
        return tuple((name, position) for name, position in connection.execute(query))


def _intact(live: Engine, log: EventLogDef, span: _Range) -> bool:
    """Whether the log still holds every event of ``span`` (false when it cannot tell)."""
    try:
        with live.connect() as connection:
            cut = log.table.c.id <= span.last
            held = connection.scalar(select(func.count()).select_from(log.table).where(cut))
    except SQLAlchemyError:
        return False
    return held is not None and held >= span.count  # more: a late writer; none deleted


def delete_archived(
    live: Engine,
    log: EventLogDef,
    snapshots: _snapshots.SnapshotTables,
    snapshot: _snapshots.Snapshot,
    archive: str,
) -> list[str]:
    """Delete the archived events, in one transaction that first checks that the log still holds
    exactly them, and makes ``snapshot`` the one replay starts from. On a partitioned log, the
    partitions whose events are all archived are detached and dropped instead; the rows below the
    cut in the others are deleted. Returns the partitions detached."""
    table = log.table
    cut = snapshot.last_event_id
    with live.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Waits for the writers in flight, so that none commits an event below the cut later.
            name = connection.dialect.identifier_preparer.format_table(table)
            connection.exec_driver_sql(f"LOCK TABLE {name} IN SHARE ROW EXCLUSIVE MODE")
        below = table.c.id <= cut
        held = connection.scalar(select(func.count()).select_from(table).where(below))
        if held != snapshot.event_count:
            raise ArchiveError(
                f"{log.name} now holds {held} events up to {cut}, the archive "
                f"{snapshot.event_count}: events were written meanwhile; run it again"
            )
        detached, removed = _partitions.detach_archived(connection, table, cut)
        removed += connection.execute(table.delete().where(below)).rowcount
        if removed != snapshot.event_count:
            raise ArchiveError(f"deleting the archived events of {log.name} removed {removed}")
        _snapshots.mark_archived(connection, snapshots, snapshot, archive)
    return detached


def _span(
    live: Engine, log: EventLogDef, snapshots: _snapshots.SnapshotTables, before: Any
) -> _Range:
    """The events to archive: every event before ``before`` (an event id, or an instant: the
    events up to the first that occurred at or after it)."""
    table = log.table
    with live.connect() as connection:
        previous = _snapshots.boundary(connection, snapshots)
        # min() and max() of a uuid do not exist on PostgreSQL: the first and last by ORDER BY.
        if isinstance(before, dt.datetime):
            if before.tzinfo is None:
                raise ArchiveError("--before: give the instant a timezone (or Z)")
            late = connection.scalar(
                select(table.c.id)
                .where(table.c.occurred_at >= before)
                .order_by(table.c.id)
                .limit(1)
            )
            cut: ColumnElement[bool] = table.c.id < late if late is not None else true()
        else:
            cut = table.c.id < before
        count, occurred = connection.execute(
            select(func.count(), func.max(table.c.occurred_at)).where(cut)
        ).one()
        ends = [
            connection.scalar(select(table.c.id).where(cut).order_by(order).limit(1))
            for order in (table.c.id, table.c.id.desc())
        ]
    if not count:
        raise ArchiveError(f"no event of {log.name} before {before}: nothing to archive")
    first, last = ends
    if previous is not None:
        occurred = max(occurred, previous.last_occurred_at)
    return _Range(first, last, count, occurred, previous)


# --- the file -------------------------------------------------------------------------------------


def _kind(column: Column[Any]) -> str:
    """How a column's values are written: as JSON, but a uuid, a datetime or bytes as text."""
    type_ = column.type
    if isinstance(type_, EncryptedJSON):
        return "ciphertext"
    if isinstance(type_, TypeDecorator):
        type_ = type_.impl_instance
    try:
        python = type_.python_type
    except NotImplementedError:
        return "json"
    return {
        int: "integer",
        str: "string",
        uuid.UUID: "uuid",
        dt.datetime: "datetime",
        bytes: "bytes",
    }.get(python, "json")


def _stored(column: Column[Any]) -> ColumnElement[Any]:
    """The column as stored: an encrypted one as its bytes, not decrypted."""
    if isinstance(column.type, EncryptedJSON):
        return type_coerce(column, LargeBinary).label(column.name)
    return column.label(column.name)


def _line(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode() + b"\n"


def _events(
    live: Engine, log: EventLogDef, span: _Range, batch_size: int
) -> Iterator[dict[str, Any]]:
    table = log.table
    query = (
        select(*[_stored(column) for column in table.columns])
        .where(table.c.id <= span.last)
        .order_by(table.c.id)
        .execution_options(yield_per=batch_size)
    )
    with live.connect() as connection:
        for row in connection.execute(query):
            yield row._asdict()


def _write(
    live: Engine,
    log: EventLogDef,
    path: Path,
    header: Mapping[str, Any],
    span: _Range,
    batch_size: int,
) -> str:
    digest = hashlib.sha256()
    count = 0
    with path.open("xb") as raw:
        with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as out:
            out.write(_line(header))
            for event in _events(live, log, span, batch_size):
                line = _line({name: to_json(value) for name, value in event.items()})
                digest.update(line)
                out.write(line)
                count += 1
            out.write(_line({"trailer": True, "count": count, "sha256": digest.hexdigest()}))
        raw.flush()
        os.fsync(raw.fileno())
    if count != span.count:
        raise ArchiveError(f"wrote {count} events of {log.name}, {span.count} were counted")
    return digest.hexdigest()


def _sync_folder(folder: Path) -> None:
    with contextlib.suppress(OSError):  # not every platform opens a folder
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


@dataclass(frozen=True, slots=True)
class ArchiveFile:
    """An archive file's header, checked against its trailer."""

    path: Path
    header: Mapping[str, Any]

    @property
    def count(self) -> int:
        return int(self.header["count"])


def _open(path: Path) -> gzip.GzipFile:
    try:
        return gzip.GzipFile(path, "rb")
    except OSError as error:
        raise ArchiveError(f"cannot read {path}: {error}") from error


def _lines(path: Path) -> Iterator[Any]:
    with _open(path) as stream:
        try:
            for number, line in enumerate(stream, 1):
                try:
                    yield number, line, json.loads(line)
                except ValueError as error:
                    raise ArchiveError(f"{path}:{number}: not a JSON line") from error
        except (OSError, EOFError, gzip.BadGzipFile) as error:
            raise ArchiveError(f"{path} is not a complete gzip file: {error}") from error


def check_file(path: Path, log: str | None = None) -> ArchiveFile:
    """Read ``path`` through: its header, every event line against the trailer's count and
    checksum. Raises ``ArchiveError`` on anything else (a truncated or altered file)."""
    digest = hashlib.sha256()
    header: Mapping[str, Any] | None = None
    pending: tuple[bytes, Any] | None = None  # the last line read: the trailer, at the end
    count = 0
    for number, line, value in _lines(path):
        if number == 1:
            if not isinstance(value, dict) or value.get("format") != FORMAT:
                raise ArchiveError(f"{path} is not an eventspec archive (no {FORMAT} header)")
            if value.get("version") != VERSION:
                raise ArchiveError(
                    f"{path} is in archive format version {value.get('version')}; this package "
                    f"reads version {VERSION}"
                )
            header = value
            continue
        if pending is not None:
            digest.update(pending[0])
            count += 1
        pending = (line, value)
    trailer = pending[1] if pending is not None else None
    if header is None or not isinstance(trailer, dict) or trailer.get("trailer") is not True:
        raise ArchiveError(
            f"{path} is truncated: it has no {'header' if header is None else 'trailer'}"
        )
    if count != trailer.get("count") or count != header.get("count"):
        raise ArchiveError(
            f"{path} holds {count} events, its header says {header.get('count')} and its "
            f"trailer {trailer.get('count')}"
        )
    if digest.hexdigest() != trailer.get("sha256"):
        raise ArchiveError(f"{path}: the events do not match the trailer's checksum (altered)")
    if log is not None and header.get("log") != log:
        raise ArchiveError(f"{path} holds events of {header.get('log')}, not of {log}")
    return ArchiveFile(path, header)


def _check_against(
    live: Engine, log: EventLogDef, path: Path, span: _Range, digest: str, batch_size: int
) -> None:
    """The written file reads back whole, and holds exactly the ids the log holds in the range."""
    archive = check_file(path, log.name)
    decode = _decoders(log.table, archive.header, None)
    ids = (decode["id"](event["id"]) for event in _event_lines(archive))
    stored = (event["id"] for event in _events(live, log, span, batch_size))
    for index, (written, held) in enumerate(zip(ids, stored, strict=False)):
        if written != held:
            raise ArchiveError(f"{path}: event {index + 1} is {written}, the log holds {held}")
    if archive.count != span.count:
        raise ArchiveError(f"{path} holds {archive.count} events, the log {span.count}")


def _event_lines(archive: ArchiveFile) -> Iterator[dict[str, Any]]:
    """The events of a checked file: every line between the header and the trailer."""
    pending = None
    for number, _line_bytes, value in _lines(archive.path):
        if number == 1:
            continue
        if pending is not None:
            yield pending
        pending = value


def _decoders(
    table: Any, header: Mapping[str, Any], dialect: Dialect | None
) -> dict[str, Callable[[Any], Any]]:
    """How each column of an archive's events reads back; a ciphertext is decrypted only with
    ``dialect`` (a replay), else kept as bytes."""
    columns = {column.name: column for column in table.columns}
    return {
        name: _decoder(kind, columns.get(name), dialect) for name, kind in header["columns"].items()
    }


def _decoder(
    kind: str, column: Column[Any] | None, dialect: Dialect | None
) -> Callable[[Any], Any]:
    def decode(value: Any) -> Any:
        if value is None:
            return None
        if kind == "uuid":
            return uuid.UUID(value)
        if kind == "datetime":
            return dt.datetime.fromisoformat(value)
        if kind in ("bytes", "ciphertext"):
            blob = base64.b64decode(value)
            if kind == "ciphertext" and dialect is not None and column is not None:
                return cast(EncryptedJSON, column.type).process_result_value(blob, dialect)
            return blob
        return value

    return decode


class ArchiveSet:
    """Archive files of one log, checked (each whole, and contiguous with each other), whose
    events a replay applies before the log's own (``_replay.Archived``)."""

    def __init__(self, paths: Sequence[str | os.PathLike[str]], log: EventLogDef, dialect: Dialect):
        if not paths:
            raise ArchiveError("no archive file given")
        files = [check_file(Path(path), log.name) for path in paths]
        self.log = log
        self.dialect = dialect
        self.files = sorted(
            files,
            key=lambda f: _decoders(log.table, f.header, None)["id"](f.header["first_event_id"]),
        )
        previous = None
        for archive in self.files:
            if archive.header.get("previous_last_event_id") != previous:
                raise ArchiveError(
                    f"{archive.path} follows the archive ending at event "
                    f"{archive.header.get('previous_last_event_id')}, but "
                    + (f"the one before ends at {previous}" if previous else "it was not given")
                    + ": pass every archive file of the log, from the first"
                )
            previous = archive.header["last_event_id"]
        last = self.files[-1]
        self.last_event_id = _decoders(log.table, last.header, None)["id"](
            last.header["last_event_id"]
        )
        self.count = sum(archive.count for archive in self.files)

    def check_live(self, reader: Any, snapshots: _snapshots.SnapshotTables | None) -> None:
        """The log the replay goes on with was archived up to the last file, not further."""
        found = None if snapshots is None else _snapshots.boundary(reader, snapshots)
        if found is not None and found.last_event_id != self.last_event_id:
            raise ArchiveError(
                f"the archive files end at event {self.last_event_id}, but {self.log.name} was "
                f"archived up to event {found.last_event_id} (to {found.archive}): pass that "
                "file too"
            )

    def pages(
        self, last_event_id: Any, point_in_time: dt.datetime | None, batch_size: int
    ) -> Iterator[Sequence[Any]]:
        page: list[Any] = []
        for archive in self.files:
            decode = _decoders(self.log.table, archive.header, self.dialect)
            for raw in _event_lines(archive):
                event = {name: decode[name](value) for name, value in raw.items()}
                if last_event_id is not None and event["id"] > last_event_id:
                    continue
                if point_in_time is not None and event["occurred_at"] > point_in_time:
                    continue
                page.append(
                    UpcastEvent(
                        event["id"],
                        event["resource"],
                        event["action"],
                        event["action_type"],
                        event["version"],
                        event["record_id"],
                        event["data"],
                        event["changed_attributes"],
                        subject=event.get("subject"),
                    )
                )
                if len(page) >= batch_size:
                    yield page
                    page = []
        if page:
            yield page


def _summary(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__


def archived(
    session: Any,
    source: Any,
    log: EventLogDef,
    snapshots: _snapshots.SnapshotTables,
    paths: Sequence[str | os.PathLike[str]],
) -> ArchiveSet | None:
    """The archive files a replay starts from (none: it starts from the latest snapshot),
    checked whole and against the log it goes on with."""
    if not paths:
        return None
    files = ArchiveSet(paths, log, session.get_bind().dialect)
    files.check_live(session if source is None else source, snapshots)
    return files
