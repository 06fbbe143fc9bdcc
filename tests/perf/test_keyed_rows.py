"""KeyedRows: feature rows keyed by image content, shared by every image list holding the image
(issue 18: Caltech-101's splits extract each shared image's views once)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from benchbase.extract.cache import FeatureCache
from benchbase.toolkit import KeyedRows

IDENTITY = {"backbone": "toy", "layer": "pool", "view": "full"}


def _row(key: str) -> np.ndarray:
    """A row that depends on the key only (what a forward pass of that image gives)."""
    return np.full(4, float(sum(map(ord, key))), dtype=np.float32)


class Counting:
    """A ``compute`` that records which keys it was asked for and commits their rows."""

    def __init__(self) -> None:
        self.asked: list[list[str]] = []

    def __call__(self, cache: FeatureCache, identity: dict, positions: list[int]) -> np.ndarray:
        keys = identity["keys"]
        assert len(keys) == len(positions)
        self.asked.append(list(keys))
        writer = cache.writer(cache.key(identity), identity)
        writer.write(0, np.stack([_row(k) for k in keys]), len(keys))
        return writer.commit()


def test_two_lists_sharing_images_compute_the_shared_ones_once(tmp_path: Path) -> None:
    compute = Counting()
    split_a = ["a", "b", "c", "d"]
    split_b = ["c", "e", "a", "f", "e"]  # shares a and c; e twice
    rows_a = KeyedRows(tmp_path, IDENTITY).rows(split_a, compute)
    rows_b = KeyedRows(tmp_path, IDENTITY).rows(split_b, compute)
    assert compute.asked == [split_a, ["e", "f"]]
    np.testing.assert_array_equal(rows_a, np.stack([_row(k) for k in split_a]))
    np.testing.assert_array_equal(rows_b, np.stack([_row(k) for k in split_b]))
    again = KeyedRows(tmp_path, IDENTITY).rows(split_b[::-1], compute)
    assert len(compute.asked) == 2  # all stored: nothing computed
    np.testing.assert_array_equal(again, rows_b[::-1])


def test_another_identity_shares_nothing(tmp_path: Path) -> None:
    compute = Counting()
    KeyedRows(tmp_path, IDENTITY).rows(["a", "b"], compute)
    KeyedRows(tmp_path, {**IDENTITY, "view": "tl"}).rows(["a", "b"], compute)
    assert compute.asked == [["a", "b"], ["a", "b"]]


def test_a_corrupt_chunk_is_recomputed(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    compute = Counting()
    store = KeyedRows(tmp_path, IDENTITY)
    store.rows(["a", "b"], compute)
    (chunk,) = store.cache.root.glob("*/*.npy")
    chunk.write_bytes(chunk.read_bytes()[:-4] + b"\0\0\0\1")  # a flipped row: checksum fails
    rows = store.rows(["b", "a"], compute)
    assert compute.asked == [["a", "b"], ["b", "a"]]
    np.testing.assert_array_equal(rows, np.stack([_row("b"), _row("a")]))
    assert "corrupt" in capsys.readouterr().err
