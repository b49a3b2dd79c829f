"""``eventspec rotate-keys``: re-encrypt an encrypted event log with its current key."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from .. import ir
from .database import import_generated, load, pick_log, redact, resolve_database_url
from .reading import reading


@dataclass
class Rotation:
    """What a run did (or, with --dry-run, would do)."""

    reencrypted: int = 0
    current: int = 0
    batches: int = 0


def run(
    config_path: Path,
    database_url: str | None,
    event_log: str | None,
    batch_size: int,
    dry_run: bool,
    yes: bool,
) -> None:
    """Re-encrypt, batch by batch, what is not under the current key (count only: dry_run)."""
    project = load(config_path)
    log = _encrypted_log(project, event_log)
    url = resolve_database_url(project, database_url)
    table = getattr(import_generated(project, "models"), log.name).__table__
    errors = import_generated(project, "errors")
    names = [name for name in ir.ENCRYPTED_FIELDS if hasattr(table.c[name].type, "keyring")]
    if not names:
        raise click.ClickException(
            f"the generated model of {log.name} does not encrypt; run `eventspec generate`"
        )
    keyring = table.c[names[0]].type.keyring
    with reading(url, errors, table.name) as session:
        keys = keyring.keys()  # a missing or malformed key stops here, before any change
        with session.begin():
            total = _count(session, table)
        if not (yes or dry_run):
            if not sys.stdin.isatty():
                raise click.UsageError(
                    "rotate-keys rewrites every event; pass --yes to confirm when not running "
                    "in a terminal"
                )
            click.confirm(
                f"Re-encrypt the {total} events of {log.name} in {redact(url)} with key "
                f"{keyring.current_key_id} (the first of {len(keys)} in "
                f"{log.encryption_key_env})? From then on every reader needs that key.",
                abort=True,
            )
        with click.progressbar(length=total, label="re-encrypting", file=sys.stderr) as bar:
            result = _rotate(session, table, names, keyring, batch_size, dry_run, errors, bar)
        rewrapped = _rewrap(project, log, session) if log.personal_data and not dry_run else 0
    verb = "would re-encrypt" if dry_run else "re-encrypted"
    click.echo(
        f"{log.name}: {verb} {result.reencrypted} event{'s' if result.reencrypted != 1 else ''}, "
        f"{result.current} already under key {keyring.current_key_id}, in {result.batches} "
        f"batch{'es' if result.batches != 1 else ''} of up to {batch_size}"
    )
    if log.personal_data and not dry_run:
        click.echo(f"{log.name}: rewrapped {rewrapped} data subject key(s) with the current key")
    if not dry_run and len(keys) > 1:
        others = "the other key" if len(keys) == 2 else f"the other {len(keys) - 1} keys"
        click.echo(
            f"every event now decrypts with the first key alone: {others} can be removed from "
            f"{log.encryption_key_env}"
        )


def _rewrap(project: ir.Project, log: ir.EventLog, session: Any) -> int:
    """Rewrap the data subjects' keys (docs/privacy.md): their values need no re-encryption."""
    definition = getattr(import_generated(project, "event_logs"), log.name.upper())
    with session.begin():
        rewrapped: int = import_generated(project, "_privacy").rewrap(session, definition)
    return rewrapped


def _encrypted_log(project: ir.Project, name: str | None) -> ir.EventLog:
    if name is not None:
        log = pick_log(project, name)
        if not log.encrypted:
            raise click.UsageError(f"{log.name} is not encrypted (it has no encryption: key_env)")
        return log
    encrypted = [log for log in project.event_logs if log.encrypted]
    if not encrypted:
        raise click.UsageError("no event log of this project is encrypted; nothing to rotate")
    if len(encrypted) > 1:
        names = ", ".join(log.name for log in encrypted)
        raise click.UsageError(f"several encrypted event logs ({names}): pass --event-log NAME")
    return encrypted[0]


def _count(session: Any, table: Any) -> int:
    from sqlalchemy import func, select

    return int(session.scalar(select(func.count()).select_from(table)) or 0)


def _rotate(
    session: Any,
    table: Any,
    names: list[str],
    keyring: Any,
    batch_size: int,
    dry_run: bool,
    errors: Any,
    bar: Any,
) -> Rotation:
    """Walk the log in id order, one transaction per batch, rewriting what is not current."""
    from sqlalchemy import LargeBinary, bindparam, select, type_coerce, update

    raw = [type_coerce(table.c[name], LargeBinary()).label(name) for name in names]
    rewrite = (
        update(table)
        .where(table.c.id == bindparam("event_id"))
        .values({name: bindparam(f"new_{name}", type_=LargeBinary()) for name in names})
    )
    result = Rotation()
    after: Any = None
    while True:
        query = select(table.c.id, *raw).order_by(table.c.id).limit(batch_size)
        if after is not None:
            query = query.where(table.c.id > after)
        with session.begin():
            rows = session.execute(query).all()
            changes = []
            for row in rows:
                values = {f"new_{name}": _reencrypt(keyring, row, name, errors) for name in names}
                if all(value is None for value in values.values()):
                    result.current += 1
                    continue
                for name in names:  # keep a value that is already current as it is
                    values[f"new_{name}"] = values[f"new_{name}"] or getattr(row, name)
                changes.append({"event_id": row.id, **values})
            if changes and not dry_run:
                session.execute(rewrite, changes)
            result.reencrypted += len(changes)
        if rows:
            result.batches += 1
            bar.update(len(rows))
        if len(rows) < batch_size:
            return result
        after = rows[-1].id


def _reencrypt(keyring: Any, row: Any, name: str, errors: Any) -> bytes | None:
    blob = getattr(row, name)
    if blob is None:
        return None
    try:
        new: bytes | None = keyring.reencrypt(bytes(blob))
    except errors.EventspecError as error:
        raise click.ClickException(
            f"event {row.id}, {name}: {error}. Batches before this one are committed; run "
            "again once the key is in place to finish"
        ) from error
    return new
