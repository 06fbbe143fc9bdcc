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


def test_example_plugin_registers_and_passes_the_contract_check() -> None:
    plugin = _example_module()
    with plugin_host(plugin, entry_points=False) as host:
        assert "mylab/resnet18" in host.backbones
        assert "mylab-parts" in host.datasets
        assert "mylab-centroid" in host.strategies
        assert "mylab" in host.suites
        shapes = check_backbone(host.backbones.get("mylab/resnet18"), input_size=32)
    assert shapes == {"stage3": (2, 256), "stage4": (2, 512), "pool": (2, 512)}
