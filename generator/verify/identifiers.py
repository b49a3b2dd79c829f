"""Names the spec does not write but the generator derives from it, checked where they land.

Python: every generated module binds spec-derived names next to its own (an action ``create``
also binds ``create_many``, the constant ``CREATE`` and the class ``CreateInput``); none may be a
name the template uses (ES202) and no two may be equal as Python reads them, after NFKC
normalisation (ES271). The database: every table, column, constraint, index, enum type and
sequence name fits PostgreSQL's 63 bytes (ES272), no two are equal ignoring case (ES273), tables
avoid the names SQLite and alembic own (ES274), and no two tables differ only in case (ES275).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace

from ..diagnostics import Diagnostic, Origin, at
from ..ir import EventLog, Project, Resource, Validation, snake_case
from ..reserved import ACTIONS_MODULE, generated_names
from ..symbols import ref_module, typed_dict_name
from ..tables import NAMING_CONVENTION, TableDef, event_log_table, resource_table
from .common import Rule, node_at
from .references import reference_problem

PG_MAX_IDENTIFIER = 63  # bytes: PostgreSQL's NAMEDATALEN - 1
ALEMBIC_VERSION_TABLE = "alembic_version"
RENAMED_ENUM_SUFFIX = "_old"  # a migration that drops enum values renames the type to this first


@dataclass(frozen=True)
class Bound:
    """A spec-derived name bound in a generated module."""

    name: str
    what: str  # e.g. "the constant of action 'create'"
    thing: tuple[str, ...]  # what it stands for: equal things may share a name
    origin: Origin
    steps: tuple[str | int, ...] = ()
    key: bool = False


def _python(name: str) -> str:
    return unicodedata.normalize("NFKC", name)


def _refs(refs: Iterable[str], origin: Origin, where: str) -> Iterator[Bound]:
    for ref in refs:
        if reference_problem(ref) is not None:
            continue  # ES260
        top = ref_module(ref).split(".")[0]
        yield Bound(top, f"the package '{top}' {where} imports", ("import", top), origin)


def _resource_module(project: Project, resource: Resource) -> Iterator[Bound]:
    yield Bound(
        resource.name,
        f"model class '{resource.name}'",
        ("class", resource.name),
        resource.origin,
        ("name",),
    )
    log = project.event_log(resource.events.event_log) if resource.events else None
    if log is not None and resource.events is not None:
        yield Bound(
            log.name.upper(),
            f"the constant of event log '{log.name}'",
            ("log", log.name),
            resource.events.origin,
            ("event_log",),
        )
    for action in resource.actions:
        thing = ("action", action.name)
        label = f"action '{action.name}'"
        yield Bound(
            action.name, f"the function of {label}", (*thing, "fn"), action.origin, key=True
        )
        yield Bound(
            f"{action.name}_many",
            f"the bulk function of {label}",
            (*thing, "many"),
            action.origin,
            key=True,
        )
        yield Bound(
            action.name.upper(),
            f"the constant of {label}",
            (*thing, "constant"),
            action.origin,
            key=True,
        )
        yield Bound(
            typed_dict_name(action),
            f"the input class of {label}",
            (*thing, "input"),
            action.origin,
            key=True,
        )
        for index, change in enumerate(action.changes):
            if change.ref:
                yield from _refs([change.ref], action.origin.at("changes", index), label)
        for validation, origin in _validations(action.validations, action.origin.at("validations")):
            if validation.kind == "call":
                yield from _refs([str(validation.option("call"))], origin, label)


def _validations(
    items: Iterable[Validation], origin: Origin
) -> Iterator[tuple[Validation, Origin]]:
    for index, validation in enumerate(items):
        yield validation, origin.at(index)
        yield from _validations(validation.where, origin.at(index, "where"))


def _log_bound(log: EventLog, suffix: str, what: str) -> Bound:
    return Bound(
        f"{log.name.upper()}{suffix}",
        f"{what} of event log '{log.name}'",
        ("log", log.name, suffix),
        log.origin,
        ("name",),
    )


def _modules(project: Project) -> dict[str, list[Bound]]:
    """Spec-derived names per generated module, as the templates print them."""
    out: dict[str, list[Bound]] = {}
    for resource in project.resources:
        out[f"actions/{resource.module}.py"] = list(_resource_module(project, resource))
    units: list[Resource | EventLog] = [*project.resources, *project.event_logs]
    classes = [
        Bound(u.name, f"model class '{u.name}'", ("class", u.name), u.origin, ("name",))
        for u in units
    ]
    out["models.py"] = list(classes)
    logs = out["event_logs.py"] = [c for c in classes if project.event_log(c.name)]
    modules = [
        Bound(
            r.module,
            f"module 'actions/{r.module}.py' of resource '{r.name}'",
            ("module", r.name),
            r.origin,
            ("name",),
        )
        for r in project.resources
    ]
    clears = [
        Bound(
            f"clear_{log.module}",
            f"the clear function of event log '{log.name}'",
            ("clear", log.name),
            log.origin,
            ("name",),
        )
        for log in project.event_logs
    ]
    out["actions/__init__.py"] = list(modules)
    out["clear_records.py"] = [*clears, *(c for c in classes if project.resource(c.name))]
    out["replay.py"] = [*modules, *clears]
    for log in project.event_logs:
        logs.append(_log_bound(log, "", "the constant"))
        for actor in log.actors:
            if actor.is_resource:
                logs.append(
                    Bound(
                        actor.actor,
                        f"model class '{actor.actor}'",
                        ("class", actor.actor),
                        actor.origin,
                        ("actor",),
                    )
                )
            else:
                logs.extend(_refs([actor.actor], actor.origin.at("actor"), f"log '{log.name}'"))
        if log.advisory_lock_key_generator:
            where = log.origin.at("advisory_lock_key_generator")
            logs.extend(_refs([log.advisory_lock_key_generator], where, f"log '{log.name}'"))
        if log.clear_records_for_replay != "auto":
            where = log.origin.at("clear_records_for_replay")
            refs = _refs([log.clear_records_for_replay], where, f"log '{log.name}'")
            out["clear_records.py"].extend(refs)
        replay = out["replay.py"]
        replay.append(_log_bound(log, "", "the constant"))
        replay.append(_log_bound(log, "_ACTIONS", "the actions table"))
        replay.append(_log_bound(log, "_ROUTES", "the routes"))
        if len(project.event_logs) > 1:  # one log: the function is always ``replay``
            replay.append(
                Bound(
                    f"replay_{log.module}",
                    f"the replay function of event log '{log.name}'",
                    ("replay", log.name),
                    log.origin,
                    ("name",),
                )
            )
    return out


def python_names(project: Project) -> Iterator[Diagnostic]:
    generated = generated_names()
    shadowing: dict[tuple[tuple[str, ...], str], tuple[Bound, list[str]]] = {}
    invalid: dict[tuple[tuple[str, ...], str], Bound] = {}
    for module, bound in sorted(_modules(project).items()):
        key = (
            ACTIONS_MODULE if module.startswith("actions/") and "__init__" not in module else module
        )
        template_names = generated.module(key)
        seen: dict[str, Bound] = {}
        for item in sorted(bound, key=_position):
            name = _python(item.name)
            if not name.isidentifier():
                invalid[(item.thing, item.name)] = item
                continue
            if item.thing[0] == "class" and item.name in generated.package_classes:
                continue  # ES202 from the build, with the list of the package's classes
            if name in template_names:
                shadowing.setdefault((item.thing, item.name), (item, []))[1].append(module)
                continue
            other = seen.setdefault(name, item)
            if other.thing == item.thing or _bulk_pair(other, item) or _reported(other, item):
                continue
            message = f"{item.what} and {other.what} are both '{name}' in the generated {module}"
            if other.name != item.name:
                message += f" (as '{other.name}')"
            code = "ES261" if "import" in (item.thing[0], other.thing[0]) else "ES271"
            yield _diag(item, code, message, "rename one of them")
    for item in invalid.values():
        yield _diag(item, "ES201", f"{item.what} is '{item.name}', not a Python identifier", "")
    for item, modules in shadowing.values():
        named = "" if f"'{item.name}'" in item.what else f" '{_python(item.name)}',"
        verb = "use" if len(modules) > 1 else "uses"
        message = (
            f"{item.what} is{named} a name the generated {' and '.join(modules)} {verb} itself"
        )
        if item.thing[0] == "import":  # the import would rebind the template's own name
            yield _diag(item, "ES261", message, "rename the package, or import it under another")
        else:
            yield _diag(item, "ES202", message, "rename it")


def _bulk_pair(a: Bound, b: Bound) -> bool:
    # ``x_many`` against the bulk variant of ``x``: reported as ES204.
    return {a.thing[-1:], b.thing[-1:]} == {("fn",), ("many",)}


def _reported(a: Bound, b: Bound) -> bool:
    """Two classes or modules of one name are ES206 / ES208 already."""
    if a.thing[0] != b.thing[0]:
        return False
    if a.thing[0] in ("class", "module"):
        return True
    same_module = snake_case(a.thing[1]) == snake_case(b.thing[1])
    return a.thing[0] in ("log", "clear", "replay") and same_module


def _position(item: Bound) -> tuple[str, int, int, str]:
    where = item.origin.at(*item.steps)
    line, col = where.source.locate(where.path)
    return (where.source.name, line, col, item.name)


def _diag(item: Bound, code: str, message: str, hint: str) -> Diagnostic:
    return at(item.origin, code, message, *item.steps, key=item.key, hint=hint)


# --- database names -----------------------------------------------------------------------------


@dataclass(frozen=True)
class DbName:
    name: str
    what: str
    origin: Origin
    steps: tuple[str | int, ...] = ()
    key: bool = False
    namespace: str = ""  # "" for names PostgreSQL keeps per table (columns, foreign keys)
    table: str = ""
    covered_by: str = ""  # a name this one extends: when that is too long, only it is reported


def _table_origin(unit: Resource | EventLog) -> tuple[Origin, tuple[str, ...]]:
    return unit.origin, (("table",) if node_at(unit.origin, "table") else ("name",))


def _db_names(project: Project) -> Iterator[DbName]:
    units: list[Resource | EventLog] = [*project.resources, *project.event_logs]
    for unit in units:
        table = _table_def(project, unit)
        if table is not None:
            yield from (replace(n, table=table.name) for n in _table_names(unit, table))


def _table_names(unit: Resource | EventLog, table: TableDef) -> Iterator[DbName]:
    origin, steps = _table_origin(unit)
    yield DbName(table.name, f"table '{table.name}'", origin, steps, namespace="relation")
    yield DbName(
        NAMING_CONVENTION["pk"] % {"table_name": table.name},
        f"primary key constraint of table '{table.name}'",
        origin,
        steps,
    )
    for column in table.columns:
        where, column_steps = _column_origin(unit, column.name)
        yield DbName(
            column.name,
            f"column '{table.name}.{column.name}'",
            where,
            column_steps,
            key=True,
            namespace=f"column:{table.name.casefold()}",
        )
        enum = column.type.db.get("name") if column.type.db.get("type") == "enum" else None
        if enum:
            what = f"enum type '{enum}' of column '{table.name}.{column.name}'"
            yield DbName(enum, what, where, column_steps, key=True, namespace="relation")
            yield DbName(
                f"{enum}{RENAMED_ENUM_SUFFIX}",
                f"{what}, while a migration replaces it",
                where,
                column_steps,
                key=True,
                covered_by=enum,
            )
        if column.primary_key and _sequenced(unit, column.name):
            yield DbName(
                f"{table.name}_{column.name}_seq",
                f"sequence of column '{table.name}.{column.name}'",
                where,
                column_steps,
                key=True,
                namespace="relation",
            )
        if column.foreign_key is not None:
            yield DbName(
                column.foreign_key.name,
                f"foreign key constraint of column '{table.name}.{column.name}'",
                where,
                column_steps,
                key=True,
            )
    for unique in table.uniques:
        identity = unique.name.removeprefix(f"uq_{table.name}_")
        yield DbName(
            unique.name,
            f"unique constraint of identity '{identity}'",
            unit.origin,
            ("identities", identity),
            key=True,
            namespace="relation",
        )
    for index in table.indexes:
        where, index_steps = _column_origin(unit, index.columns[-1])
        if index.columns[-1] in ("occurred_at", "record_id"):
            where, index_steps = origin, steps
        yield DbName(
            index.name,
            f"index '{index.name}'",
            where,
            index_steps,
            key=bool(index_steps and index_steps[0] != "name" and index_steps[0] != "table"),
            namespace="relation",
        )


def _sequenced(unit: Resource | EventLog, column: str) -> bool:
    if isinstance(unit, EventLog):
        return unit.primary_key_type == "integer"
    attribute = unit.attribute(column)
    return (
        attribute is not None
        and attribute.default is None
        and attribute.type.name in ("integer", "big_integer")
    )


def _column_origin(unit: Resource | EventLog, column: str) -> tuple[Origin, tuple[str, ...]]:
    if isinstance(unit, EventLog):
        actor = next((a for a in unit.actors if a.name == column), None)
        return (actor.origin, ()) if actor else _table_origin(unit)
    attribute = unit.attribute(column)
    if attribute is None:
        return _table_origin(unit)
    return attribute.origin, ()


def _table_def(project: Project, unit: Resource | EventLog) -> TableDef | None:
    if isinstance(unit, EventLog):
        return event_log_table(unit)
    for rel in unit.relationships:
        if rel.type == "belongs_to" and project.resource(rel.destination) is None:
            return None  # reported as ES210; the foreign key has no name yet
    # Defaults name nothing, and an invalid one is ES280: leave them out of the table.
    plain = tuple(replace(a, default=None, update_default=None) for a in unit.attributes)
    return resource_table(project, replace(unit, attributes=plain))


def database_names(project: Project) -> Iterator[Diagnostic]:
    # A name Python reads as another one is ES270 already.
    names = sorted((n for n in _db_names(project) if _python(n.name) == n.name), key=_db_position)
    truncated: dict[bytes, list[DbName]] = {}
    for item in names:
        encoded = item.name.encode("utf-8")
        if len(encoded) > PG_MAX_IDENTIFIER and item.namespace:
            truncated.setdefault(encoded[:PG_MAX_IDENTIFIER], []).append(item)
    for item in names:
        size = len(item.name.encode("utf-8"))
        if size <= PG_MAX_IDENTIFIER:
            continue
        if len(item.covered_by.encode("utf-8")) > PG_MAX_IDENTIFIER:
            continue  # the name it extends is reported
        message = f"{item.what}: '{item.name}' is {size} bytes, over PostgreSQL's 63"
        peers = truncated.get(item.name.encode("utf-8")[:PG_MAX_IDENTIFIER], [])
        same = [o.name for o in peers if o is not item]
        if same:
            message += f"; truncated, it would be the same name as '{same[0]}'"
        yield at(
            item.origin,
            "ES272",
            message,
            *item.steps,
            key=item.key,
            hint="shorten the table, attribute or identity name it is derived from",
        )
    units: list[Resource | EventLog] = [*project.resources, *project.event_logs]
    tables = [u.table.casefold() for u in units]
    duplicated = {t for t in tables if tables.count(t) > 1}
    seen: dict[tuple[str, str], DbName] = (
        {
            ("relation", ALEMBIC_VERSION_TABLE): DbName(
                ALEMBIC_VERSION_TABLE, "alembic's version table", Origin(names[0].origin.source)
            )
        }
        if names
        else {}
    )
    for item in names:
        if not item.namespace or item.table.casefold() in duplicated:
            continue
        other = seen.setdefault((item.namespace, item.name.casefold()), item)
        if other is item:
            continue
        if other.what.startswith("alembic"):
            continue  # a table of that name is ES274
        if item.what.startswith("table") and other.what.startswith("table"):
            continue  # ES207 / ES275
        if item.namespace.startswith("column"):
            if item.name == other.name:
                continue  # one name twice in one table: ES205 / ES247
            message = (
                f"{item.what} and '{other.name}' are one column on SQLite, which "
                "ignores case in column names"
            )
        else:
            message = f"{item.what} and {other.what} are both named '{item.name}' in the database"
        yield at(
            item.origin,
            "ES273",
            message,
            *item.steps,
            key=item.key,
            hint="rename one of the names it is derived from",
        )


def _db_position(item: DbName) -> tuple[str, int, int, str]:
    where = item.origin.at(*item.steps)
    locate = where.source.locate_key if item.key else where.source.locate
    line, col = locate(where.path)
    return (where.source.name, line, col, item.name)


def table_names(project: Project) -> Iterator[Diagnostic]:
    first: dict[str, Resource | EventLog] = {}
    units: list[Resource | EventLog] = sorted(
        (*project.resources, *project.event_logs),
        key=lambda u: _db_position(DbName(u.table, "", *_table_origin(u))),
    )
    for unit in units:
        origin, steps = _table_origin(unit)
        folded = unit.table.casefold()
        if folded.startswith("sqlite_"):
            message = f"table name '{unit.table}': SQLite reserves names starting with sqlite_"
            yield at(origin, "ES274", message, *steps, hint="choose another table name")
        elif folded == ALEMBIC_VERSION_TABLE:
            message = f"table name '{unit.table}' is alembic's own table of applied migrations"
            yield at(origin, "ES274", message, *steps, hint="choose another table name")
        other = first.setdefault(folded, unit)
        if other is not unit and other.table != unit.table:
            message = (
                f"table '{unit.table}' of '{unit.name}' and table '{other.table}' of "
                f"'{other.name}' are one table on SQLite, which ignores case in names"
            )
            yield at(origin, "ES275", message, *steps, hint="choose another table name")


def model_class_references(project: Project) -> Iterator[Diagnostic]:
    """A model's relationship annotations name other model classes: no member may hide one."""
    for resource in project.resources:
        classes = {rel.destination for rel in resource.relationships}
        members = [("attribute", a.name, a.origin) for a in resource.attributes]
        members += [("relationship", r.name, r.origin) for r in resource.relationships]
        for kind, name, origin in members:
            if name in classes and origin.path[-1] == name:
                message = (
                    f"{kind} name '{name}' would hide model class '{name}', which the "
                    f"relationship annotations of '{resource.name}' name"
                )
                yield at(origin, "ES202", message, key=True, hint="choose another name")


RULES: tuple[Rule, ...] = (python_names, database_names, table_names, model_class_references)
