"""The built-in plugins stay behind the public line, as a third-party plugin must."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import benchbase.toolkit

PLUGINS = Path(__file__).resolve().parents[2] / "plugins"
PUBLIC = {"benchbase", "benchbase.errors", "benchbase.metrics", "benchbase.toolkit", "benchbase.testing"}


def _imports(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
    return found


def test_plugins_import_only_the_public_surface():
    bad = [
        f"{path.relative_to(PLUGINS.parent)}:{line}: {module}"
        for path in sorted(PLUGINS.rglob("*.py"))
        for line, module in _imports(path)
        if (module == "benchbase" or module.startswith("benchbase.")) and module not in PUBLIC
    ]
    assert not bad, "plugins reach private modules:\n" + "\n".join(bad)


def test_each_built_in_plugin_is_one_package_importing_no_other():
    """``plugins/<name>/`` installs as ``<name>`` and is the registered plugin; a package
    reaches another plugin's code only through the public toolkit."""
    from benchbase.plugin.manager import BUILTIN_PLUGINS

    packages = sorted(p.name for p in PLUGINS.iterdir() if (p / "__init__.py").is_file())
    assert packages == sorted(BUILTIN_PLUGINS)
    for name in packages:
        assert Path(importlib.import_module(name).__file__).parent == PLUGINS / name
    crossing = [
        f"{path.relative_to(PLUGINS)}:{line}: {module}"
        for path in sorted(PLUGINS.rglob("*.py"))
        for line, module in _imports(path)
        if module.split(".")[0] in packages and module.split(".")[0] != path.relative_to(PLUGINS).parts[0]
    ]
    assert not crossing, "built-in plugins import each other:\n" + "\n".join(crossing)


def test_every_toolkit_name_resolves():
    for name in benchbase.toolkit.__all__:
        assert getattr(benchbase.toolkit, name) is not None, name


def test_importing_the_toolkit_imports_no_torch():
    import subprocess
    import sys

    code = "import benchbase.toolkit, sys; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_unknown_toolkit_name_is_an_attribute_error():
    try:
        importlib.import_module("benchbase.toolkit").no_such_helper  # noqa: B018
    except AttributeError as err:
        assert "no_such_helper" in str(err)
    else:
        raise AssertionError("expected AttributeError")
