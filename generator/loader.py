"""Loading: eventspec.yaml and the spec files, read with positions, validated, built, verified.

Every stage reports all it finds. A spec document that fails its schema check (or a file that
cannot be read) is left out, and the semantic stages still run on the documents that passed, so
independent mistakes in different files show in one run; references to the names of documents left
out are not checked (see :class:`~eventspec.ir.LeftOut`), so one mistake is reported once. The
Project comes back only when nothing at all is wrong.

Reading YAML is :mod:`.reading`. Codes here: ES004 missing or unknown ``kind``, ES005 unusable
folder; ES103 eventspec.yaml not one map.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, TypeChecker, validators

from .build import SpecDocument, build_project
from .contracts import lock_diagnostics
from .diagnostics import Diagnostic, Origin, at
from .ir import LeftOut, Project
from .reading import MAX_DEPTH, MAX_FILE_BYTES, MAX_NODES, Document, read_documents
from .schema_errors import schema_diagnostics
from .verify import verify

__all__ = [
    "MAX_DEPTH",
    "MAX_FILE_BYTES",
    "MAX_NODES",
    "Document",
    "load_project",
    "load_schema",
    "read_documents",
]

KINDS = ("resource", "event_log", "embedded")


def load_schema(name: str) -> dict[str, Any]:
    """The packaged JSON Schema ``project``, ``resource``, ``event_log`` or ``embedded``."""
    text = files("eventspec.schemas").joinpath(f"{name}.json").read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def _is_integer(checker: TypeChecker, instance: object) -> bool:
    # JSON Schema counts 10.0 as an integer; a spec that writes 10.0 where an integer belongs
    # (max_length, a lock key, a version) gets a "wrong type" error, not a float in the IR.
    return isinstance(instance, int) and not isinstance(instance, bool)


_SpecValidator = validators.extend(  # type: ignore[no-untyped-call]
    Draft202012Validator,
    type_checker=Draft202012Validator.TYPE_CHECKER.redefine("integer", _is_integer),
)


@cache
def _validator(name: str) -> Draft202012Validator:
    validator: Draft202012Validator = _SpecValidator(load_schema(name))
    return validator


def load_project(
    config_path: Path, *, accept_breaking: Collection[str] = ()
) -> tuple[Project | None, list[Diagnostic]]:
    """Load, validate, build and verify a project, and compare it with its event-schema lock;
    the Project only when nothing is wrong (``accept_breaking``: breaking-change codes allowed)."""
    root = config_path.resolve().parent
    config, diagnostics = _load_config(config_path, root)
    if config is None:
        return None, sorted(set(diagnostics))
    settings: dict[str, Any] = config.value  # type: ignore[assignment]
    origin = Origin(config.source)
    settings_ok = not diagnostics
    specs_dir, problems = _specs_dir(settings, root, origin)
    diagnostics += problems
    if specs_dir is None:
        return None, sorted(set(diagnostics))
    specs = _load_specs(specs_dir, root)
    diagnostics += specs.diagnostics
    if not settings_ok:  # the settings (package, output, ...) are needed to build anything
        return None, sorted(set(diagnostics))
    project, problems = build_project(settings, root, origin, specs.valid, specs.left_out)
    diagnostics += problems + verify(project)
    if not diagnostics:
        # Only a valid project is compared with the event-schema lock (ES3xx).
        diagnostics = lock_diagnostics(project, accept_breaking)
    return (None if diagnostics else project), sorted(set(diagnostics))


def _load_config(config_path: Path, root: Path) -> tuple[Document | None, list[Diagnostic]]:
    """eventspec.yaml and its problems; no document when it is not even one map."""
    display = _display(config_path.resolve(), root)
    documents, diagnostics = read_documents(config_path, display)
    if diagnostics:
        return None, diagnostics
    if len(documents) != 1 or not isinstance(documents[0].value, dict):
        where = documents[0].source.locate(()) if documents else (1, 1)
        message = "eventspec.yaml must hold one map (package, output, specs, ...)"
        return None, [Diagnostic(display, *where, "ES103", message)]
    config = documents[0]
    origin = Origin(config.source)
    diagnostics = schema_diagnostics(_validator("project"), config.value, origin, display)
    settings: dict[str, Any] = config.value  # type: ignore[assignment]
    return config, diagnostics + list(_unusable_paths(settings, root, origin))


def _specs_dir(
    settings: dict[str, Any], root: Path, origin: Origin
) -> tuple[Path | None, list[Diagnostic]]:
    """The specs folder, when the settings name one that exists (a wrong type is ES103)."""
    name = settings.get("specs", "specs")
    if not isinstance(name, str):
        return None, []
    try:
        if (root / name).is_dir():
            return root / name, []
    except OSError:
        return None, []  # ES005 from _unusable_paths
    message = f"specs folder '{name}' does not exist or is not a folder"
    return None, [at(origin, "ES005", message, "specs")]


def _unusable_paths(settings: dict[str, Any], root: Path, origin: Origin) -> Iterator[Diagnostic]:
    """ES005 for a configured folder the operating system cannot even look up (a name too long)."""
    for key in ("output", "specs", "migrations"):
        value = settings.get(key)
        if not isinstance(value, str):
            continue
        try:
            (root / value).exists()
        except OSError as error:
            message = f"{key} folder cannot be used: {error.strerror or error}"
            yield at(origin, "ES005", message, key)


@dataclass
class _Specs:
    valid: list[SpecDocument] = field(default_factory=list)  # passed their schema check
    diagnostics: list[Diagnostic] = field(default_factory=list)
    names: set[str] = field(default_factory=set)  # of the documents left out
    unnamed: bool = False  # a document left out whose name could not be read

    @property
    def left_out(self) -> LeftOut:
        return LeftOut(frozenset(self.names), self.unnamed)


def _load_specs(specs_dir: Path, root: Path) -> _Specs:
    """Every spec document, checked against its schema; the ones that fail are left out."""
    paths = sorted(
        (p for p in specs_dir.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file()),
        key=lambda p: _display(p, root),
    )
    out = _Specs()
    for path in paths:
        documents, problems = read_documents(path, _display(path, root))
        out.diagnostics.extend(problems)
        out.unnamed = out.unnamed or bool(problems)  # a broken YAML document names nothing
        for document in documents:
            spec, problems = _validate_spec(document)
            out.diagnostics.extend(problems)
            if spec is not None:
                out.valid.append(spec)
                continue
            name = document.value.get("name") if isinstance(document.value, dict) else None
            if isinstance(name, str):
                out.names.add(name)
            else:
                out.unnamed = True
    return out


def _validate_spec(document: Document) -> tuple[SpecDocument | None, list[Diagnostic]]:
    origin = Origin(document.source)
    value = document.value
    if not isinstance(value, dict):
        message = "a spec document must be a map with 'kind: resource', 'kind: event_log' or "
        message += "'kind: embedded'"
        return None, [at(origin, "ES004", message)]
    kind = value.get("kind")
    if kind not in KINDS:
        if "kind" not in value:
            return None, [at(origin, "ES004", "missing 'kind' (resource, event_log or embedded)")]
        message = f"unknown kind {kind!r} (expected resource, event_log or embedded)"
        return None, [at(origin, "ES004", message, "kind")]
    name = value.get("name")
    label = {"resource": "resource", "event_log": "event log"}.get(kind, "embedded spec")
    subject = f"{label} '{name}'" if isinstance(name, str) else label
    problems = schema_diagnostics(_validator(kind), value, origin, subject)
    return (None, problems) if problems else (SpecDocument(kind, value, origin), [])


def _display(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()
