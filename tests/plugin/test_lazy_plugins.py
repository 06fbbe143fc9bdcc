"""Entry-point plugins load lazily from the cached index (benchbase.plugin.lazy)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

PLUGIN = """
from benchbase import Backbone, hookimpl
import {marker}  # records that this module was imported

@hookimpl
def register_backbones(register):
    register(Backbone(name="{name}", build=lambda pretrained: None,
                      layers={{"out": ""}}, default_layer="out", input_size=8))
"""

#: Asks the host for one name, then reports which plugin modules were imported.
PROBE = """
import json, sys
from benchbase.plugin.manager import host
h = host()
h.backbones.get(sys.argv[1]) if sys.argv[1] else None
print(json.dumps(sorted(m for m in ("lazy_a", "lazy_b") if m in sys.modules)))
"""


def _site(tmp_path: Path) -> Path:
    site = tmp_path / "site"
    info = site / "lazyplugs-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: lazyplugs\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[benchbase]\nplug_a = plug_a\nplug_b = plug_b\n")
    for plug, name in (("a", "lazy/a"), ("b", "lazy/b")):
        (site / f"lazy_{plug}.py").write_text("")
        (site / f"plug_{plug}.py").write_text(
            textwrap.dedent(PLUGIN.format(marker=f"lazy_{plug}", name=name))
        )
    return site


def _imported(site: Path, cache: Path, name: str) -> list[str]:
    env = {**os.environ, "PYTHONPATH": str(site), "BENCHBASE_CACHE": str(cache)}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, name], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_only_the_plugin_owning_a_needed_name_is_imported(tmp_path: Path) -> None:
    site, cache = _site(tmp_path), tmp_path / "cache"
    assert _imported(site, cache, "") == ["lazy_a", "lazy_b"]  # no index yet: all load
    index = json.loads((cache / "plugin-index.json").read_text())["plugins"]
    assert index["plug_a"]["backbones"] == ["lazy/a"]
    assert _imported(site, cache, "") == []
    assert _imported(site, cache, "lazy/b") == ["lazy_b"]


def test_editing_a_plugin_rebuilds_the_index(tmp_path: Path) -> None:
    site, cache = _site(tmp_path), tmp_path / "cache"
    _imported(site, cache, "")
    module = site / "plug_a.py"
    module.write_text(module.read_text().replace('"lazy/a"', '"lazy/renamed"'))
    os.utime(module, ns=(1, 1))  # a different mtime even on a coarse-clock filesystem
    assert _imported(site, cache, "") == ["lazy_a", "lazy_b"]
    assert _imported(site, cache, "lazy/renamed") == ["lazy_a"]
