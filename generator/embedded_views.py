"""The view of ``embedded.py``: a TypedDict per embedded spec, and the runtime's definition of it.

The TypedDict is what an attribute of the spec's type holds and what an action accepts (a field is
``Required`` when it is not nullable and has no default); the definition (``_types.EmbeddedDef``)
is how the runtime checks a value, stores it and decodes it from an event. Definitions come in the
order they use each other (a spec after the specs its fields hold).
"""

from __future__ import annotations

from dataclasses import dataclass

from . import ir
from .action_views import Needs, validation_call
from .defaults import default_source
from .filters import statement
from .printer import docstring, py
from .pyfmt import Call, Dict, Expr, Seq
from .render_models import import_blocks
from .symbols import header
from .typemap import TYPES, python_imports, python_type


@dataclass(frozen=True)
class FieldView:
    name: str
    annotation: str


@dataclass(frozen=True)
class EmbeddedView:
    name: str
    docstring: str  # source, indented
    fields: tuple[FieldView, ...]
    definition: str  # "ADDRESS = EmbeddedDef(...)", formatted


@dataclass(frozen=True)
class EmbeddedModuleView:
    header: str
    package: str
    import_blocks: tuple[str, ...]
    specs: tuple[EmbeddedView, ...]


def in_use_order(specs: tuple[ir.Embedded, ...]) -> list[ir.Embedded]:
    """``specs`` with every spec after the specs its fields hold (the verifiers refuse cycles)."""
    out: list[ir.Embedded] = []
    seen: set[str] = set()

    def visit(spec: ir.Embedded) -> None:
        if spec.name in seen:
            return
        seen.add(spec.name)
        for type_ in spec.embedded_types():
            if type_.embedded is not None:
                visit(type_.embedded)
        out.append(spec)

    for spec in specs:
        visit(spec)
    return out


def embedded_view(project: ir.Project) -> EmbeddedModuleView:
    needs = Needs({("typing", "TypedDict"), (TYPES, "EmbeddedDef"), (TYPES, "FieldDef")})
    views = [_spec_view(spec, needs) for spec in in_use_order(project.embedded)]
    # The module's own classes are not imported from it.
    imports = {(m, n) for m, n in needs.imports if m != ".embedded"}
    return EmbeddedModuleView(
        header=header(*project.embedded),
        package=project.package,
        import_blocks=tuple(import_blocks(imports)),
        specs=tuple(views),
    )


def _spec_view(spec: ir.Embedded, needs: Needs) -> EmbeddedView:
    fields = []
    for f in spec.fields:
        annotation = needs.source(python_type(f.type, nullable=f.allow_nil), python_imports(f.type))
        if not f.allow_nil and f.default is None:
            annotation = needs.source(f"Required[{annotation}]", {("typing", "Required")})
        fields.append(FieldView(f.name, annotation))
    text = f"Embedded ``{spec.name}``, from {spec.origin.source.name}."
    if spec.description.strip():
        text += "\n\n" + spec.description.strip()
    text += "\n\nA field left out of a value gets its default, else None."
    checks: list[tuple[str, Expr]] = []
    if spec.validations:
        needs.add({(".", "_rules as rules")})
        checks.append(("validations", Seq("(", [validation_call(v) for v in spec.validations])))
    definition = Call(
        "EmbeddedDef",
        [py(spec.name), Dict([(py(f.name), _field_def(f, needs)) for f in spec.fields])],
        checks,
    )
    return EmbeddedView(
        name=spec.name,
        docstring=docstring(text, 1),
        fields=tuple(fields),
        definition=statement(spec.constant, definition),
    )


def _field_def(f: ir.EmbeddedField, needs: Needs) -> Call:
    base = f.type.base
    kwargs: list[tuple[str, Expr]] = []
    if not f.allow_nil:
        kwargs.append(("allow_nil", "False"))
    if f.default is not None:
        source = default_source(f.default, f.type)
        if source.callable:
            kwargs.append(("default_factory", needs.source(source.text, source.imports)))
        elif f.default.value is not None:
            kwargs.append(("default", needs.source(source.text, source.imports)))
    if f.type.item is not None:
        kwargs.append(("item", py(f.type.item.name)))
    if base.values:
        kwargs.append(("values", py(tuple(base.values))))
    if base.embedded is not None:
        kwargs.append(("embedded", base.embedded.constant))
    for bound in ("max_length", "min_length", "min", "max"):
        value = getattr(f.constraints, bound)
        if value is not None:
            kwargs.append((bound, py(value)))
    return Call("FieldDef", [py(f.type.name)], kwargs)
