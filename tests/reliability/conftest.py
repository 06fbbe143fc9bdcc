"""Fixtures for the reliability tests (helpers live in ``relhelpers``)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from relhelpers import HERE, SPLITS, UNUSED_BUILTINS, snapshot, suite_text


@pytest.fixture(scope="session")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """The reliability suite (``SPLITS`` splits × 2 layers) run uninterrupted, in-process:
    its file and its :func:`snapshot`."""
    import faultplug

    from benchbase.plugin.manager import Host
    from benchbase.run.runner import Runner
    from benchbase.run.suites import suite_from_toml

    root = tmp_path_factory.mktemp("reference")
    suite = root / "rel.toml"
    suite.write_text(suite_text(SPLITS))
    host = Host(extra_plugins=(faultplug,), entry_points=False)
    summary = Runner(host, suite_from_toml(suite), root / "out", device="cpu", batch_size=4).run()
    assert summary.done == 2 * SPLITS
    return suite, snapshot(root / "out")


@pytest.fixture(scope="session")
def plugin_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    site = tmp_path_factory.mktemp("site")
    info = site / "faultplug-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: faultplug\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[benchbase]\nfaultplug = faultplug\n")
    return site


@pytest.fixture
def rel_env(plugin_site: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BBREL_")}
    env.update(
        PYTHONPATH=os.pathsep.join([str(plugin_site), str(HERE)]),
        BENCHBASE_BLOCK_PLUGINS=UNUSED_BUILTINS,
        TQDM_DISABLE="1",
        HF_HUB_OFFLINE="1",
    )
    return env
