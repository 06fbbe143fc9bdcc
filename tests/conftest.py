"""Shared test settings: offline hubs, a private weights/config cache, small helpers."""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TQDM_DISABLE", "1")
# One cache (converted offline weights, timm configs) for the whole session and its subprocesses.
os.environ.setdefault("BENCHBASE_CACHE", str(Path(tempfile.gettempdir()) / "benchbase-test-cache"))


# benchbase.testing's fixtures come through its pytest11 entry point; an environment installed
# before that entry point existed loads them here instead (`pip install -e .` refreshes it).
if not any(
    ep.value == "benchbase.testing.pytest_plugin"
    for ep in importlib.metadata.entry_points(group="pytest11")
):
    pytest_plugins = ["benchbase.testing.pytest_plugin"]


@pytest.fixture
def suite_file(tmp_path: Path):
    """Write a suite TOML from keyword arguments; returns its path."""

    def write(text: str, name: str = "suite.toml") -> Path:
        path = tmp_path / name
        path.write_text(text)
        return path

    return write


def _pip_install_target(files: dict[str, str], root: Path) -> Path:
    """Write a package's ``files`` (dedented) under ``root/pkg``, pip-install it offline into
    ``root/site`` and return that folder (use it through ``PYTHONPATH``)."""
    pkg = root / "pkg"
    pkg.mkdir(parents=True)
    for name, text in files.items():
        (pkg / name).write_text(textwrap.dedent(text))
    site = root / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
         "--no-build-isolation", "--target", str(site), str(pkg)],
        check=True,
        timeout=300,
    )
    return site


@pytest.fixture(scope="session")
def pip_install_target():
    """:func:`_pip_install_target`: a third-party package installed as a user would."""
    return _pip_install_target
