"""Feature cache: keys, atomic commits, integrity checks."""

from __future__ import annotations

import numpy as np

from benchbase.extract.cache import FeatureCache

IDENTITY = {
    "backbone": "b",
    "weights": "w",
    "transform": {"input_size": 32},
    "images": "abc",
    "layer": "pool",
}


def _put(cache: FeatureCache, identity: dict, rows: np.ndarray) -> str:
    key = cache.key(identity)
    writer = cache.writer(key, identity)
    writer.write(0, rows[:2], len(rows))
    writer.write(2, rows[2:], len(rows))
    writer.commit()
    return key


def test_key_depends_on_everything_that_determines_features():
    base = FeatureCache.key(IDENTITY)
    for field, value in [
        ("backbone", "c"),
        ("weights", "v"),
        ("transform", {"input_size": 64}),
        ("images", "abd"),
        ("layer", "stage1"),
    ]:
        assert FeatureCache.key({**IDENTITY, field: value}) != base
    assert FeatureCache.key(dict(reversed(list(IDENTITY.items())))) == base


def test_committed_entry_round_trips_memory_mapped(tmp_path):
    cache = FeatureCache(tmp_path)
    rows = np.arange(12, dtype=np.float32).reshape(4, 3)
    key = _put(cache, IDENTITY, rows)
    got = cache.get(key)
    assert isinstance(got, np.memmap)
    np.testing.assert_array_equal(got, rows)


def test_uncommitted_entry_is_invisible_and_aborted_temp_files_vanish(tmp_path):
    cache = FeatureCache(tmp_path)
    key = cache.key(IDENTITY)
    writer = cache.writer(key, IDENTITY)
    writer.write(0, np.ones((2, 3), np.float32), 4)
    assert cache.get(key) is None  # half-written: never visible
    writer.abort()
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


def test_altered_or_truncated_entry_is_detected_and_discarded(tmp_path, capsys):
    cache = FeatureCache(tmp_path)
    rows = np.random.default_rng(0).normal(size=(4, 3)).astype(np.float32)
    key = _put(cache, IDENTITY, rows)
    data = next(tmp_path.rglob("*.npy"))
    blob = bytearray(data.read_bytes())
    blob[-1] ^= 0xFF
    data.write_bytes(bytes(blob))
    assert cache.get(key) is None
    assert "corrupt" in capsys.readouterr().err
    assert not data.exists()  # recomputed next time, never trusted
    key = _put(cache, IDENTITY, rows)
    data.write_bytes(data.read_bytes()[:-8])
    assert cache.get(key) is None
