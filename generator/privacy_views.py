"""The view of ``privacy.py``: erasing a data subject of each log that holds personal data."""

from __future__ import annotations

from dataclasses import dataclass

from . import ir
from .filters import statement
from .personal import has_personal
from .printer import py
from .pyfmt import Call, Seq
from .symbols import header
from .tables import subject_keys_name


@dataclass(frozen=True)
class PrivacyLog:
    log: ir.EventLog
    constant: str  # "EVENT": the log's definition in event_logs.py
    suffix: str  # "" for a project with one such log, else "_<log module>"
    resources: str  # "_RESOURCES = (user.RESOURCE, ...)", formatted
    tables: str  # "_TABLES = (...)": what purge vacuums, formatted
    erase_return: str  # "return _privacy.erase(...)", formatted


@dataclass(frozen=True)
class PrivacyView:
    header: str
    modules: tuple[str, ...]  # action modules holding the resources' definitions
    constants: tuple[str, ...]
    logs: tuple[PrivacyLog, ...]
    all_definition: str


def personal_logs(project: ir.Project) -> tuple[ir.EventLog, ...]:
    return tuple(log for log in project.event_logs if log.personal_data)


def privacy_files(project: ir.Project) -> list[tuple[str, object]]:
    """``privacy.py`` when a log holds personal data."""
    return [("privacy.py", privacy_view(project))] if personal_logs(project) else []


def privacy_view(project: ir.Project) -> PrivacyView:
    logs = personal_logs(project)
    entries = []
    modules: set[str] = set()
    for log in logs:
        suffix = "" if len(logs) == 1 else f"_{log.module}"
        resources = [r for r in project.resources_of(log) if has_personal(r)]
        modules.update(r.module for r in resources)
        defs = Seq("(", [f"{r.module}.RESOURCE" for r in resources])
        tables = Seq(
            "(", [py(name) for name in [subject_keys_name(log), *(r.table for r in resources)]]
        )
        erase = Call(
            "_privacy.erase",
            ["session", log.name.upper(), f"_RESOURCES{suffix.upper()}", "subject"],
            [("actor", "actor"), ("reason", "reason")],
        )
        entries.append(
            PrivacyLog(
                log=log,
                constant=log.name.upper(),
                suffix=suffix,
                resources=statement(f"_RESOURCES{suffix.upper()}", defs),
                tables=statement(f"_TABLES{suffix.upper()}", tables),
                erase_return=statement("return", erase, 1, operator=" "),
            )
        )
    names = ["ERASED", "Erased", "ErasedSubject", "SubjectErased", "UnknownSubject"]
    names += [f"{f}{e.suffix}" for e in entries for f in ("erase_subject", "purge", "reveal")]
    return PrivacyView(
        header=header(*logs),
        modules=tuple(sorted(modules)),
        constants=tuple(sorted(e.constant for e in entries)),
        logs=tuple(entries),
        all_definition=statement("__all__", Seq("[", [py(n) for n in sorted(names)])),
    )
