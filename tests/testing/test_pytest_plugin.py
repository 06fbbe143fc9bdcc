"""benchbase.testing as a pytest plugin: a plugin author's test file uses its fixtures."""

from __future__ import annotations

import importlib.metadata as md
import tomllib
from pathlib import Path
from typing import Any

pytest_plugins = ["pytester"]

PLUGIN = "benchbase.testing.pytest_plugin"

AUTHOR_TESTS = """
from pathlib import Path

from benchbase import Dataset, DatasetData, Sample, Split
from benchbase.plugin.manager import host
from benchbase.testing import make_plugin, save_image, synthetic_image


def fake(root, placement):
    for c in range(2):
        for i in range(3):
            save_image(synthetic_image(c, 2, seed=i), Path(root) / f"c{c}" / f"{i}.jpg")


def load(root, options):
    samples = [Sample(p, int(p.parent.name[1])) for p in sorted(Path(root).glob("c*/*.jpg"))]
    return DatasetData(["c0", "c1"], [Split("all", samples[:4], samples[4:])])


TINY = Dataset(name="tiny", load=load, fake=fake)


def test_plugin_fixture_installs_a_throwaway_plugin(benchbase_plugin, benchbase_fake_dataset):
    h = benchbase_plugin(TINY)
    assert host() is h and "tiny" in h.datasets and "mit67" in h.datasets
    root = benchbase_fake_dataset("tiny")
    data = h.datasets.get("tiny").load(root, {})
    assert len(data.splits[0].train) == 4 and len(data.splits[0].test) == 2


def test_host_fixture_takes_plugin_modules(benchbase_host):
    h = benchbase_host(make_plugin(TINY, name="author_plugin"))
    assert h.origins["author_plugin"] == "registered in-process"


def test_the_host_is_gone_after_the_test():
    assert "tiny" not in host().datasets
"""


def test_pyproject_declares_the_pytest11_entry_point() -> None:
    pyproject = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    assert pyproject["project"]["entry-points"]["pytest11"]["benchbase"] == PLUGIN


def test_a_plugin_authors_tests_use_the_fixtures(pytester: Any) -> None:
    pytester.makepyfile(test_author=AUTHOR_TESTS)
    installed = any(ep.value == PLUGIN for ep in md.entry_points(group="pytest11"))
    # An install made before the entry point existed does not autoload it: name it then.
    args = ["-p", "no:cacheprovider", *([] if installed else ["-p", PLUGIN])]
    result = pytester.runpytest(*args)
    result.assert_outcomes(passed=3)
