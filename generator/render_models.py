"""The view of ``models.py``: the declarative base, one model per resource and event log."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import jinja2

from . import ir
from .filters import from_import, statement
from .printer import docstring, py
from .pyfmt import Call, Dict, Expr, Seq
from .symbols import header
from .tables import (
    NAMING_CONVENTION,
    ColumnDef,
    TableDef,
    checkpoint_table,
    event_log_table,
    followed_logs,
    resource_table,
    snapshot_tables,
    subject_keys_table,
)
from .typemap import Import


@dataclass(frozen=True)
class ModelView:
    class_name: str
    table: str
    docstring: str  # source, indented
    body: tuple[str, ...]  # formatted statements: __tablename__, __table_args__, columns, ...


@dataclass(frozen=True)
class ModelsView:
    header: str
    package: str
    import_blocks: tuple[str, ...]  # sections of import statements, sorted as ruff sorts them
    all_names: str  # the ``__all__`` statement
    naming_convention: str  # the MetaData naming convention's items, one per line
    models: tuple[ModelView, ...]


def render_models(project: ir.Project, env: jinja2.Environment) -> str:
    """The source of ``models.py`` for ``project``."""
    return env.get_template("models.py.j2").render(vars(models_view(project)))


def models_view(project: ir.Project) -> ModelsView:
    """What ``models.py`` prints for ``project``."""
    imports: set[Import] = {
        ("sqlalchemy", "MetaData"),
        ("sqlalchemy.orm", "DeclarativeBase"),
    }
    pairs = relationship_pairs(project)
    models: list[ModelView] = []
    for resource in project.resources:
        table = resource_table(project, resource)
        body = _table_lines(table, imports)
        for rel in resource.relationships:
            body.append(_relationship_line(project, resource, rel, pairs))
            imports.add(("sqlalchemy.orm", "relationship"))
        models.append(_view(table, resource.description, "Resource", body))
    for log in project.event_logs:
        table = event_log_table(log)
        body = _table_lines(table, imports) + _public_lines(log, imports)
        models.append(_view(table, log.description, "Event log", body))
        if log.personal_data:
            table = subject_keys_table(log)
            text = f"The data subjects' keys of ``{log.name}``, wrapped by its master key."
            lines = tuple(_table_lines(table, imports))
            models.append(
                ModelView(table.class_name, table.name, "    " + docstring(text, 1), lines)
            )
    for log in (log for log in project.event_logs if log.archive):
        for table in snapshot_tables(log):
            text = f"Snapshots of ``{log.name}``, from {table.source} (``eventspec archive``)."
            lines = tuple(_table_lines(table, imports))
            models.append(
                ModelView(table.class_name, table.name, "    " + docstring(text, 1), lines)
            )
    if followed_logs(project):
        table = checkpoint_table()
        text = "Checkpoints of ``.log.consume``: the id of the last event each consumer handled."
        lines = tuple(_table_lines(table, imports))
        models.append(ModelView(table.class_name, table.name, "    " + docstring(text, 1), lines))
    models.sort(key=lambda m: m.class_name)
    naming = "\n".join(f'            "{k}": "{v}",' for k, v in sorted(NAMING_CONVENTION.items()))
    return ModelsView(
        header=header(*project.resources, *project.event_logs),
        package=project.package,
        import_blocks=tuple(import_blocks(imports)),
        all_names=statement("__all__", Seq("[", [py(n) for n in _all_names(models)])),
        naming_convention=naming,
        models=tuple(models),
    )


def _all_names(models: Iterable[ModelView]) -> list[str]:
    return sorted(["Base", *(m.class_name for m in models)])


def _view(table: TableDef, description: str, kind: str, body: list[str]) -> ModelView:
    text = f"{kind} ``{table.class_name}``, from {table.source}."
    if description.strip():
        text += "\n\n" + description.strip()
    return ModelView(table.class_name, table.name, "    " + docstring(text, 1), tuple(body))


def _table_lines(table: TableDef, imports: set[Import]) -> list[str]:
    imports.update({("sqlalchemy.orm", "Mapped"), ("sqlalchemy.orm", "mapped_column")})
    lines = [f"    __tablename__ = {py(table.name)}"]
    args: list[Expr] = []
    for unique in table.uniques:
        imports.add(("sqlalchemy", "UniqueConstraint"))
        cols = [py(c) for c in unique.columns]
        args.append(Call("UniqueConstraint", cols, [("name", py(unique.name))]))
    for index in table.indexes:
        imports.add(("sqlalchemy", "Index"))
        kwargs = [("unique", "True")] if index.unique else []
        args.append(Call("Index", [py(index.name), *map(py, index.columns)], kwargs))
    if table.partitioning is not None:
        args += _partitioning_args(table, table.partitioning, imports)
    if args:
        lines.append(statement("__table_args__", Seq("(", args), indent=1))
    lines.append("")
    for column in table.columns:
        imports.update(column.type.imports)
        imports.update(column.imports)
        lines.append(_column_line(column, imports))
    return lines


PARTITIONS = "._partitions"


def _partitioning_args(
    table: TableDef, partitioning: ir.Partitioning, imports: set[Import]
) -> list[Expr]:
    """The primary key that holds the partition key on PostgreSQL, and the table options that
    partition the table there and create its first partitions (``_partitions``)."""
    names = ("INFO_KEY", "Partitioning", "PartitionedPrimaryKey", "after_create")
    imports.update((PARTITIONS, name) for name in names)
    keys = [py(c.name) for c in table.columns if c.primary_key]
    span = ("size", str(partitioning.size)) if partitioning.by == "id" else None
    fields: list[tuple[str, Expr]] = [
        ("by", py(partitioning.by)),
        span or ("interval", py(partitioning.interval)),
        ("ahead", str(partitioning.ahead)),
    ]
    options = Dict(
        [
            (py("info"), Dict([("INFO_KEY", Call("Partitioning", [], fields))])),
            (py("listeners"), Seq("[", [Seq("(", [py("after_create"), "after_create"])])),
            (py("postgresql_partition_by"), py(f"RANGE ({partitioning.by})")),
        ]
    )
    return [Call("PartitionedPrimaryKey", keys), options]


def _column_line(column: ColumnDef, imports: set[Import]) -> str:
    args: list[Expr] = []
    if column.key != column.name:
        args.append(py(column.name))
    args.append(column.type.expr)
    fk = column.foreign_key
    if fk is not None:
        imports.add(("sqlalchemy", "ForeignKey"))
        ondelete = [("ondelete", py(fk.ondelete))] if fk.ondelete else []
        args.append(Call("ForeignKey", [py(f"{fk.table}.{fk.column}")], ondelete))
    kwargs: list[tuple[str, Expr]] = []
    if column.primary_key:
        kwargs.append(("primary_key", "True"))
    if column.autoincrement:
        kwargs.append(("autoincrement", "True"))
    if column.default is not None:
        kwargs.append(("default", column.default))
    if column.onupdate is not None:
        kwargs.append(("onupdate", column.onupdate))
    if column.server_default is not None:
        kwargs.append(("server_default", py(column.server_default)))
    target = f"{column.key}: Mapped[{column.annotation}]"
    return statement(target, Call("mapped_column", args, kwargs), indent=1)


def _public_lines(log: ir.EventLog, imports: set[Import]) -> list[str]:
    """``PUBLIC_FIELDS`` and ``to_public_dict()``: what ``public_fields`` exposes, by field name."""
    imports.update({("typing", "Any"), ("typing", "ClassVar")})
    public = log.public_field_names
    names = Seq("(", [py(name) for name in public])
    values = Dict([(py(n), f"self.{'metadata_' if n == 'metadata' else n}") for n in public])
    return [
        "",
        statement("PUBLIC_FIELDS: ClassVar[tuple[str, ...]]", names, indent=1),
        "",
        "    def to_public_dict(self) -> dict[str, Any]:",
        '        """The fields listed in ``public_fields``, by event-field name, as stored."""',
        statement("return", values, indent=2, operator=" "),
    ]


# --- relationships ----------------------------------------------------------------------------

RelKey = tuple[str, str]  # (resource name, relationship name)


def relationship_pairs(project: ir.Project) -> dict[RelKey, RelKey]:
    """Pair each belongs_to with the has_many / has_one on its destination that mirrors it.

    A pair shares ``back_populates``; when several reverse relationships match, the first by name
    wins and the others stay one-directional.
    """
    pairs: dict[RelKey, RelKey] = {}
    for resource in project.resources:
        for rel in resource.relationships:
            if rel.type != "belongs_to":
                continue
            destination = project.resource(rel.destination)
            if destination is None:
                continue
            fk_column = _fk_column(rel)
            target = rel.destination_attribute or _pk_name(destination)
            for other in sorted(destination.relationships, key=lambda r: r.name):
                if (
                    other.type != "belongs_to"
                    and other.destination == resource.name
                    and _reverse_column(destination, other) == fk_column
                    and (other.source_attribute or _pk_name(destination)) == target
                    and (destination.name, other.name) not in pairs
                ):
                    pairs[(resource.name, rel.name)] = (destination.name, other.name)
                    pairs[(destination.name, other.name)] = (resource.name, rel.name)
                    break
    return pairs


def _fk_column(rel: ir.Relationship) -> str:
    return rel.source_attribute or f"{rel.name}_id"


def _reverse_column(resource: ir.Resource, rel: ir.Relationship) -> str:
    """The column on ``rel.destination`` that refers back to ``resource`` (has_many / has_one)."""
    return rel.destination_attribute or f"{ir.snake_case(resource.name)}_id"


def _pk_name(resource: ir.Resource) -> str:
    return resource.primary_key.name if resource.primary_key else "id"


def _relationship_line(
    project: ir.Project,
    resource: ir.Resource,
    rel: ir.Relationship,
    pairs: dict[RelKey, RelKey],
) -> str:
    destination = project.resource(rel.destination)
    assert destination is not None, f"unknown destination {rel.destination}"
    dest = destination.name
    partner = pairs.get((resource.name, rel.name))
    kwargs: list[tuple[str, Expr]] = []
    if partner is not None:
        kwargs.append(("back_populates", py(partner[1])))
    if rel.type == "belongs_to":
        column = _fk_column(rel)
        attr = resource.attribute(column)
        nullable = attr.allow_nil if attr is not None else rel.allow_nil
        annotation = f"{dest} | None" if nullable else dest
        kwargs.append(("foreign_keys", py(f"{resource.name}.{column}")))
        if destination is resource:
            target = rel.destination_attribute or _pk_name(destination)
            kwargs.append(("remote_side", py(f"{resource.name}.{target}")))
    else:
        column = _reverse_column(resource, rel)
        annotation = f"list[{dest}]" if rel.type == "has_many" else f"{dest} | None"
        if partner is not None:
            kwargs.append(("foreign_keys", py(f"{dest}.{column}")))
        else:
            source = rel.source_attribute or _pk_name(resource)
            join = f"{resource.name}.{source} == foreign({dest}.{column})"
            kwargs.append(("primaryjoin", py(join)))
        # Deleting a parent never rewrites its children: the database's ON DELETE decides.
        kwargs.append(("passive_deletes", py("all")))
    target_text = f"{rel.name}: Mapped[{annotation}]"
    return statement(target_text, Call("relationship", [], kwargs), indent=1)


# --- imports ----------------------------------------------------------------------------------

_STDLIB = frozenset({"collections.abc", "datetime", "decimal", "uuid", "typing"})


def import_blocks(imports: Iterable[Import]) -> list[str]:
    """Import statements grouped and sorted as ruff's isort does (future first, local last)."""
    by_module: dict[str, set[str]] = {}
    for module, name in imports:
        by_module.setdefault(module, set()).add(name)
    straight = sorted(by_module.pop("", set()))
    sections: list[list[str]] = [["from __future__ import annotations"]]
    stdlib = [f"import {name}" for name in straight]
    stdlib += [from_import(m, n) for m, n in sorted(by_module.items()) if m in _STDLIB]
    third = [
        from_import(m, n)
        for m, n in sorted(by_module.items())
        if m not in _STDLIB and not m.startswith(".")
    ]
    local = [from_import(m, n) for m, n in sorted(by_module.items()) if m.startswith(".")]
    sections += [s for s in (stdlib, third, local) if s]
    return ["\n".join(section) for section in sections]
