"""On-disk feature cache: one ``.npy`` per (backbone, weights, transform, layer, image list).

Entries are written to a temporary file and renamed into place; a JSON sidecar holding the
entry's identity, shape and SHA-256 is written last and is the commit marker. Reads verify
the checksum and return a memory-mapped array; an entry that fails the check is deleted and
reported as missing, so the caller recomputes it instead of trusting it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

from benchbase.types import stable_hash


def file_sha256(path: Path, chunk: int = 1 << 22) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old file or the new one, never half."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


class FeatureCache:
    """Features keyed by a hash of everything that determines them."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    @staticmethod
    def key(identity: dict[str, Any]) -> str:
        return stable_hash(identity, length=32)

    def _paths(self, key: str) -> tuple[Path, Path]:
        folder = self.root / key[:2]
        return folder / f"{key}.npy", folder / f"{key}.json"

    def get(self, key: str) -> np.ndarray | None:
        """The verified, memory-mapped entry, or None when missing or corrupt."""
        data, meta = self._paths(key)
        if not meta.exists() or not data.exists():
            return None
        try:
            info = json.loads(meta.read_text())
            if info.get("key") != key or file_sha256(data) != info.get("sha256"):
                raise ValueError("checksum mismatch")
            array = np.load(data, mmap_mode="r", allow_pickle=False)
            if list(array.shape) != info.get("shape"):
                raise ValueError("shape mismatch")
        except (ValueError, OSError, json.JSONDecodeError) as exc:
            print(f"benchbase: cache entry {data} is corrupt ({exc}); recomputing", file=sys.stderr)
            self.discard(key)
            return None
        return array

    def discard(self, key: str) -> None:
        for path in self._paths(key):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    def writer(self, key: str, identity: dict[str, Any]) -> CacheWriter:
        return CacheWriter(self, key, identity)


class CacheWriter:
    """Streams rows of one entry into a temporary memory-mapped file, then commits it."""

    def __init__(self, cache: FeatureCache, key: str, identity: dict[str, Any]) -> None:
        self.data_path, self.meta_path = cache._paths(key)
        self.key = key
        self.identity = identity
        self.tmp = self.data_path.with_name(f".{key}.{os.getpid()}.tmp.npy")
        self._array: np.ndarray | None = None

    def write(self, start: int, rows: np.ndarray, total: int) -> None:
        if self._array is None:
            self.tmp.parent.mkdir(parents=True, exist_ok=True)
            self._array = np.lib.format.open_memmap(
                self.tmp, mode="w+", dtype=rows.dtype, shape=(total, *rows.shape[1:])
            )
        self._array[start : start + len(rows)] = rows

    def commit(self) -> np.ndarray:
        if self._array is None:
            raise ValueError("nothing was written to this cache entry")
        self._array.flush()
        shape = list(self._array.shape)
        del self._array
        self._array = None
        with open(self.tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        digest = file_sha256(self.tmp)
        os.replace(self.tmp, self.data_path)
        meta = {"key": self.key, "sha256": digest, "shape": shape, "identity": self.identity}
        atomic_write_text(self.meta_path, json.dumps(meta, indent=1, default=str))
        return np.load(self.data_path, mmap_mode="r", allow_pickle=False)

    def abort(self) -> None:
        self._array = None
        with contextlib.suppress(FileNotFoundError):
            self.tmp.unlink()
