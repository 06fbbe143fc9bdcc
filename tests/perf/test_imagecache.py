"""Decode once: a second backbone with the same preprocessing reads the uint8 image cache."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import benchbase.extract.features as features
from benchbase.api.types import Sample
from benchbase.extract.backbones import resolve
from benchbase.extract.cache import FeatureCache
from benchbase.extract.imagecache import ImageCache
from benchbase.plugin.manager import Host
from benchbase.run.runner import Runner
from benchbase.run.suites import suite_from_toml

N = 24


@pytest.fixture(scope="module")
def host():
    return Host(entry_points=False)


@pytest.fixture
def counted(monkeypatch):
    """Digits samples and an ``open_image`` that counts its calls (no loader workers)."""
    from benchbase_digits import PREFIX, open_digit

    monkeypatch.setattr(features, "loader_workers", lambda: 0)
    calls = []

    def open_image(sample):
        calls.append(sample.key)
        return open_digit(sample)

    samples = [Sample(f"{PREFIX}{i}", i % 10) for i in range(N)]
    return samples, open_image, calls


def run_extract(host, spec_name, samples, open_image, root, layer="pool"):
    spec = resolve(host, spec_name)
    cache = FeatureCache(root / "features")
    writer = cache.writer(cache.key({"b": spec_name, "layer": layer}), {})
    features.extract(
        spec.backbone,
        spec.build(),
        [layer],
        samples,
        open_image,
        {layer: writer},
        torch.device("cpu"),
        input_size=32,
        batch_size=10,
        image_cache=ImageCache(root / "images"),
    )
    return writer.commit()


def test_second_backbone_with_same_preprocessing_does_not_decode(host, counted, tmp_path):
    samples, open_image, calls = counted
    first = run_extract(host, "timm/test_efficientnet:random", samples, open_image, tmp_path)
    assert len(calls) == N  # decoded once, stored
    assert len(list((tmp_path / "images").glob("*.npy"))) == 1
    second = run_extract(host, "timm/test_convnext:random", samples, open_image, tmp_path)
    assert len(calls) == N  # bicubic, crop 0.95, 32 px as before: no decode at all
    assert first.shape[0] == second.shape[0] == N

    # features from cached pixels equal features from freshly decoded pixels
    again = run_extract(host, "timm/test_convnext:random", samples, open_image, tmp_path / "fresh")
    np.testing.assert_array_equal(np.asarray(second), np.asarray(again))


def test_other_resize_settings_decode_again(host, counted, tmp_path):
    samples, open_image, calls = counted
    run_extract(host, "timm/test_efficientnet:random", samples, open_image, tmp_path)
    run_extract(host, "timm/test_resnet:random", samples, open_image, tmp_path)  # bilinear
    assert len(calls) == 2 * N
    assert len(list((tmp_path / "images").glob("*.npy"))) == 2


def test_an_interrupted_extraction_leaves_no_entry(host, counted, tmp_path):
    samples, open_image, calls = counted

    def failing(sample):
        if len(calls) >= N // 2:
            raise OSError("disk gone")
        return open_image(sample)

    with pytest.raises(Exception, match="disk gone"):
        run_extract(host, "timm/test_efficientnet:random", samples, failing, tmp_path)
    assert not list((tmp_path / "images").glob("*.npy"))
    assert not list((tmp_path / "images").glob(".*tmp*"))  # the partial file is gone


@pytest.mark.slow  # a full runner pass over two backbones: ~15-60 s on 2 loaded cores
def test_runner_shares_one_image_entry_between_backbones(host, tmp_path, suite_file):
    suite = suite_from_toml(
        suite_file(
            """
name = "share"
datasets = ["digits"]
backbones = ["timm/test_efficientnet:random", "timm/test_convnext:random"]
strategies = ["linear-svm"]
input_size = 32
[options.digits]
train_per_class = 5
splits = 1
[params.linear-svm]
C = [1.0]
"""
        )
    )
    summary = Runner(host, suite, tmp_path, device="cpu").run()
    assert summary.done == 2
    entries = list((tmp_path / "images").glob("*.npy"))
    assert len(entries) == 1 and np.load(entries[0], mmap_mode="r").dtype == np.uint8


@pytest.mark.parametrize("damage", ["flip", "truncate"])
def test_an_altered_or_truncated_entry_is_decoded_again(tmp_path, damage):
    cache = ImageCache(tmp_path)
    identity = ImageCache.identity(["a", "b"], 8, 1.0, "bilinear")
    writer = cache.writer(identity)
    writer.write(0, torch.arange(2 * 3 * 8 * 8, dtype=torch.uint8).reshape(2, 3, 8, 8))
    writer.commit()
    assert cache.get(identity) is not None
    data = next(tmp_path.glob("*.npy"))
    blob = bytearray(data.read_bytes())
    if damage == "flip":
        blob[-1] ^= 0xFF
    else:
        del blob[-16:]
    data.write_bytes(bytes(blob))
    assert cache.get(identity) is None  # never trusted: the images are decoded anew
    assert not data.exists()


def test_a_killed_writers_temp_file_is_swept_by_the_next_writer(tmp_path):
    import os
    import socket
    import subprocess
    import sys

    from benchbase.api.types import stable_hash

    cache = ImageCache(tmp_path)
    identity = ImageCache.identity(["a", "b"], 32, 0.875, "bilinear")
    key = stable_hash(identity, 32)
    tmp_path.mkdir(exist_ok=True)
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    ).stdout.strip()
    from benchbase.run.owner import Owner, machine_id

    host = socket.gethostname()
    dead_owner = Owner(host, int(gone), machine_id(), "r0").token
    dead = tmp_path / f".{key}.{dead_owner}.tmp.npy"  # what a kill -9 mid-extraction leaves
    live_owner = Owner(host, os.getppid(), machine_id(), "r1").token
    live = tmp_path / f".{key}.{live_owner}.tmp.npy"  # a run still writing
    other = tmp_path / f".{'0' * len(key)}.{dead_owner}.tmp.npy"  # another entry's
    for path in (dead, live, other):
        path.write_bytes(b"partial")
    cache.writer(identity).abort()
    assert not dead.exists()
    assert live.exists() and other.exists()
