"""The names the generated code uses itself, read from the templates rather than listed by hand.

Two probe projects that use every feature the templates can print (every type, default, change,
validation, hook, actor kind, one and several event logs, encryption, multitenancy) are rendered
with the real templates, and every identifier of each rendered module is collected with ``ast``:
imports, definitions, parameters and every name read. Names that come from the probe's own specs
all contain ``probe`` and are dropped; what is left is what the templates themselves print. A spec
name that lands in one of those modules may not be one of them. Adding an import or a helper to a
template adds it here, with no list to keep up to date.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from . import ir
from .diagnostics import Origin, Source
from .tables import CHECKPOINT_CLASS

_MARK = "probe"
_PROBE_REF = "probe_pkg.probe_mod:probe_fn"
ACTIONS_MODULE = "actions/<resource>.py"  # every resource's module, one key
AIO_ACTIONS_MODULE = "aio/actions/<resource>.py"  # and its async counterpart
# Generated modules that name spec objects; the runtime modules never see a spec name.
MODULES = (
    "__init__.py",
    "actions/__init__.py",
    ACTIONS_MODULE,
    "clear_records.py",
    "event_logs.py",
    "models.py",
    "replay.py",
    "aio/__init__.py",
    "aio/actions/__init__.py",
    AIO_ACTIONS_MODULE,
    "aio/clear_records.py",
    "aio/replay.py",
)


# Runtime modules whose classes users import by name, next to the models.
USER_MODULES = ("changeset.py", "errors.py")


@dataclass(frozen=True)
class GeneratedNames:
    """Identifiers the templates print, per generated module (every resource's actions module
    under the one key ``ACTIONS_MODULE``); ``model_members`` are the names a resource model's
    class body binds or reads, plus every attribute SQLAlchemy's declarative base gives a mapped
    class, and ``log_members`` the same for an event log model (its event fields aside);
    ``action_parameters`` are the parameters of the action functions, which ``**params`` may not
    repeat, and ``input_members`` the names an action's input class (a TypedDict) reads next to
    its fields; ``package_classes`` the classes a user imports from the package next to the
    models (the declarative base, the errors, the changeset)."""

    modules: dict[str, frozenset[str]]
    model_members: frozenset[str]
    log_members: frozenset[str]
    action_parameters: frozenset[str]
    input_members: frozenset[str]
    package_classes: frozenset[str]

    def module(self, name: str) -> frozenset[str]:
        return self.modules.get(name, frozenset())


@cache
def generated_names() -> GeneratedNames:
    from .render import environment

    return derive(environment())


def derive(env: jinja2.Environment) -> GeneratedNames:
    """Render the probes with ``env`` and collect what its templates name."""
    from .render import render_package, runtime_files

    modules: dict[str, set[str]] = {m: set() for m in MODULES}
    members = _declarative_members()
    log_members = set(members)
    parameters: set[str] = set()
    inputs: set[str] = set()
    classes: set[str] = set()
    for module in USER_MODULES:
        tree = ast.parse(runtime_files()[module])
        classes |= {n.name for n in tree.body if isinstance(n, ast.ClassDef)}
    for project in (_probe(several_logs=False), _probe(several_logs=True)):
        logs = {log.name for log in project.event_logs}
        for path, text in render_package(project, env).items():
            name = module_key(path)
            if name not in modules:
                continue
            tree = ast.parse(text)
            modules[name] |= _own(_identifiers(tree))
            if name == "models.py":
                classes |= _own(n.name for n in tree.body if isinstance(n, ast.ClassDef))
                for cls in (n for n in tree.body if isinstance(n, ast.ClassDef)):
                    if cls.name == CHECKPOINT_CLASS:
                        continue  # not a spec's model: its columns bind nothing in the others
                    names = _own(n for s in cls.body for n in _identifiers(s))
                    (log_members if cls.name in logs else members).update(names)
            if name == ACTIONS_MODULE:
                for cls in (n for n in tree.body if isinstance(n, ast.ClassDef)):
                    inputs |= _own(n for s in cls.body for n in _identifiers(s))
                for fn in (n for n in tree.body if isinstance(n, ast.FunctionDef)):
                    if fn.args.kwarg is not None:
                        arguments = [*fn.args.args, *fn.args.kwonlyargs, fn.args.kwarg]
                        parameters |= _own(a.arg for a in arguments)
    return GeneratedNames(
        modules={m: frozenset(names) for m, names in modules.items()},
        model_members=frozenset(members),
        log_members=frozenset(log_members - set(ir.EVENT_FIELDS)),
        action_parameters=frozenset(parameters),
        input_members=frozenset(inputs),
        package_classes=frozenset(classes),
    )


def _declarative_members() -> set[str]:
    """Every attribute a mapped class inherits or receives from SQLAlchemy's declarative base."""

    class Base(DeclarativeBase):
        pass

    class Model(Base):
        __tablename__ = "model"
        key: Mapped[int] = mapped_column(primary_key=True)

    return set(dir(Model)) - {"key"}


def module_key(path: str) -> str:
    """The key of a generated module's names: a resource's (async) actions module is one key."""
    for prefix, key in (("actions/", ACTIONS_MODULE), ("aio/actions/", AIO_ACTIONS_MODULE)):
        if path.startswith(prefix) and path != f"{prefix}__init__.py":
            return key
    return path


def _own(names: Any) -> set[str]:
    return {n for n in names if _MARK not in n.casefold()}


def _identifiers(tree: ast.AST) -> set[str]:
    """Every name bound or read in ``tree`` (not attribute names after a dot, not keywords)."""
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            out.add(node.id)
        elif isinstance(node, ast.arg):
            out.add(node.arg)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            out.add(node.name)
        elif isinstance(node, ast.alias):
            out.add(node.asname or node.name.split(".")[0])
    return out


# --- the probe projects -------------------------------------------------------------------------

_ORIGIN = Origin(Source(Path("probe.yaml"), None, "probe.yaml"))


def _t(name: str, *values: str) -> ir.TypeRef:
    return ir.TypeRef(name, values=values)


def _probe(*, several_logs: bool) -> ir.Project:
    o = _ORIGIN
    literal = {
        "string": "probe",
        "text": "probe",
        "integer": 1,
        "big_integer": 1,
        "float": 1.5,
        "decimal": "1.5",
        "boolean": True,
        "uuid": "00000000-0000-0000-0000-000000000000",
        "date": "2020-01-01",
        "time": "12:00:00",
        "utc_datetime": "2020-01-01T00:00:00Z",
        "utc_datetime_usec": "2020-01-01T00:00:00Z",
        "naive_datetime": "2020-01-01T00:00:00",
        "map": {"probe": 1},
        "enum": "probe_a",
    }
    attributes = [
        ir.Attribute(
            "probe_id",
            _t("uuid"),
            o,
            primary_key=True,
            allow_nil=False,
            default=ir.Default("uuid4"),
        ),
        ir.Attribute("probe_v7", _t("uuidv7"), o, default=ir.Default("uuidv7")),
        ir.Attribute(
            "probe_now",
            _t("utc_datetime"),
            o,
            default=ir.Default("now"),
            update_default=ir.Default("now"),
        ),
        ir.Attribute("probe_usec", _t("utc_datetime_usec"), o, default=ir.Default("now")),
        ir.Attribute("probe_naive", _t("naive_datetime"), o, default=ir.Default("now")),
        ir.Attribute("probe_day", _t("date"), o, default=ir.Default("now")),
        ir.Attribute("probe_bytes", _t("binary"), o, sensitive=True),
        ir.Attribute("probe_tenant", _t("string"), o),
        ir.Attribute("probe_list", ir.TypeRef("array", item=_t("uuid")), o),
        ir.Attribute("probe_dates", ir.TypeRef("array", item=_t("date")), o),
        ir.Attribute("probe_deleted", _t("utc_datetime_usec"), o),
        ir.Attribute("probe_parent_id", _t("uuid"), o, belongs_to="probe_parent"),
    ]
    for kind, value in literal.items():
        type_ = _t(kind, "probe_a", "probe_b") if kind == "enum" else _t(kind)
        attributes.append(
            ir.Attribute(
                f"probe_{kind}",
                type_,
                o,
                default=ir.Default("literal", value),
                constraints=ir.Constraints(max_length=9, min_length=1)
                if kind == "string"
                else ir.Constraints(min=0, max=9)
                if kind == "integer"
                else ir.Constraints(),
            )
        )
    accept = tuple(a.name for a in attributes if a.name not in ("probe_id", "probe_now"))
    condition = ir.Validation("present", (("attributes", ("probe_string",)),), o)
    validations = (
        condition,
        ir.Validation("absent", (("attributes", ("probe_text",)),), o, "probe"),
        ir.Validation("match", (("attribute", "probe_string"), ("pattern", "probe")), o),
        ir.Validation("one_of", (("attribute", "probe_enum"), ("values", ("probe_a",))), o),
        ir.Validation("compare", (("attribute", "probe_integer"), ("greater_than", 0)), o),
        ir.Validation("string_length", (("attribute", "probe_string"), ("min", 1)), o),
        ir.Validation("attribute_equals", (("attribute", "probe_integer"), ("value", 1)), o),
        ir.Validation("attribute_does_not_equal", (("attribute", "probe_text"), ("value", "")), o),
        ir.Validation("call", (("call", _PROBE_REF),), o, where=(condition,)),
    )
    changes = (
        ir.Change(
            "set_attribute",
            o,
            attribute="probe_text",
            value="probe",
            has_value=True,
            where=(condition,),
        ),
        ir.Change("set_attribute", o, attribute="probe_string", from_argument="probe_arg"),
        ir.Change("set_attribute", o, attribute="probe_tenant", from_actor="probe_id"),
        ir.Change("call", o, ref=_PROBE_REF),
        ir.Change("before_action", o, ref=_PROBE_REF),
        ir.Change("after_action", o, ref=_PROBE_REF),
    )
    arguments = (
        ir.Argument("probe_arg", _t("string"), o, allow_nil=False),
        ir.Argument(
            "probe_secret", _t("string"), o, sensitive=True, default=ir.Default("literal", "probe")
        ),
        ir.Argument("probe_when", _t("date"), o, default=ir.Default("now")),
    )
    actions = (
        ir.Action("probe_create", "create", o, accept, arguments, changes, validations),
        ir.Action("probe_upsert", "create", o, accept, upsert_identity="probe_unique"),
        ir.Action("probe_update", "update", o, accept, arguments, changes, validations),
        ir.Action("probe_touch", "update", o),
        ir.Action("probe_destroy", "destroy", o, validations=validations),
        ir.Action("probe_soft", "destroy", o, soft_attribute="probe_deleted"),
        ir.Action("probe_legacy", "create", o, accept),
    )
    logs: tuple[str, ...] = ("ProbeEvent", "ProbeLedger") if several_logs else ("ProbeEvent",)
    resource = ir.Resource(
        "ProbeThing",
        "probe_things",
        o,
        attributes=tuple(attributes),
        relationships=(
            ir.Relationship(
                "probe_parent",
                "belongs_to",
                "ProbeThing",
                o,
                "probe_parent_id",
                "probe_id",
                on_delete="cascade",
            ),
            ir.Relationship(
                "probe_children", "has_many", "ProbeThing", o, "probe_id", "probe_parent_id"
            ),
            ir.Relationship(
                "probe_others", "has_many", "ProbeOther", o, "probe_id", "probe_thing_id"
            ),
        ),
        identities=(ir.Identity("probe_unique", ("probe_string",), o),),
        actions=actions,
        events=ir.Events(
            logs[-1],
            o,
            ignore_actions=("probe_legacy",),
            current_action_versions=(("probe_create", 2),),
            create_timestamp="probe_now",
            update_timestamp="probe_now",
            replay_non_input_attribute_changes=(("probe_update", "as_arguments"),),
            allowed_change_modules=(("probe_create", (_PROBE_REF,)),),
        ),
        multitenancy=ir.Multitenancy("attribute", "probe_tenant", o),
        description="probe",
    )
    other = ir.Resource(
        "ProbeOther",
        "probe_others",
        o,
        attributes=(
            ir.Attribute("probe_id", _t("integer"), o, primary_key=True, allow_nil=False),
            ir.Attribute("probe_thing_id", _t("uuid"), o, belongs_to="probe_thing"),
        ),
        relationships=(
            ir.Relationship(
                "probe_thing", "belongs_to", "ProbeThing", o, "probe_thing_id", "probe_id"
            ),
        ),
        actions=(ir.Action("probe_create", "create", o, ("probe_thing_id",)),),
        events=ir.Events(logs[0], o),
    )
    event_logs = [
        ir.EventLog(
            logs[0],
            ir.plural(ir.snake_case(logs[0])),
            o,
            record_id_type="uuid",
            actors=(
                ir.ActorKey("probe_actor_id", "ProbeThing", _t("uuid"), o, "probe_id"),
                ir.ActorKey(
                    "probe_system", "probe_pkg.probe_mod:ProbeActor", _t("string"), o, "probe_name"
                ),
            ),
            advisory_lock_key_default=(1, 2),
            advisory_lock_key_generator=_PROBE_REF,
            public_fields="all",
            replay_overrides=(
                ir.ReplayOverride(
                    "ProbeThing",
                    "probe_create",
                    (1,),
                    (ir.RouteTarget("ProbeThing", "probe_legacy", o),),
                    o,
                ),
            ),
        )
    ]
    if several_logs:
        event_logs.append(
            ir.EventLog(
                logs[1],
                "probe_ledgers",
                o,
                primary_key_type="uuidv7",
                record_id_type="uuid",
                clear_records_for_replay=_PROBE_REF,
                encryption_key_env="PROBE_KEYS",
                public_fields=("id",),
            )
        )
    return ir.Project(
        package="probe_pkg.probe_data",
        root=Path("."),
        output=Path("probe"),
        specs=Path("specs"),
        migrations=Path("migrations"),
        origin=o,
        resources=(other, resource),
        event_logs=tuple(event_logs),
    )
