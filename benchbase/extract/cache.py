"""On-disk feature cache: one ``.npy`` per (backbone, weights, transform, layer, image list).

Entries are written to a temporary file and renamed into place; a JSON sidecar holding the
entry's identity, shape and SHA-256 is written last and is the commit marker. Reads verify
the checksum and return a memory-mapped array; an entry that fails the check is deleted and
reported as missing, so the caller recomputes it instead of trusting it.

Temporary files carry the writer's owner token (:mod:`benchbase.run.owner`: host, pid,
machine, run id): a writer about to compute an entry first deletes the temporary files that
dead processes of this machine left for the same entry (a run killed with SIGKILL
mid-extraction), and other machines' once they are older than a lease. A file's blocks
are reserved before rows are written through its memory map, so a full disk is ``ENOSPC``
(never ``SIGBUS``); a write that fails removes its temporary file and raises a
:class:`BenchbaseError` naming the path (:class:`DiskFullError` for a full disk or quota).

Checkpoints: while an entry is written, its finished rows are saved every
``BENCHBASE_CHECKPOINT_SECONDS`` (default 30) into ``KEY.parts/`` as chunk files
``rows-START-END-SHA.npy``, each written to a temporary name and renamed, with the first 16 hex
digits of its SHA-256 in its name. An interrupted or killed pass resumes after the last chunk
of an unbroken run from row 0 (:meth:`CacheWriter.resume`); a chunk whose content does not
match its name is deleted, never read. The parts are removed when the entry commits.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchbase.api.types import stable_hash
from benchbase.errors import BenchbaseError, DiskFullError, is_disk_full
from benchbase.run import owner


def file_sha256(path: Path, chunk: int = 1 << 22) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def writer_owner() -> str:
    """This process, as written into temporary file names (:mod:`benchbase.run.owner`)."""
    return owner.me().token


def _stale(tmp: Path, key: str, lease_seconds: float) -> bool:
    """Whether temporary file ``tmp`` (``.KEY[.json].OWNER.tmp*``) was left by a writer that
    is gone: a process of this machine that no longer exists, or, for another host's or
    container's writer (whose PID means nothing here), one silent for longer than a lease
    (a live writer touches its file as it writes)."""
    token = tmp.name.removeprefix(f".{key}.").split(".tmp")[0].removeprefix("json.")
    state = owner.alive(owner.parse(token))
    if state is not None:
        return not state
    try:
        return time.time() - tmp.stat().st_mtime > lease_seconds
    except FileNotFoundError:
        return False


def sweep_dead_writers(folder: Path, key: str, lease_seconds: float = owner.LEASE_SECONDS) -> None:
    """Delete ``folder``'s temporary files of entry ``key`` whose writer is gone (see
    :func:`_stale`): killed runs of this machine at once, other machines' after the lease."""
    if not folder.is_dir():
        return
    for tmp in folder.glob(f".{key}.*.tmp*"):
        if _stale(tmp, key, lease_seconds):
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()


def write_failed(path: Path, exc: OSError) -> BenchbaseError:
    if is_disk_full(exc):
        return DiskFullError(path, exc.strerror or exc)
    return BenchbaseError(
        f"cannot write the feature cache file {path}: {exc.strerror or exc}. Nothing "
        "half-written was kept; make sure --out is a folder you can write to and re-run the "
        "same command to resume."
    )


def preallocate(path: Path) -> None:
    """Reserve the blocks of a freshly created (sparse) memory-mapped file before any row is
    written through the map: on a full disk this fails with ``ENOSPC`` here, where a store
    through the map would kill the process with ``SIGBUS``."""
    fd = os.open(path, os.O_RDWR)
    try:
        os.posix_fallocate(fd, 0, os.fstat(fd).st_size)
    except OSError as exc:
        if exc.errno not in (errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS):
            raise
    finally:
        os.close(fd)


class Heartbeat:
    """Touches a temporary file now and then, so that runs on other machines (which judge
    it by its age) see its writer alive."""

    def __init__(self, path: Path, every: float = 10.0) -> None:
        self.path, self.every, self._last = path, every, time.monotonic()

    def beat(self) -> None:
        now = time.monotonic()
        if now - self._last >= self.every:
            self._last = now
            with contextlib.suppress(OSError):
                os.utime(self.path)


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old file or the new one, never half."""
    tmp = path.with_name(f".{path.name}.{writer_owner()}.tmp")
    try:
        with open(tmp, "w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def read_sidecar(path: Path, fields: dict[str, type]) -> dict[str, Any]:
    """A JSON sidecar whose ``fields`` have the given types (``shape``: a list of ints).

    Valid JSON of another shape (a list, ``null``, a string shape) is as corrupt as
    garbled bytes: raises ``ValueError`` for the caller to discard the entry."""
    info = json.loads(path.read_text())
    if not isinstance(info, dict):
        raise ValueError(f"the sidecar holds a JSON {type(info).__name__}, not an object")
    for name, kind in fields.items():
        value = info.get(name)
        ok = isinstance(value, kind) and not isinstance(value, bool)
        if ok and name == "shape":
            ok = all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in value)
        if not ok:
            raise ValueError(f"the sidecar's {name!r} is {value!r}, not a {kind.__name__}")
    return info


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
            info = read_sidecar(meta, {"key": str, "sha256": str, "shape": list})
            if info["key"] != key or file_sha256(data) != info["sha256"]:
                raise ValueError("checksum mismatch")
            array = np.load(data, mmap_mode="r", allow_pickle=False)
            if list(array.shape) != info["shape"]:
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
        self.sweep(key)
        return CacheWriter(self, key, identity)

    def sweep(self, key: str) -> None:
        """Delete temporary files of ``key`` whose writers are gone (:func:`sweep_dead_writers`)."""
        sweep_dead_writers(self._paths(key)[0].parent, key)


CHECKPOINT_ENV = "BENCHBASE_CHECKPOINT_SECONDS"
_CHUNK = re.compile(r"rows-(\d+)-(\d+)-([0-9a-f]{16})\.npy")


def checkpoint_seconds() -> float:
    """Seconds of extraction between two checkpoints (``BENCHBASE_CHECKPOINT_SECONDS``)."""
    value = os.environ.get(CHECKPOINT_ENV, "30")
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not seconds >= 0:
        raise BenchbaseError(f"{CHECKPOINT_ENV}={value!r}: use a number of seconds >= 0, e.g. 30")
    return seconds


class CacheWriter:
    """Streams rows of one entry into a temporary memory-mapped file, then commits it;
    checkpoints finished rows in chunks on the way (see the module docstring)."""

    def __init__(self, cache: FeatureCache, key: str, identity: dict[str, Any]) -> None:
        self.data_path, self.meta_path = cache._paths(key)
        self.key = key
        self.identity = identity
        self.tmp = self.data_path.with_name(f".{key}.{writer_owner()}.tmp.npy")
        self.parts = self.data_path.with_name(f"{key}.parts")
        self._array: np.ndarray | None = None
        self._beat = Heartbeat(self.tmp)
        self._filled = 0  # rows 0.._filled are written (an unbroken run from row 0)
        self._saved = 0  # rows 0.._saved are in chunk files
        self._last_save = time.monotonic()
        self._interval = checkpoint_seconds()

    def _open(self, total: int, dtype: Any, row_shape: tuple[int, ...]) -> np.ndarray:
        if self._array is None:
            self.tmp.parent.mkdir(parents=True, exist_ok=True)
            self._array = np.lib.format.open_memmap(
                self.tmp, mode="w+", dtype=dtype, shape=(total, *row_shape)
            )
            preallocate(self.tmp)  # a full disk: ENOSPC here, not SIGBUS in the loop
        return self._array

    def write(self, start: int, rows: np.ndarray, total: int) -> None:
        try:
            array = self._open(total, rows.dtype, rows.shape[1:])
            array[start : start + len(rows)] = rows
            if start <= self._filled:
                self._filled = max(self._filled, start + len(rows))
            if time.monotonic() - self._last_save >= self._interval:
                self._checkpoint()
            self._beat.beat()
        except OSError as exc:
            self.abort()
            raise write_failed(self.tmp, exc) from exc

    def _checkpoint(self) -> None:
        """Save rows ``_saved.._filled`` as one chunk file (temporary name, then renamed)."""
        assert self._array is not None
        if self._filled <= self._saved:
            return
        self.parts.mkdir(parents=True, exist_ok=True)
        tmp = self.parts / f".chunk.{writer_owner()}.tmp.npy"
        try:
            np.save(tmp, np.ascontiguousarray(self._array[self._saved : self._filled]))
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
            digest = file_sha256(tmp)[:16]
            os.replace(tmp, self.parts / f"rows-{self._saved:09d}-{self._filled:09d}-{digest}.npy")
        except OSError:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        self._saved = self._filled
        self._last_save = time.monotonic()

    def resume(self, total: int) -> int:
        """Load the verified chunks of an earlier, unfinished pass into this entry; returns how
        many rows (from row 0) need no extraction. A chunk that fails its check is deleted."""
        if not self.parts.is_dir():
            return 0
        chunks = {}
        for path in self.parts.iterdir():
            m = _CHUNK.fullmatch(path.name)
            if m:
                chunks.setdefault(int(m.group(1)), []).append((int(m.group(2)), path, m.group(3)))
        row = 0
        while row in chunks and row < total:
            end, path, digest = max(chunks.pop(row))  # the longest chunk starting here
            try:
                ok = file_sha256(path)[:16] == digest
                block = np.load(path, allow_pickle=False) if ok else None
            except (OSError, ValueError):
                block = None
            if block is None or len(block) != end - row or end > total:
                with contextlib.suppress(OSError):
                    path.unlink()
                print(
                    f"benchbase: checkpoint {path} is corrupt; recomputing from it", file=sys.stderr
                )
                break
            try:
                self._open(total, block.dtype, block.shape[1:])[row:end] = block
            except OSError as exc:
                self.abort()
                raise write_failed(self.tmp, exc) from exc
            row = end
        self._filled = self._saved = row
        return row

    def commit(self) -> np.ndarray:
        if self._array is None:
            raise ValueError("nothing was written to this cache entry")
        try:
            self._array.flush()
            shape = list(self._array.shape)
            del self._array
            self._array = None
            with open(self.tmp, "rb+") as fh:
                os.fsync(fh.fileno())
            digest = file_sha256(self.tmp)
            os.replace(self.tmp, self.data_path)
        except OSError as exc:
            self.abort()
            raise write_failed(self.data_path, exc) from exc
        meta = {"key": self.key, "sha256": digest, "shape": shape, "identity": self.identity}
        try:
            atomic_write_text(self.meta_path, json.dumps(meta, indent=1, default=str))
        except OSError as exc:
            with contextlib.suppress(OSError):
                self.data_path.unlink()  # without its sidecar the entry is never trusted
            raise write_failed(self.meta_path, exc) from exc
        shutil.rmtree(self.parts, ignore_errors=True)  # the entry supersedes its checkpoints
        return np.load(self.data_path, mmap_mode="r", allow_pickle=False)

    def abort(self) -> None:
        """Drop the temporary file; the checkpoints stay for the next pass to resume from."""
        self._array = None
        with contextlib.suppress(FileNotFoundError):
            self.tmp.unlink()
