"""docs/plugins.md: its example plugin works as written and every hook has a section."""

from __future__ import annotations

import re
import types
from pathlib import Path

from benchbase import hookspecs
from benchbase.testing import check_backbone, plugin_host

DOC = Path(__file__).resolve().parents[2] / "docs" / "plugins.md"


def _example_module() -> types.ModuleType:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    source = next(b for b in blocks if "def register_backbones" in b)
    module = types.ModuleType("benchbase_mylab_example")
    exec(compile(source, str(DOC), "exec"), module.__dict__)
    return module


def test_every_hook_is_documented() -> None:
    text = DOC.read_text()
    hooks = [n for n in dir(hookspecs) if hasattr(getattr(hookspecs, n), "benchbase_spec")]
    assert len(hooks) >= 10
    missing = [h for h in hooks if f"### {h}\n" not in text]
    assert not missing, f"hooks without a section in docs/plugins.md: {missing}"


def test_every_hook_section_shows_its_exact_signature() -> None:
    import inspect

    text = DOC.read_text()
    wrong = []
    for name in (n for n in dir(hookspecs) if hasattr(getattr(hookspecs, n), "benchbase_spec")):
        args = ", ".join(inspect.signature(getattr(hookspecs, name)).parameters)
        section = text.split(f"### {name}\n", 1)[1].split("\n### ", 1)[0]
        if f"`{name}({args})" not in section:
            wrong.append(f"{name}({args})")
    assert not wrong, f"docs/plugins.md sections not showing these signatures: {wrong}"


def test_every_hook_is_exercised_by_a_test() -> None:
    tests = Path(__file__).resolve().parents[1]
    sources = "\n".join(
        p.read_text() for p in tests.rglob("*.py") if p.resolve() != Path(__file__).resolve()
    )
    hooks = [n for n in dir(hookspecs) if hasattr(getattr(hookspecs, n), "benchbase_spec")]
    # a plugin written in a test: `def hook(`, `hook=lambda ...` or `"hook": lambda ...`
    unexercised = [
        h for h in hooks if not re.search(rf"def {h}\(|\b{h}=|[\"']{h}[\"']: ", sources)
    ]
    assert not unexercised, f"hooks no test implements: {unexercised}"


def test_example_plugin_registers_and_passes_the_contract_check() -> None:
    plugin = _example_module()
    with plugin_host(plugin, entry_points=False) as host:
        assert "mylab/resnet18" in host.backbones
        assert "mylab-parts" in host.datasets
        assert "mylab-centroid" in host.strategies
        assert "mylab" in host.suites
        shapes = check_backbone(host.backbones.get("mylab/resnet18"), input_size=32)
    assert shapes == {"stage3": (2, 256), "stage4": (2, 512), "pool": (2, 512)}
