"""The names the generated code reserves are read from the templates, not kept by hand."""

from __future__ import annotations

from pathlib import Path

import jinja2
from eventspec import ir
from eventspec.loader import load_project
from eventspec.render import _load_template, environment, render_package
from eventspec.reserved import (
    ACTIONS_MODULE,
    AIO_ACTIONS_MODULE,
    _probe,
    derive,
    generated_names,
)


def _environment_with(name: str, edit: str, after: str) -> jinja2.Environment:
    """The real template environment, with one template changed: ``edit`` added after ``after``."""
    text = _load_template(name)
    assert after in text
    env = environment()
    env.loader = jinja2.ChoiceLoader(
        [jinja2.DictLoader({name: text.replace(after, after + edit, 1)}), env.loader]  # type: ignore[list-item]
    )
    return env


def test_an_import_added_to_a_template_becomes_a_reserved_name() -> None:
    before = derive(environment())
    assert "shlex" not in before.module(ACTIONS_MODULE)
    env = _environment_with(
        "actions.py.j2", "import shlex\n", "from __future__ import annotations\n\n"
    )
    after = derive(env)
    assert "shlex" in after.module(ACTIONS_MODULE)
    assert after.module("models.py") == before.module("models.py")


def test_a_name_read_in_a_model_class_body_becomes_a_reserved_member() -> None:
    env = _environment_with(
        "models.py.j2", "    audit_marker = None\n", "class Base(DeclarativeBase):\n"
    )
    assert "audit_marker" not in generated_names().model_members
    assert "audit_marker" in derive(env).model_members


def test_the_derived_names_hold_what_the_hand_kept_lists_held() -> None:
    names = generated_names()
    members = {
        *("metadata", "registry", "datetime", "decimal", "uuid", "Any", "Literal", "Mapped"),
        *("mapped_column", "relationship", "ForeignKey", "UniqueConstraint", "JSONMap"),
        *("UTCDateTime", "utcnow", "uuidv7", "String", "Enum", "__table__", "__init__"),
        *("__tablename__", "__mapper__", "_sa_class_manager"),
    }
    assert members <= names.model_members
    log_members = {"PUBLIC_FIELDS", "to_public_dict", "EncryptedJSON", "Index", "metadata_"}
    assert log_members <= names.log_members
    assert names.action_parameters == {"session", "record", "actor", "metadata", "tenant", "params"}
    actions = {"engine", "bulk", "rules", "RESOURCE", "ACTIONS", "TypedDict", "Session"}
    assert actions <= names.module(ACTIONS_MODULE)
    # Nothing from the probe's own specs leaks into the reserved names.
    everything = set().union(*names.modules.values(), names.model_members, names.log_members)
    assert not {n for n in everything if "probe" in n.casefold()}


def test_the_probes_use_every_type() -> None:
    types = set()
    for project in (_probe(several_logs=False), _probe(several_logs=True)):
        for resource in project.resources:
            types |= {a.type.name for a in resource.attributes}
            types |= {a.type.item.name for a in resource.attributes if a.type.item}
    assert types >= set(ir.SCALAR_TYPES)


def test_a_spec_name_equal_to_a_template_name_is_refused(tmp_path: Path) -> None:
    (tmp_path / "specs").mkdir()
    (tmp_path / "eventspec.yaml").write_text("package: app.data\noutput: app/data\n")
    (tmp_path / "specs" / "all.yaml").write_text(
        "kind: resource\nname: Session\nattributes:\n  id: {type: uuid, primary_key: true}\n"
        "actions:\n  bulk: {type: create}\n"
    )
    project, diagnostics = load_project(tmp_path / "eventspec.yaml")
    assert project is None
    assert [(d.line, d.code) for d in diagnostics] == [(2, "ES202"), (2, "ES202"), (6, "ES202")]
    assert "actions/session.py and clear_records.py use itself" in diagnostics[0].message


def _load(tmp_path: Path, spec: str) -> tuple[object, list[str]]:
    (tmp_path / "specs").mkdir()
    (tmp_path / "eventspec.yaml").write_text("package: app.data\noutput: app/data\n")
    (tmp_path / "specs" / "all.yaml").write_text(spec)
    project, diagnostics = load_project(tmp_path / "eventspec.yaml")
    return project, [f"{d.code} {d.message}" for d in diagnostics]


def test_a_name_only_the_async_module_uses_is_refused(tmp_path: Path) -> None:
    """``sync`` is the async actions module's name for the sync one: no action may be it."""
    assert "sync" in generated_names().module(AIO_ACTIONS_MODULE)
    assert "sync" not in generated_names().module(ACTIONS_MODULE)
    project, messages = _load(
        tmp_path,
        "kind: resource\nname: Feed\nattributes:\n  id: {type: uuid, primary_key: true}\n"
        "actions:\n  sync: {type: create}\n",
    )
    assert project is None
    assert messages == [
        "ES202 the function of action 'sync' is a name the generated aio/actions/feed.py uses "
        "itself"
    ]


def test_a_resource_named_aio_does_not_meet_the_aio_package(tmp_path: Path) -> None:
    """Resource modules live in actions/ and aio/actions/; the aio package is beside them."""
    project, messages = _load(
        tmp_path,
        "kind: resource\nname: Aio\nattributes:\n  id: {type: uuid, primary_key: true}\n"
        "actions:\n  create: {type: create}\n",
    )
    assert messages == []
    assert project is not None
    files = render_package(project, environment())  # type: ignore[arg-type]
    assert {"actions/aio.py", "aio/actions/aio.py", "aio/__init__.py"} <= set(files)
