"""Render the generated package: every output kind is a typed view and one Jinja2 template.

``OUTPUTS`` is the table of output kinds; :func:`render_package` walks it. The views are built by
the modules this one imports (it is the only module importing them all), and every template is
rendered by the one :func:`environment`, whose filters are registered here, once.
"""

from __future__ import annotations

import importlib.resources
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

import jinja2

from . import ir
from .aio_views import aio_actions_view, aio_clear_records_view, aio_replay_view
from .embedded_views import embedded_view
from .filters import annotated, from_import
from .follow_views import follow_files
from .log_views import event_logs_view, replay_view
from .package_views import actions_module_view, clear_records_view, package_view
from .partition_views import partitions_files
from .printer import comment, docstring, py
from .privacy_views import privacy_files
from .render_models import models_view
from .symbols import HEADER, ref_expr
from .testing_views import helpers_view

RUNTIME_MODULES = (
    "_archive.py",
    "_bulk.py",
    "_clear.py",
    "_compare.py",
    "_direct.py",
    "_engine.py",
    "_events.py",
    "_fold.py",
    "_locks.py",
    "_manage.py",
    "_rehearse.py",
    "_replay.py",
    "_rules.py",
    "_scratch.py",
    "_snapshots.py",
    "_support.py",
    "_upcast.py",
    "_types.py",
    "_verify.py",
    "_wire.py",
    "changeset.py",
    "errors.py",
    "observe.py",
    "_testing.py",
    "_actors.py",
    "_follow.py",
    "_partitions.py",
    "_privacy.py",
)

# What templates may call; everything else reaches them formatted, inside their views.
FILTERS: dict[str, Callable[..., Any]] = {
    "py": py,
    "docstring": docstring,
    "comment": comment,
    "ref_expr": ref_expr,
    "annotated": annotated,
    "from_import": from_import,
}


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FunctionLoader(_load_template),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters.update(FILTERS)
    return env


def _load_template(name: str) -> str:
    resource = importlib.resources.files("eventspec.templates")
    for part in PurePosixPath(name).parts:
        resource = resource / part
    return resource.read_text(encoding="utf-8")


def runtime_files() -> dict[str, str]:
    folder = importlib.resources.files("eventspec.templates") / "runtime"
    header_line = HEADER.format(sources="the eventspec runtime")
    return {
        name: header_line + "\n" + (folder / name).read_text(encoding="utf-8")
        for name in RUNTIME_MODULES
    }


@dataclass(frozen=True)
class Output:
    """One kind of generated file: its template, and the files of a project with their views."""

    template: str
    files: Callable[[ir.Project], Iterable[tuple[str, object]]]


OUTPUTS: tuple[Output, ...] = (
    Output("models.py.j2", lambda p: [("models.py", models_view(p))]),
    Output("embedded.py.j2", lambda p: [("embedded.py", embedded_view(p))] if p.embedded else []),
    Output("package_init.py.j2", lambda p: [("__init__.py", package_view(p))]),
    Output("event_logs.py.j2", lambda p: [("event_logs.py", event_logs_view(p))]),
    Output("actions_init.py.j2", lambda p: [("actions/__init__.py", package_view(p))]),
    Output(
        "actions.py.j2",
        lambda p: [(f"actions/{r.module}.py", actions_module_view(p, r)) for r in p.resources],
    ),
    Output("clear_records.py.j2", lambda p: [("clear_records.py", clear_records_view(p))]),
    Output("replay.py.j2", lambda p: [("replay.py", replay_view(p))] if p.event_logs else []),
    Output("testing.py.j2", lambda p: [("testing.py", helpers_view(p))] if p.event_logs else []),
    Output("aio_init.py.j2", lambda p: [("aio/__init__.py", package_view(p))]),
    Output("actions_init.py.j2", lambda p: [("aio/actions/__init__.py", package_view(p))]),
    Output(
        "aio_actions.py.j2",
        lambda p: [(f"aio/actions/{r.module}.py", aio_actions_view(p, r)) for r in p.resources],
    ),
    Output(
        "aio_clear_records.py.j2", lambda p: [("aio/clear_records.py", aio_clear_records_view(p))]
    ),
    Output(
        "aio_replay.py.j2",
        lambda p: [("aio/replay.py", aio_replay_view(p))] if p.event_logs else [],
    ),
    Output("log.py.j2", follow_files),
    Output("partitions.py.j2", partitions_files),
    Output("privacy.py.j2", privacy_files),
)


def render_package(project: ir.Project, env: jinja2.Environment) -> dict[str, str]:
    """Every file of the generated package, keyed by its path relative to the package folder."""
    files = dict(runtime_files())
    for output in OUTPUTS:
        template = env.get_template(output.template)
        for path, view in output.files(project):
            files[path] = template.render(vars(view))
    return files
