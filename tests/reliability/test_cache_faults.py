"""Feature-cache entries that a crash or a person left wrong are never trusted."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from benchbase.extract.cache import FeatureCache

IDENTITY = {"backbone": "b", "weights": "w", "layer": "pool", "images": "abc"}


def _commit(cache: FeatureCache, identity: dict, rows: np.ndarray) -> str:
    key = cache.key(identity)
    writer = cache.writer(key, identity)
    writer.write(0, rows, len(rows))
    writer.commit()
    return key


def test_an_entry_without_its_sidecar_is_invisible_then_rewritten(tmp_path):
    # a kill between the data rename and the sidecar write leaves exactly this
    cache = FeatureCache(tmp_path)
    rows = np.arange(6, dtype=np.float32).reshape(3, 2)
    key = _commit(cache, IDENTITY, rows)
    next(tmp_path.rglob("*.json")).unlink()
    assert cache.get(key) is None
    _commit(cache, IDENTITY, rows)
    np.testing.assert_array_equal(cache.get(key), rows)


def test_a_garbled_or_foreign_sidecar_is_discarded(tmp_path, capsys):
    cache = FeatureCache(tmp_path)
    key = _commit(cache, IDENTITY, np.ones((2, 2), np.float32))
    meta = next(tmp_path.rglob("*.json"))
    meta.write_text("{not json")
    assert cache.get(key) is None
    assert "corrupt" in capsys.readouterr().err and not meta.exists()

    other = _commit(cache, {**IDENTITY, "layer": "stage3"}, np.zeros((2, 2), np.float32))
    key = _commit(cache, IDENTITY, np.ones((2, 2), np.float32))
    mine = cache._paths(key)[1]
    mine.write_text(cache._paths(other)[1].read_text())  # a sidecar copied from another entry
    assert cache.get(key) is None


def test_a_sidecar_that_lies_about_the_shape_is_discarded(tmp_path):
    cache = FeatureCache(tmp_path)
    key = _commit(cache, IDENTITY, np.ones((4, 2), np.float32))
    meta = cache._paths(key)[1]
    info = json.loads(meta.read_text())
    meta.write_text(json.dumps({**info, "shape": [2, 4]}))
    assert cache.get(key) is None


def test_temp_files_of_dead_writers_are_swept_and_live_ones_kept(tmp_path):
    from benchbase.run.owner import Owner, machine_id

    cache = FeatureCache(tmp_path)
    key = cache.key(IDENTITY)
    folder = cache._paths(key)[0].parent
    folder.mkdir(parents=True)
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    host, pid = socket.gethostname(), int(dead.stdout.strip())
    gone = Owner(host, pid, machine_id(), "deadrun").token  # a finished process of this machine
    left = [folder / f".{key}.{gone}.tmp.npy", folder / f".{key}.json.{gone}.tmp"]
    live = folder / f".{key}.{Owner(host, os.getppid(), machine_id(), 'r1').token}.tmp.npy"
    # another container on this host (same hostname, same pid): its pid means nothing here
    remote = folder / f".{key}.{Owner(host, pid, 'c0ffee00', 'r2').token}.tmp.npy"
    legacy = folder / f".{key}.{host}-{pid}.tmp.npy"  # an older version's name: lease only
    abandoned = folder / f".{key}.{Owner('other-host', 1, 'deadbeef', 'r3').token}.tmp.npy"
    for path in (*left, live, remote, legacy, abandoned):
        path.write_bytes(b"partial")
    old = time.time() - 301  # untouched for longer than the lease: its writer is gone
    os.utime(abandoned, (old, old))
    cache.writer(key, IDENTITY).abort()
    assert [p.exists() for p in left] == [False, False]
    assert live.exists() and remote.exists() and legacy.exists()
    assert not abandoned.exists()


WRONG_TYPES = {
    "list": lambda info: [info],
    "null": lambda info: None,
    "string": lambda info: "ok",
    "key-number": lambda info: {**info, "key": 7},
    "shape-string": lambda info: {**info, "shape": "2,2"},
    "shape-bools": lambda info: {**info, "shape": [True, 2]},
    "sha-missing": lambda info: {k: v for k, v in info.items() if k != "sha256"},
}


@pytest.mark.parametrize("wrong", sorted(WRONG_TYPES))
def test_valid_json_of_the_wrong_type_in_a_cache_sidecar_is_discarded(tmp_path, capsys, wrong):
    import torch

    from benchbase.extract.imagecache import ImageCache

    cache = FeatureCache(tmp_path / "features")
    key = _commit(cache, IDENTITY, np.ones((2, 2), np.float32))
    meta = cache._paths(key)[1]
    meta.write_text(json.dumps(WRONG_TYPES[wrong](json.loads(meta.read_text()))))
    assert cache.get(key) is None
    assert "corrupt" in capsys.readouterr().err and not meta.exists()

    images = ImageCache(tmp_path / "images")
    identity = ImageCache.identity(["a", "b"], 8, 1.0, "bilinear")
    writer = images.writer(identity)
    writer.write(0, torch.zeros((2, 3, 8, 8), dtype=torch.uint8))
    writer.commit()
    meta = next((tmp_path / "images").glob("*.json"))
    meta.write_text(json.dumps(WRONG_TYPES[wrong](json.loads(meta.read_text()))))
    assert images.get(identity) is None and not meta.exists()


@pytest.mark.parametrize("content", ["[1, 2]", "null", '"x"', '{"a.jpg": 3}'])
def test_an_image_check_cache_of_the_wrong_type_only_costs_a_re_check(tmp_path, content):
    from benchbase.api.types import Sample
    from benchbase.data.imagecheck import find_bad_images
    from benchbase.testing import save_image, synthetic_image

    image = tmp_path / "a.jpg"
    save_image(synthetic_image(0, 2, seed=0), image)
    cache = tmp_path / "ok.json"
    cache.write_text(content.replace("a.jpg", str(image)))
    assert find_bad_images([Sample(str(image), 0)], cache_file=cache) == []
    saved = json.loads(cache.read_text())  # rewritten as path → "size:mtime"
    assert isinstance(saved, dict) and isinstance(saved[str(image)], str)


@pytest.mark.parametrize("content", ["[1, 2]", "null", '"x"', "7"])
def test_other_json_caches_of_the_wrong_type_are_ignored(tmp_path, monkeypatch, content):
    from benchbase.leaderboard.cached_features import sidecars
    from benchbase.toolkit.libcache import LibraryFacts

    monkeypatch.setenv("BENCHBASE_CACHE", str(tmp_path / "user"))
    facts = LibraryFacts("numpy", lambda name: {"name": name})
    facts.path.parent.mkdir(parents=True)
    facts.path.write_text(content)
    assert facts.get("x") == {"name": "x"}  # recomputed, and the file rewritten as a table
    assert json.loads(facts.path.read_text()) == {"x": {"name": "x"}}

    cache = FeatureCache(tmp_path / "features")
    key = _commit(cache, IDENTITY, np.ones((2, 2), np.float32))
    good = [m["key"] for m in sidecars(tmp_path / "features")]
    bad = cache._paths(cache.key({**IDENTITY, "layer": "other"}))[1]
    bad.parent.mkdir(exist_ok=True)
    bad.write_text(content)
    assert [m["key"] for m in sidecars(tmp_path / "features")] == good == [key]


def test_library_facts_keep_each_value_in_its_own_order_across_processes(tmp_path, monkeypatch):
    """Taps are learnt in depth order; a later process reads them back in that order."""
    from benchbase.toolkit.libcache import LibraryFacts

    monkeypatch.setenv("BENCHBASE_CACHE", str(tmp_path / "user"))
    taps = {"stage1": "a", "stage2": "b", "pool": "c"}
    assert list(LibraryFacts("numpy", lambda name: dict(taps), kind="taps").get("m")) == list(taps)
    fresh = LibraryFacts("numpy", lambda name: {}, kind="taps")  # as a new process: from disk
    assert list(fresh.get("m")) == ["stage1", "stage2", "pool"]
