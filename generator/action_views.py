"""What the actions template prints: the runtime definitions of a resource, as formatted source."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from . import ir
from .defaults import default_source, is_typed, literal
from .filters import layout, statement
from .manage_views import argument_def, item_class
from .personal import subject_arguments
from .printer import docstring, expr, py
from .pyfmt import Call, Dict, Expr, Seq
from .symbols import article, ref_expr, typed_dict_name
from .typemap import EMBEDDED, SUPPORT, Import, python_imports, python_type, type_details, type_kind


@dataclass
class Needs:
    """What the source printed so far needs imported, collected while it is built (as data, never
    read back from the text): modules, names from ``typing`` and the runtime's ``_support``."""

    imports: set[Import] = field(default_factory=set)

    def add(self, imports: Iterable[Import]) -> None:
        self.imports.update(imports)

    def source(self, text: str, imports: Iterable[Import]) -> str:
        self.add(imports)
        return text

    def of(self, module: str) -> tuple[str, ...]:
        return tuple(sorted(name for mod, name in self.imports if mod == module))


@dataclass(frozen=True)
class InputField:
    name: str
    annotation: str  # e.g. "Required[str]" or "str | None"


@dataclass(frozen=True)
class ItemView:  # the TypedDict of a managed input's items (see manage_views.py)
    name: str
    docstring: str
    fields: tuple[InputField, ...]
    input_type: str


@dataclass(frozen=True)
class ActionView:
    action: ir.Action
    constant: str  # e.g. "CREATE"
    input_class: str  # e.g. "CreateInput"
    fields: tuple[InputField, ...]
    items: tuple[ItemView, ...]  # item TypedDicts of managed inputs, printed before input_class
    definition: str  # "CREATE = engine.ActionDef(...)", formatted
    tracked: bool
    version: int
    docstring: str  # source
    call: str  # the body line running the action
    many_call: str  # the bulk variant's body: one call (creates), or a line inside its loop
    many_docstring: str  # source


@dataclass(frozen=True)
class ResourceView:
    resource: ir.Resource
    definition: str
    actions: tuple[ActionView, ...]
    stdlib: tuple[str, ...]  # "datetime", "decimal", "uuid" as used
    typing: tuple[str, ...]  # names imported from typing
    support: tuple[str, ...]  # names imported from the runtime's _support module
    embedded: tuple[str, ...]  # TypedDicts imported from the generated embedded module
    uses_rules: bool  # built-in validations or changes, from the runtime's _rules module
    has_create: bool  # a create action, whose bulk variant calls the runtime's _bulk module
    uses_manage: bool  # managed relationships, defined by the runtime's _manage module


def resource_view(
    resource: ir.Resource, log: ir.EventLog | None, project: ir.Project
) -> ResourceView:
    needs = Needs({("typing", "Any")})
    definition = statement("RESOURCE", _resource_def(resource, log))
    tracked = {a.name for a in resource.tracked_actions()}
    actions = tuple(
        _action_view(resource, log, a, a.name in tracked, needs, project) for a in resource.actions
    )
    if any(view.fields for view in actions):
        needs.add({("typing", "TypedDict"), ("typing", "Unpack")})
    if any(v.action.type == "create" and not v.fields for v in actions):
        needs.add({("typing", "Never")})  # the inputs of a create without any: empty mappings
    return ResourceView(
        resource=resource,
        definition=definition,
        actions=actions,
        stdlib=needs.of(""),
        typing=needs.of("typing"),
        support=needs.of(SUPPORT),
        embedded=needs.of(EMBEDDED),
        # Every change and validation is a definition of the runtime's rules module.
        uses_rules=any(a.changes or a.validations for a in resource.actions),
        has_create=any(a.type == "create" for a in resource.actions),
        uses_manage=any(a.manages for a in resource.actions),
    )


def _resource_def(resource: ir.Resource, log: ir.EventLog | None) -> Call:
    kwargs: list[tuple[str, Expr]] = [
        ("name", py(resource.name)),
        ("model", resource.name),
        ("specs", Dict([(py(a.name), _attribute(a)) for a in resource.attributes])),
    ]
    if log is not None:
        kwargs.append(("log", log.name.upper()))
    events = resource.events
    if events and events.create_timestamp:
        kwargs.append(("create_timestamp", py(events.create_timestamp)))
    if events and events.update_timestamp:
        kwargs.append(("update_timestamp", py(events.update_timestamp)))
    if resource.multitenancy:
        kwargs.append(("tenant_attribute", py(resource.multitenancy.attribute)))
    kwargs += subject_arguments(resource)
    return Call("engine.ResourceDef", kwargs=kwargs)


def _attribute(attr: ir.Attribute) -> Call:
    """What only the spec says of ``attr``: nullability, defaults, keys, a string's length, an
    enum's values and an array's item type are read from its mapped column at import."""
    kwargs: list[tuple[str, Expr]] = []
    if attr.sensitive:
        kwargs.append(("sensitive", "True"))
    if attr.personal:
        kwargs.append(("personal", "True"))
    for bound in ("max_length", "min_length", "min", "max"):
        value = getattr(attr.constraints, bound)
        if value is not None and not (bound == "max_length" and attr.type.name == "string"):
            kwargs.append((bound, py(value)))
    return Call("engine.Attribute", [py(type_kind(attr.type))], kwargs)


def _action_view(
    resource: ir.Resource,
    log: ir.EventLog | None,
    action: ir.Action,
    tracked: bool,
    needs: Needs,
    project: ir.Project,
) -> ActionView:
    required = required_inputs(resource, action)
    typed: list[tuple[str, ir.TypeRef, bool]] = [
        (name, attr.type, attr.allow_nil)
        for name in action.accept
        if (attr := resource.attribute(name)) is not None
    ]
    typed += [(arg.name, arg.type, arg.allow_nil) for arg in action.arguments]
    fields = [
        _field(name, type_, nullable, name in required, needs) for name, type_, nullable in typed
    ]
    items = _items(project, resource, action, needs)
    fields += [
        InputField(m.argument, i.input_type) for m, i in zip(action.manages, items, strict=True)
    ]
    constant = action.name.upper()
    events = resource.events
    version = events.version_of(action.name) if events else 1
    context = call_context(resource)
    record_arg = [] if action.type == "create" else ["record"]
    params = "params" if fields else "{}"
    run = Call(f"engine.run_{action.type}", ["session", constant, *record_arg, params], context)
    item_record = [] if action.type == "create" else ["record"]
    item_params = ["**item"] if action.type == "create" or fields else []
    if action.type == "create":
        many = Call("bulk.run_create_many", ["session", constant, "inputs"], context)
    else:
        many = Call(action.name, ["session", *item_record, *item_params], context)
    if events is None:
        effect = "no event (the resource has no events section)"
    elif tracked:
        effect = f"writes {article(events.event_log)} {events.event_log} event, version {version}"
        if action.requires_actor(log):
            effect += ", and requires an actor"  # a run-time check: the signature is as ever
    else:
        effect = "writes no event (ignored); a replay target"
    text = f"{action.type.capitalize()} {article(resource.name)} {resource.name}: {effect}."
    if action.description.strip():
        text += "\n\n" + action.description.strip()
    return ActionView(
        action=action,
        constant=constant,
        input_class=typed_dict_name(action),
        fields=tuple(fields),
        items=tuple(items),
        definition=statement(
            constant, _action_def(resource, action, tracked, version, needs, log, project)
        ),
        tracked=tracked,
        version=version,
        docstring=docstring(text, 1),
        call=statement("return", run, indent=1, operator=" "),
        many_docstring=docstring(
            f"`{action.name}` for many records in one SAVEPOINT: all are written, or none.", 1
        ),
        many_call=(
            statement("return", many, indent=1, operator=" ")
            if action.type == "create"
            else layout(Call("results.append", [many]), 3)
        ),
    )


def call_context(resource: ir.Resource) -> list[tuple[str, Expr]]:
    """The keyword arguments an action function passes on as it got them."""
    context: list[tuple[str, Expr]] = [("actor", "actor"), ("metadata", "metadata")]
    if resource.multitenancy:
        context.append(("tenant", "tenant"))
    return context


def _items(
    project: ir.Project, resource: ir.Resource, action: ir.Action, needs: Needs
) -> list[ItemView]:
    """The item TypedDict of each managed input, in the order of ``action.manages``."""
    found = [item_class(project, resource, action, m, required_inputs) for m in action.manages]
    return [
        ItemView(i.name, i.docstring, tuple(_field(*f, needs) for f in i.fields), i.input_type)
        for i in found
    ]


def _field(
    name: str, type_: ir.TypeRef, nullable: bool, required: bool, needs: Needs
) -> InputField:
    annotation = needs.source(python_type(type_, nullable=nullable), python_imports(type_))
    if required:
        annotation = needs.source(f"Required[{annotation}]", {("typing", "Required")})
    return InputField(name, annotation)


def _action_def(
    resource: ir.Resource,
    action: ir.Action,
    tracked: bool,
    version: int,
    needs: Needs,
    log: ir.EventLog | None,
    project: ir.Project,
) -> Call:
    kwargs: list[tuple[str, Expr]] = [
        ("resource", "RESOURCE"),
        ("name", py(action.name)),
        ("type", py(action.type)),
    ]
    if action.accept:
        kwargs.append(
            ("accept", Call("frozenset", [Seq("{", [py(a) for a in sorted(action.accept)])]))
        )
    arguments: list[tuple[Expr, Expr | None]] = [
        (py(a.name), _argument_def(a, needs)) for a in action.arguments
    ]
    arguments += [(py(m.argument), argument_def(project, resource, m)) for m in action.manages]
    if arguments:
        kwargs.append(("arguments", Dict(arguments)))
    if action.changes:
        kwargs.append(
            (
                "changes",
                Seq("(", [_change(resource, action.name, c, needs) for c in action.changes]),
            )
        )
    if action.validations:
        kwargs.append(("validations", Seq("(", [validation_call(v) for v in action.validations])))
    if not tracked:
        kwargs.append(("tracked", "False"))
    if version != 1:
        kwargs.append(("version", str(version)))
    if action.upsert_identity:
        identity = resource.identity(action.upsert_identity)
        keys = resource.identity_keys(identity) if identity else ()
        kwargs.append(("upsert_keys", Seq("(", [py(k) for k in keys])))
    if action.soft_attribute:
        kwargs.append(("soft_attribute", py(action.soft_attribute)))
    events = resource.events
    if events and events.strategy_of(action.name) != "force_change":
        kwargs.append(("strategy", py(events.strategy_of(action.name))))
    if tracked and action.requires_actor(log):
        kwargs.append(("require_actor", "True"))  # checked at run time: the signature is as ever
    return Call("engine.ActionDef", kwargs=kwargs)


def _argument_def(arg: ir.Argument, needs: Needs) -> Call:
    kwargs: list[tuple[str, Expr]] = []
    if not arg.allow_nil:
        kwargs.append(("allow_nil", "False"))
    if arg.default is not None and arg.default.kind != "literal":
        factory = default_source(arg.default, arg.type)
        kwargs.append(("default_factory", needs.source(factory.factory, factory.imports)))
    elif arg.default is not None and arg.default.value is not None:
        kwargs.append(("default", _value(arg.default.value, arg.type, needs)))
    if arg.sensitive:
        kwargs.append(("sensitive", "True"))
    if arg.personal:
        kwargs.append(("personal", "True"))
    kwargs += type_details(arg.type)
    return Call("engine.ArgumentDef", [py(type_kind(arg.type))], kwargs)


def _value(value: object, type_: ir.TypeRef, needs: Needs) -> Expr:
    """A literal default of ``type_``, as a layout tree: a list for an array (the IR holds a
    tuple), each item of the item type."""
    if type_.item is not None and isinstance(value, tuple | list):
        return Seq("[", [_value(v, type_.item, needs) for v in value])
    if isinstance(value, dict):
        return expr(value)
    source = literal(value, type_)
    return needs.source(source.text, source.imports)


def _where(where: Iterable[ir.Validation]) -> list[tuple[str, Expr]]:
    checks = [validation_call(v) for v in where]
    return [("where", Seq("(", checks))] if checks else []


def _change(resource: ir.Resource, action_name: str, change: ir.Change, needs: Needs) -> Call:
    if change.kind == "set_attribute":
        kwargs: list[tuple[str, Expr]] = []
        if change.from_argument:
            kwargs.append(("from_argument", py(change.from_argument)))
        elif change.from_actor:
            kwargs.append(("from_actor", py(change.from_actor)))
        else:
            attribute = resource.attribute(change.attribute or "")
            value: Expr = expr(change.value)
            if attribute is not None and change.value is not None and is_typed(attribute.type):
                source = literal(change.value, attribute.type)
                value = needs.source(source.text, source.imports)
            kwargs.append(("value", value))
        return Call("rules.set_attribute", [py(change.attribute)], kwargs + _where(change.where))
    kind = "change" if change.kind == "call" else change.kind
    assert change.ref is not None
    events = resource.events
    on_replay = events is not None and change.ref in events.allowed_changes_of(action_name)
    return Call(
        "rules.ChangeDef",
        [py(kind), ref_expr(change.ref)],
        [*_where(change.where), *([("on_replay", "True")] if on_replay else [])],
    )


_SINGLE_ATTRIBUTE = tuple(k for k in ir.VALIDATION_KINDS if k not in ("present", "absent", "call"))


def validation_call(validation: ir.Validation) -> Call:
    """The runtime's check of ``validation``: ``rules.<kind>(...)`` (of an action, or of an
    embedded spec)."""
    kind = validation.kind
    options = dict(validation.options)
    extra: list[tuple[str, Expr]] = []
    if validation.message is not None:
        extra.append(("message", py(validation.message)))
    extra += _where(validation.where)
    if kind in ("present", "absent"):
        names = options.get("attributes", [])
        assert isinstance(names, list | tuple)
        return Call(f"rules.{kind}", [py(n) for n in names], extra)
    if kind == "call":
        return Call("rules.call", [ref_expr(str(options["call"]))], extra)
    assert kind in _SINGLE_ATTRIBUTE, kind
    args: list[Expr] = [py(options["attribute"])]
    kwargs: list[tuple[str, Expr]] = []
    if kind == "match":
        args.append(py(options["pattern"]))
    elif kind == "one_of":
        args.append(expr(list(options["values"])))  # type: ignore[call-overload]
    elif kind in ("attribute_equals", "attribute_does_not_equal"):
        args.append(expr(options.get("value")))
    else:
        kwargs += [(k, expr(v)) for k, v in options.items() if k != "attribute"]
    return Call(f"rules.{kind}", args, kwargs + extra)


def required_inputs(resource: ir.Resource, action: ir.Action) -> set[str]:
    """Inputs a caller must pass: non-nullable, no default, not set by a change.

    Accepted attributes are required on create only: an update keeps what the record has.
    """
    set_by_changes = {c.attribute for c in action.changes if c.kind == "set_attribute"}
    required = set()
    for name in action.accept if action.type == "create" else ():
        attr = resource.attribute(name)
        if attr and not attr.allow_nil and attr.default is None and name not in set_by_changes:
            required.add(name)
    for arg in action.arguments:
        if not arg.allow_nil and arg.default is None:
            required.add(arg.name)
    return required
