"""Full disks for real: a small tmpfs as ``--out`` (when the tests run as root), and
SQLite's "database or disk is full" simulated. Every writer names the disk, keeps what is
committed and leaves no temporary file."""

from __future__ import annotations

import errno
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from relhelpers import run_cmd

from benchbase.api.types import Result
from benchbase.errors import DiskFullError
from benchbase.run.store import Store

MESSAGE = "no space left on device writing"


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs (a real file system that fills up), unmounted afterwards."""
    import os

    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root; the simulated variants cover the rest")
    if shutil.which("mount") is None:
        pytest.skip("no mount command")
    mount = Path(tempfile.mkdtemp(prefix="bb-tmpfs-", dir=tmp_path))
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(folder: Path) -> None:
    """Write a filler file until the file system is full (unbuffered: nothing left to flush)."""
    import os

    fd = os.open(folder / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError as exc:
        assert exc.errno == errno.ENOSPC
    finally:
        os.close(fd)


def _suite(tmp_path: Path, per_class: int) -> Path:
    suite = tmp_path / "big.toml"
    suite.write_text(
        'name = "rel"\ndatasets = ["rel-tiny"]\nbackbones = ["rel-net:random"]\n'
        'strategies = ["rel-centroid"]\n'
        f"[options.rel-tiny]\nsplits = 1\nper_class = {per_class}\n"
    )
    return suite


def test_a_decoded_image_cache_larger_than_the_disk_is_enospc_not_sigbus(tmpfs, rel_env, tmp_path):
    # 4 × 400 images of 3 × 32 × 32 bytes: 4.9 MB of decoded images on a 1 MiB disk
    out = tmpfs / "out"
    done = subprocess.run(
        run_cmd(_suite(tmp_path, 400), out),
        env=rel_env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2, (done.returncode, done.stderr)  # was -7 (SIGBUS), no message
    assert f"{MESSAGE} {out / 'images'}" in done.stderr and "Traceback" not in done.stderr
    assert not list(out.rglob("*.tmp*"))
    assert [p for p in (out / "images").rglob("*") if p.is_file()] == []
    assert Store(out).done() == set()  # the store is intact, and holds no cell


def test_a_full_disk_at_the_image_check_cache_and_the_store_set_up_is_named(
    tmpfs, rel_env, tmp_path
):
    out = tmpfs / "out"
    out.mkdir()
    _fill(tmpfs)
    done = subprocess.run(
        run_cmd(_suite(tmp_path, 5), out), env=rel_env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 2 and MESSAGE in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and not list(out.rglob("*.tmp*"))
    with pytest.raises(DiskFullError, match=f"{MESSAGE} {out / 'results.sqlite'}"):
        Store(out)


def _write(store: Store, fp: str, n: int) -> None:
    scores = np.random.default_rng(0).random((n, 4), dtype=np.float32)
    store.write_cell(
        fp,
        {"suite": "s", "dataset": "d", "split": fp, "backbone": "b", "layer": "l", "strategy": "x"},
        [Result("s", "d", fp, "b", "l", "x", "top1", 0.5, fp)],
        {},
        {"l": (scores, np.zeros(n, dtype=np.int32))},
    )


def test_a_cell_write_on_a_full_disk_keeps_every_committed_cell(tmpfs):
    store = Store(tmpfs)
    _write(store, "kept", 10)
    _fill(tmpfs)
    with pytest.raises(DiskFullError, match=f"{MESSAGE} {tmpfs / 'results.sqlite'}"):
        _write(store, "big", 200_000)  # 3 MB of scores
    store.close()
    (tmpfs / "filler").unlink()
    again = Store(tmpfs)
    assert again.done() == {"kept"}
    assert again.conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    again.close()


def test_sqlite_disk_full_is_one_clear_message_simulated(tmp_path, monkeypatch):
    store = Store(tmp_path)
    _write(store, "kept", 3)

    class FullConnection:
        def __init__(self, real: sqlite3.Connection) -> None:
            self.real = real

        def execute(self, sql: str, *args: object) -> object:
            if sql.startswith("INSERT"):
                raise sqlite3.OperationalError("database or disk is full")
            return self.real.execute(sql, *args)

        def executemany(self, sql: str, *args: object) -> object:
            raise sqlite3.OperationalError("database or disk is full")

        def __getattr__(self, name: str) -> object:
            return getattr(self.real, name)

    monkeypatch.setattr(store, "conn", FullConnection(store.conn))
    with pytest.raises(DiskFullError, match="Nothing half-written was kept"):
        _write(store, "lost", 3)
    monkeypatch.undo()
    assert store.done() == {"kept"}
    store.close()
