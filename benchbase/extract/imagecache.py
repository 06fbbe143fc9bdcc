"""Decode once: a dataset's images decoded and resized into one uint8 file, shared by every
backbone with the same preprocessing and by every later run.

An entry is an ``.npy`` array (N, 3, S, S) of uint8 keyed by the image list (sample keys
and file stamps in order), the resize settings (size, crop fraction, interpolation) and the decode backend;
mean/std are not part of it because normalisation happens on the device. Like
:mod:`benchbase.extract.cache`, rows are streamed into a temporary memory-mapped file while the
first extraction runs, the file is renamed into place, then a JSON sidecar (identity,
shape, byte size, SHA-256) is written last as the commit marker. Reads verify the checksum
(one sequential pass: far cheaper than decoding the images again, and an entry is read only
when a backbone still has to see the images) and return a memory map, so RAM stays bounded
whatever the dataset's size; a truncated or altered entry is deleted and decoded anew.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from benchbase.api.types import stable_hash
from benchbase.data.identity import stamps
from benchbase.errors import DiskFullError, is_disk_full
from benchbase.extract.cache import (
    Heartbeat,
    atomic_write_text,
    file_sha256,
    preallocate,
    read_sidecar,
    sweep_dead_writers,
    writer_owner,
)
from benchbase.extract.resizing import resize_rule_id

if TYPE_CHECKING:
    import torch

#: Decode backend recorded in the key (PIL: the published protocols' pixels).
BACKEND = "pil"
VERSION = 3  # 2: entries carry a SHA-256; 3: keyed on content keys (file size and mtime)


class ImageCache:
    """uint8 image arrays keyed by a hash of everything that determines their pixels."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    @staticmethod
    def identity(
        keys: list[str],
        size: int,
        crop_pct: float,
        interpolation: str,
        backend: str = BACKEND,
        resize: str = "crop",
    ) -> dict[str, Any]:
        identity = {
            "images": stable_hash(keys, 32),
            "n_images": len(keys),
            "size": size,
            "crop_pct": crop_pct,
            "interpolation": interpolation,
            "backend": backend,
            "version": VERSION,
            **resize_rule_id(size, crop_pct),
        }
        if resize != "crop":  # absent for the default geometry: existing entries stay valid
            identity["geometry"] = resize
        return identity

    def _paths(self, key: str) -> tuple[Path, Path]:
        return self.root / f"{key}.npy", self.root / f"{key}.json"

    def get(self, identity: dict[str, Any]) -> CachedImages | None:
        """The committed entry as a dataset of uint8 tensors, or None."""
        key = stable_hash(identity, 32)
        data, meta = self._paths(key)
        if not meta.exists() or not data.exists():
            return None
        try:
            info = read_sidecar(meta, {"key": str, "bytes": int, "sha256": str, "shape": list})
            if info["key"] != key or data.stat().st_size != info["bytes"]:
                raise ValueError("size mismatch")
            if len(info["shape"]) != 4:
                raise ValueError("shape is not (N, 3, S, S)")
            if file_sha256(data) != info["sha256"]:
                raise ValueError("checksum mismatch")
        except (ValueError, OSError, json.JSONDecodeError):
            for path in (data, meta):
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
            return None
        return CachedImages(data, tuple(info["shape"]))

    def writer(self, identity: dict[str, Any]) -> ImageCacheWriter:
        key = stable_hash(identity, 32)
        sweep_dead_writers(self.root, key)  # a killed run's partial entry: up to GBs
        return ImageCacheWriter(self, key, identity)


class CachedImages:
    """Rows of a committed entry (a map-style dataset for ``DataLoader``); the memory map is
    opened lazily in each (worker) process, so nothing proportional to the dataset is pickled
    to DataLoader workers. Importing this module does not import torch (warm runs skip it)."""

    def __init__(self, path: Path, shape: tuple[int, ...]) -> None:
        self.path = Path(path)
        self.shape = shape
        self._array: np.ndarray | None = None

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, index: int) -> torch.Tensor:
        import torch

        if self._array is None:
            self._array = np.load(self.path, mmap_mode="r", allow_pickle=False)
        return torch.from_numpy(np.array(self._array[index]))

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self.path, "shape": self.shape, "_array": None}


class ImageCacheWriter:
    """Streams uint8 batches into a temporary memory-mapped ``.npy``, then renames it."""

    def __init__(self, cache: ImageCache, key: str, identity: dict[str, Any]) -> None:
        self.data_path, self.meta_path = cache._paths(key)
        self.key, self.identity = key, identity
        self.tmp = self.data_path.with_name(f".{key}.{writer_owner()}.tmp.npy")
        self._array: np.ndarray | None = None
        self._rows = 0
        self._beat = Heartbeat(self.tmp)

    def write(self, start: int, batch: torch.Tensor) -> None:
        rows = batch.cpu().numpy() if hasattr(batch, "numpy") else np.asarray(batch)
        with self._disk_full(self.tmp):
            if self._array is None:
                self.tmp.parent.mkdir(parents=True, exist_ok=True)
                total = int(self.identity["n_images"])
                self._array = np.lib.format.open_memmap(
                    self.tmp, mode="w+", dtype=np.uint8, shape=(total, *rows.shape[1:])
                )
                preallocate(self.tmp)  # a full disk: ENOSPC here, not SIGBUS in the loop
            self._array[start : start + len(rows)] = rows
            self._beat.beat()
        self._rows += len(rows)

    def commit(self) -> None:
        """Rename into place when every row was written; otherwise drop the partial file."""
        if self._array is None or self._rows != self._array.shape[0]:
            self.abort()
            return
        shape = list(self._array.shape)
        with self._disk_full(self.tmp):
            self._array.flush()
            self._array = None
            os.replace(self.tmp, self.data_path)
        meta = {
            "key": self.key,
            "shape": shape,
            "bytes": self.data_path.stat().st_size,
            "sha256": file_sha256(self.data_path),
            "identity": self.identity,
        }
        try:
            with self._disk_full(self.meta_path):
                atomic_write_text(self.meta_path, json.dumps(meta, indent=1))
        except DiskFullError:
            with contextlib.suppress(OSError):
                self.data_path.unlink()  # without its sidecar the entry is never trusted
            raise

    @contextlib.contextmanager
    def _disk_full(self, path: Path) -> Any:
        """A full disk or quota: drop the temporary file, raise :class:`DiskFullError`."""
        try:
            yield
        except OSError as exc:
            if not is_disk_full(exc):
                raise
            self.abort()
            raise DiskFullError(path, exc.strerror or exc) from exc

    def abort(self) -> None:
        self._array = None
        with contextlib.suppress(FileNotFoundError):
            self.tmp.unlink()


class _NoSink:
    def write(self, start: int, batch: torch.Tensor) -> None:
        pass

    def commit(self) -> None:
        pass

    def abort(self) -> None:
        pass


def cached_images(
    cache: ImageCache | None,
    images: Any,
    keys: list[str],
    size: int,
    crop_pct: float,
    interpolation: str,
    backend: str = BACKEND,
    resize: str = "crop",
) -> tuple[Any, ImageCacheWriter | _NoSink]:
    """``images`` served from the cache when an entry exists (and a sink that does nothing),
    else ``images`` itself and a writer for the batches that are decoded this time.

    The entry is keyed on each sample's key *and* its file's size and mtime
    (:mod:`benchbase.data.identity`), so an image replaced in place is decoded again.
    ``backend``: the decoder ("pil", or "nvjpeg" for :mod:`benchbase.extract.jpegdecode`)."""
    if cache is None:
        return images, _NoSink()
    samples = getattr(images, "samples", None)
    if samples is not None and len(samples) == len(keys):

        known = stamps(str(s.source) for s in samples)
        keys = [f"{k}#{known[str(s.source)]}" for k, s in zip(keys, samples, strict=True)]
    identity = ImageCache.identity(
        keys, size, crop_pct, interpolation, backend, resize=resize
    )
    hit = cache.get(identity)
    if hit is not None:
        return hit, _NoSink()
    return images, cache.writer(identity)
