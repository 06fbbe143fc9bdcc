"""The project's import statements read from its source (no module is imported): which
module imports which, at module level or inside a function, for the layout tests."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: The libraries a function-level import may defer (slow to import, or optional).
HEAVY = {"torch", "timm", "torchvision", "sklearn", "pandas", "matplotlib", "PIL", "scipy"}


@dataclass(frozen=True)
class Import:
    """One imported name: ``target`` is the module it loads (for ``from pkg import mod``,
    ``pkg.mod`` when that is a module), ``name`` the name taken from it (None: the module)."""

    importer: str
    line: int
    target: str
    name: str | None
    in_function: bool


@dataclass
class Module:
    name: str
    path: Path
    imports: list[Import] = field(default_factory=list)
    #: attribute reads ``alias.attr`` where ``alias`` is bound to an imported project module
    module_attributes: list[tuple[int, str, str]] = field(default_factory=list)


def module_name(path: Path) -> str:
    """``benchbase/run/ddp.py`` → ``benchbase.run.ddp``; a built-in plugin file under
    ``plugins/`` by the name it is installed as (``plugins/benchbase_voc/x.py`` →
    ``benchbase_voc.x``; the older one-package layout ``plugins/a/b.py`` →
    ``benchbase_plugins.a.b``)."""
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[0] == "plugins":
        parts = (
            parts[1:]
            if len(parts) > 1 and parts[1].startswith("benchbase_")
            else [
                "benchbase_plugins",
                *parts[1:],
            ]
        )
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _files() -> Iterator[Path]:
    for top in ("benchbase", "plugins"):
        yield from sorted(p for p in (ROOT / top).rglob("*.py") if ".venv" not in p.parts)


def _type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


class Reader(ast.NodeVisitor):
    def __init__(self, module: Module, package: str, known: set[str]) -> None:
        self.module, self.package, self.known = module, package, known
        self.depth = 0
        self.aliases: dict[str, str] = {}  # local name → project module it is bound to

    def _absolute(self, node: ast.ImportFrom) -> str:
        if not node.level:
            return node.module or ""
        base = self.package.split(".")
        base = base[: len(base) - node.level + 1]
        return ".".join([*base, *([node.module] if node.module else [])])

    def _add(self, line: int, target: str, name: str | None) -> None:
        self.module.imports.append(Import(self.module.name, line, target, name, self.depth > 0))

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(node.lineno, alias.name, None)
            if alias.name in self.known:
                self.aliases[alias.asname or alias.name.split(".")[0]] = (
                    alias.name if alias.asname else alias.name.split(".")[0]
                )

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        source = self._absolute(node)
        for alias in node.names:
            full = f"{source}.{alias.name}"
            if full in self.known:  # `from pkg import module`
                self._add(node.lineno, full, None)
                self.aliases[alias.asname or alias.name] = full
            else:
                self._add(node.lineno, source, alias.name)

    def visit_If(self, node: ast.If) -> None:
        if _type_checking(node):  # annotations only: never executed
            for child in node.orelse:
                self.visit(child)
            return
        self.generic_visit(node)

    def _function(self, node: ast.AST) -> None:
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _function

    def visit_Attribute(self, node: ast.Attribute) -> None:
        dotted, root = [node.attr], node.value
        while isinstance(root, ast.Attribute):
            dotted.insert(0, root.attr)
            root = root.value
        if isinstance(root, ast.Name) and root.id in self.aliases:
            owner = self.aliases[root.id]
            # walk down the chain while it names modules: `benchbase.run.runner._x`
            for part in dotted[:-1]:
                if f"{owner}.{part}" not in self.known:
                    break
                owner = f"{owner}.{part}"
            else:
                self.module.module_attributes.append((node.lineno, owner, dotted[-1]))
        self.generic_visit(node)


@cache
def project() -> dict[str, Module]:
    """Every module of ``benchbase/`` and ``plugins/``, by name, with its imports."""
    paths = {module_name(p): p for p in _files()}
    known = set(paths)
    modules = {}
    for name, path in paths.items():
        module = Module(name, path)
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        Reader(module, package, known).visit(ast.parse(path.read_text(), str(path)))
        modules[name] = module
    return modules


def owner_module(target: str) -> str | None:
    """The project module ``target`` is, or None for a library."""
    return target if target in project() else None


def module_level_edges(name: str) -> set[str]:
    """The project modules ``name`` imports when it is imported (not in functions)."""
    return {
        i.target
        for i in project()[name].imports
        if not i.in_function and owner_module(i.target) is not None and i.target != name
    }


@cache
def heavy_closure(name: str) -> frozenset[str]:
    """The :data:`HEAVY` libraries importing project module ``name`` imports (its package
    ``__init__`` files included), following module-level imports only."""
    found: set[str] = set()
    seen: set[str] = set()
    todo = [name]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        parts = current.split(".")
        todo.extend(
            ".".join(parts[:k]) for k in range(1, len(parts)) if ".".join(parts[:k]) in project()
        )
        for i in project()[current].imports:
            if i.in_function:
                continue
            if owner_module(i.target) is not None:
                todo.append(i.target)
            elif i.target.split(".")[0] in HEAVY:
                found.add(i.target.split(".")[0])
    return frozenset(found)


def reaches(start: str, goal: str) -> bool:
    """Whether importing ``start`` imports ``goal`` (module-level imports, transitively)."""
    seen, todo = set(), [start]
    while todo:
        current = todo.pop()
        if current == goal:
            return True
        if current not in seen:
            seen.add(current)
            todo.extend(module_level_edges(current))
    return False


def cycles() -> list[list[str]]:
    """Strongly connected groups (> 1 module, or a self-import) of the module-level graph."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(module_level_edges(v)):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                out.append(sorted(group))

    for v in sorted(project()):
        if v not in index:
            visit(v)
    return out
