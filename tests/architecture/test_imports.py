"""The import graph of ``benchbase/`` (read from the source): no circles at module level, and
every import of a project module inside a function is there to defer a heavy library or
to break a circle listed below with its reason."""

from __future__ import annotations

from importgraph import HEAVY, cycles, heavy_closure, owner_module, project, reaches

#: Function-level imports of project modules that break an import circle: (importer,
#: imported) → why the import cannot move to module level.
CIRCLES: dict[tuple[str, str], str] = {}


def _function_level() -> list:
    return [
        imp
        for module in project().values()
        if module.name.split(".")[0] == "benchbase"
        for imp in module.imports
        if imp.in_function and owner_module(imp.target) is not None and imp.target != imp.importer
    ]


def test_no_import_circle_at_module_level() -> None:
    found = cycles()
    assert not found, "module-level import circles:\n" + "\n".join(" ⇄ ".join(c) for c in found)


def test_function_level_imports_only_defer_a_heavy_library_or_break_a_circle() -> None:
    bad = [
        f"{imp.importer}:{imp.line}: {imp.target}"
        for imp in _function_level()
        if not heavy_closure(imp.target) and (imp.importer, imp.target) not in CIRCLES
    ]
    assert not bad, (
        f"function-level imports of modules that import none of {sorted(HEAVY)}: move them "
        "to module level (or list a real import circle in CIRCLES):\n" + "\n".join(bad)
    )


def test_every_listed_circle_is_still_one() -> None:
    stale = [pair for pair in CIRCLES if not reaches(pair[1], pair[0])]
    assert not stale, f"no longer circles, move these imports to module level: {stale}"


def test_the_graph_sees_heavy_libraries() -> None:
    assert "torch" in heavy_closure("benchbase.extract.features")
    assert not heavy_closure("benchbase.errors")
