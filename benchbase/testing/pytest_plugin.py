"""benchbase's pytest plugin (entry point ``pytest11``: loaded by pytest wherever benchbase
is installed), fixtures for plugin authors' tests::

    from benchbase import Dataset

    def test_my_dataset(benchbase_host, benchbase_fake_dataset):
        host = benchbase_host(my_plugin)           # built-ins + my_plugin, no entry points
        root = benchbase_fake_dataset("mydata")     # its fake layout under tmp_path
        assert host.datasets.get("mydata").load(root, {}).classes

- ``benchbase_host(*plugins, entry_points=False)``: a fresh :class:`benchbase.plugin.manager.Host`
  with ``plugins`` registered besides the built-ins, installed as the process-wide host for
  the rest of the test (commands run through ``benchbase.cli.main`` see it), removed after.
- ``benchbase_plugin(*objects)``: the same for a throwaway plugin registering ``objects``
  (``Dataset``, ``Backbone``, ``Strategy``, ``Suite``, ...; see
  :func:`benchbase.testing.make_plugin`); returns the host.
- ``benchbase_fake_dataset(name, placement="")``: writes dataset ``name``'s fake layout
  under a fresh folder of ``tmp_path`` and returns that data root.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from benchbase.plugin.manager import Host, installed


@pytest.fixture
def benchbase_host() -> Iterator[Callable[..., Any]]:

    with ExitStack() as stack:

        def make(*plugins: Any, entry_points: bool = False) -> Host:
            host = Host(extra_plugins=plugins, entry_points=entry_points)
            return stack.enter_context(installed(host))

        yield make


@pytest.fixture
def benchbase_plugin(benchbase_host: Callable[..., Any]) -> Callable[..., Any]:
    from benchbase.testing.throwaway import make_plugin

    def make(*objects: Any, name: str | None = None) -> Any:
        return benchbase_host(make_plugin(*objects, name=name))

    return make


@pytest.fixture
def benchbase_fake_dataset(tmp_path: Path) -> Callable[..., Path]:
    from benchbase.testing import make_fake_dataset

    count = 0

    def make(name: str, placement: str = "") -> Path:
        nonlocal count
        count += 1
        return make_fake_dataset(name, tmp_path / f"fake-{name}-{count}", placement)

    return make
