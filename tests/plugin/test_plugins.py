"""Plugin manager: built-ins and entry points through one path, duplicates, broken plugins."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest

from benchbase import Backbone, Dataset, DatasetData, hookimpl
from benchbase.cli import main
from benchbase.errors import BenchbaseError, UnknownNameError
from benchbase.plugin.manager import BUILTIN_PLUGINS, Host


def _dataset(name: str) -> Dataset:
    return Dataset(name=name, load=lambda root, opts: DatasetData(classes=[], splits=[]))


def test_builtins_register_through_the_hooks():
    host = Host(entry_points=False)
    assert "digits" in host.datasets
    assert "timm/tf_efficientnet_lite0" in host.backbones
    assert {"linear-svm", "logreg"} <= set(host.strategies.names())
    assert "demo" in host.suites
    loaded = {p.name for p in host.plugins()}
    assert set(BUILTIN_PLUGINS) <= loaded | {f.name for f in host.failures}


def test_duplicate_name_names_both_plugins():
    first = SimpleNamespace(
        __name__="first_plugin",
        register_datasets=hookimpl(lambda register: register(_dataset("twin"))),
    )
    second = SimpleNamespace(
        __name__="second_plugin",
        register_datasets=hookimpl(lambda register: register(_dataset("twin"))),
    )
    with pytest.raises(BenchbaseError, match="first_plugin.*second_plugin"):
        Host(extra_plugins=(first, second), entry_points=False)


def test_duplicate_of_a_builtin_is_an_error():
    clash = SimpleNamespace(
        __name__="clash", register_datasets=hookimpl(lambda register: register(_dataset("digits")))
    )
    with pytest.raises(BenchbaseError, match="registered twice"):
        Host(extra_plugins=(clash,), entry_points=False)


def test_unknown_name_suggests_close_matches():
    host = Host(entry_points=False)
    with pytest.raises(UnknownNameError, match="did you mean 'linear-svm'"):
        host.strategies.get("linear-svn")
    with pytest.raises(UnknownNameError, match="digits"):
        host.datasets.get("digit")


def test_registering_a_wrong_type_is_reported():
    bad = SimpleNamespace(
        __name__="bad", register_backbones=hookimpl(lambda register: register("resnet"))
    )
    with pytest.raises(BenchbaseError, match="expected a benchbase.Backbone"):
        Host(extra_plugins=(bad,), entry_points=False)


def test_a_backbone_with_an_unknown_default_layer_is_refused():
    with pytest.raises(BenchbaseError, match="default_layer 'fc9'"):
        Backbone(name="x", build=lambda p: None, layers={"fc7": "fc7"}, default_layer="fc9")


def _write_distribution(site: Path, module: str, body: str, dist: str = "thirdparty") -> None:
    """A minimal installed distribution (module + dist-info with an entry point) in ``site``."""
    (site / f"{module}.py").write_text(textwrap.dedent(body))
    info = site / f"{dist}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[benchbase]\n{module} = {module}\n")


def _cli(
    args: list[str], site: Path, env_extra: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    import os

    env = {**os.environ, "PYTHONPATH": str(site), **(env_extra or {})}
    return subprocess.run(
        [sys.executable, "-m", "benchbase", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_broken_entry_point_is_reported_and_the_rest_keep_working(tmp_path):
    _write_distribution(
        tmp_path, "broken_plugin", "raise ImportError('missing dependency foo')\n", "broken"
    )
    proc = _cli(["list", "datasets"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "broken_plugin" in proc.stderr and "missing dependency foo" in proc.stderr
    assert "digits" in proc.stdout
    plugins = _cli(["plugins", "--json"], tmp_path)
    failed = json.loads(plugins.stdout)["failed"]
    assert failed[0]["name"] == "broken_plugin"


def test_entry_point_plugin_is_listed_and_can_be_blocked(tmp_path):
    _write_distribution(
        tmp_path,
        "extra_datasets",
        """
        from benchbase import Dataset, DatasetData, hookimpl

        @hookimpl
        def register_datasets(register):
            register(Dataset(name="third-party-set", needs_data_root=False,
                             load=lambda root, opts: DatasetData(classes=["a"], splits=[])))
    """,
    )
    proc = _cli(["list", "datasets"], tmp_path)
    assert "third-party-set" in proc.stdout.split()
    plugins = json.loads(_cli(["plugins", "--json"], tmp_path).stdout)["plugins"]
    row = next(p for p in plugins if p["name"] == "extra_datasets")
    assert "entry point" in row["origin"] and "thirdparty 1.0" in row["origin"]
    assert row["hooks"] == ["register_datasets"]
    blocked = _cli(["list", "datasets"], tmp_path, {"BENCHBASE_BLOCK_PLUGINS": "extra_datasets"})
    assert "third-party-set" not in blocked.stdout


def test_plugins_command_lists_hooks(capsys):
    assert main(["plugins"]) == 0
    out = capsys.readouterr().out
    assert "benchbase_timm" in out
    assert "register_backbones, resolve_backbone" in out
