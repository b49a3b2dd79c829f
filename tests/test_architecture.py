"""The generator's shape: its modules import one another without a cycle, and each stays small.

The import graph is built with ``ast`` from every module of ``generator/``, counting imports at
module level and inside functions alike: a function-level import is how a cycle hides, not how it
is broken.
"""

from __future__ import annotations

import ast
from pathlib import Path

GENERATOR = Path(__file__).resolve().parent.parent / "generator"
PACKAGE = "eventspec"
MAX_LINES = 400

# Modules over the limit that other helpers are splitting (audit.py: h-commands; loader.py and
# migrations/diff.py: h-migrations); an entry that is no longer large fails too, to be removed.
KNOWN_LARGE: frozenset[str] = frozenset()


def module_name(path: Path) -> str:
    parts = list(path.relative_to(GENERATOR).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join([PACKAGE, *parts])


def _resolve(current: str, is_package: bool, level: int, module: str | None) -> str:
    """The absolute name of ``from <level dots><module> import ...`` inside ``current``."""
    if level == 0:
        return module or ""
    base = current.split(".")
    if not is_package:
        base.pop()
    base = base[: len(base) - (level - 1)]
    return ".".join([*base, module] if module else base)


def imports_in(source: str, name: str, modules: set[str], *, is_package: bool = False) -> set[str]:
    """The generator modules that module ``name`` (of text ``source``) imports, anywhere in its
    body: at module level or in a function, ``from . import x`` and ``from .x import y`` alike."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(name, is_package, node.level, node.module)
            # ``from pkg import mod`` imports the module; ``from mod import name`` the module.
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                for alias in node.names
            ]
        for target in targets:
            # The longest generator module the name starts with: ``pkg.mod.attr`` is ``pkg.mod``.
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def import_graph() -> dict[str, set[str]]:
    paths = sorted(GENERATOR.rglob("*.py"))
    modules = {module_name(p) for p in paths}
    graph = {
        module_name(p): imports_in(
            p.read_text(encoding="utf-8"), module_name(p), modules, is_package=p.stem == "__init__"
        )
        for p in paths
    }
    # Importing ``pkg.sub`` from outside ``pkg`` runs ``pkg/__init__.py`` first, so the package is
    # an edge too (the top package's ``__init__`` imports nothing). Inside ``pkg`` it already runs.
    for importer, imports in graph.items():
        for target in list(imports):
            parent = target.rpartition(".")[0]
            while parent and parent != PACKAGE:
                if not (importer == parent or importer.startswith(parent + ".")):
                    imports.add(parent)
                parent = parent.rpartition(".")[0]
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected component with more than one module (Tarjan), as a named loop."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component: list[str] = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                loop = _loop(graph, sorted(component))
                if len(component) > len(loop) - 1:  # name every module of the tangle
                    loop.append(f"(and {', '.join(sorted(set(component) - set(loop)))})")
                found.append(loop)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _loop(graph: dict[str, set[str]], component: list[str]) -> list[str]:
    """One concrete import loop inside ``component``, from its first module back to it."""
    members = set(component)
    start = component[0]
    paths: dict[str, list[str]] = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for target in sorted(graph[node] & members):
            if target == start:
                return [*paths[node], start]
            if target not in paths:
                paths[target] = [*paths[node], target]
                queue.append(target)
    return component  # unreachable for a strongly connected component


def test_the_generator_has_no_import_cycle() -> None:
    found = cycles(import_graph())
    assert not found, "import cycles in the generator:\n" + "\n".join(
        " -> ".join(loop) for loop in found
    )


def test_a_module_importing_its_own_package_is_no_cycle() -> None:
    graph = import_graph()
    assert "eventspec.verify" not in graph["eventspec.verify.common"]
    assert "eventspec.verify" in graph["eventspec.loader"]


def test_no_generator_module_is_over_the_line_limit() -> None:
    large = {
        str(path.relative_to(GENERATOR)): count
        for path in sorted(GENERATOR.rglob("*.py"))
        if (count := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    unexpected = {name: n for name, n in large.items() if name not in KNOWN_LARGE}
    assert not unexpected, f"generator modules over {MAX_LINES} lines: {unexpected}"
    assert not KNOWN_LARGE - set(large), f"no longer large: {sorted(KNOWN_LARGE - set(large))}"


def test_the_cycle_check_finds_a_loop_and_names_it() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c", "a"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_imports_inside_functions_and_relative_imports_count() -> None:
    source = "from . import ir\nfrom .verify.common import x\ndef f():\n    from .render import y\n"
    modules = {"eventspec.ir", "eventspec.render", "eventspec.verify", "eventspec.verify.common"}
    found = imports_in(source, "eventspec.mod", modules)
    assert found == {"eventspec.ir", "eventspec.render", "eventspec.verify.common"}
    inside = imports_in("from ..ir import T\nfrom . import common\n", "eventspec.verify", modules)
    assert inside == set(), "a package's __init__ resolves relative imports from itself"
    package = imports_in("from . import common\n", "eventspec.verify", modules, is_package=True)
    assert package == {"eventspec.verify.common"}
