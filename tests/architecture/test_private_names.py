"""No module of ``benchbase/`` or ``plugins/`` reaches another module's private name: not as
``module._name``, not by ``from module import _name`` or a private module, and not as an
attribute ``obj._name`` that the module itself never defines (another module's internals)."""

from __future__ import annotations

import ast

from importgraph import ROOT, owner_module, project

#: Private names of *libraries* the code relies on, each with why there is no public one.
LIBRARY_PRIVATES = {
    "_actions": "argparse: a parser's actions have no public accessor (cli/common.py)",
    "_getframe": "sys._getframe: the caller's frame, for the touched-files helper",
    "_BatchNorm": "torch.nn: the common base of BatchNorm1d/2d/3d (finetune's freezing)",
}


def private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def test_no_module_attribute_or_import_of_a_private_name() -> None:
    bad = []
    for module in project().values():
        where = module.path.relative_to(ROOT)
        for line, owner, attr in module.module_attributes:
            if private(attr) and owner != module.name:
                bad.append(f"{where}:{line}: {owner}.{attr}")
        for imp in module.imports:
            if owner_module(imp.target) is None or imp.target == module.name:
                continue
            if imp.name is not None and private(imp.name):
                bad.append(f"{where}:{imp.line}: from {imp.target} import {imp.name}")
            elif any(private(part) for part in imp.target.split(".")):
                bad.append(f"{where}:{imp.line}: imports private module {imp.target}")
    assert not bad, "private names reached across modules (give them a public name):\n" + "\n".join(
        bad
    )


def _defined(tree: ast.AST) -> set[str]:
    """Every name the module binds: functions, classes, variables, attributes it assigns,
    parameters and keyword arguments."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            names.add(node.attr)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.arg) or isinstance(node, ast.keyword) and node.arg:
            names.add(node.arg)
    return names


def test_no_private_attribute_of_another_modules_objects() -> None:
    bad = []
    for module in project().values():
        tree = ast.parse(module.path.read_text(), str(module.path))
        own = _defined(tree) | set(LIBRARY_PRIVATES)
        bad.extend(
            f"{module.name}:{node.lineno}: {ast.unparse(node)}"
            for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and private(node.attr) and node.attr not in own
        )
    assert not bad, "private attributes of other modules' objects:\n" + "\n".join(bad)


def test_the_checks_see_a_private_reach(tmp_path) -> None:
    """The readers behind the checks flag what they should (a check that cannot fail is none)."""
    from importgraph import Module, Reader

    source = (
        "import benchbase.run.runner as r\nfrom benchbase.run import runner\n"
        "from benchbase.extract.cache import _stale\n"
        "def f(x):\n    return r._hidden, runner._cell, x._elsewhere\n"
    )
    module = Module("probe", tmp_path / "probe.py")
    Reader(module, "", set(project())).visit(ast.parse(source))
    assert {(o, a) for _, o, a in module.module_attributes} >= {
        ("benchbase.run.runner", "_hidden"),
        ("benchbase.run.runner", "_cell"),
    }
    assert any(i.name == "_stale" for i in module.imports)
    assert "_elsewhere" not in _defined(ast.parse(source))
