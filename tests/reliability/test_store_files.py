"""The results store as a file: its schema version, a lock held past the wait, damaged
predictions, read-only folders and an odd ``--out``."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from test_store_integrity import CELL, _fill

from benchbase.cli import main
from benchbase.errors import BenchbaseError
from benchbase.run import storefile
from benchbase.run.store import Store


def _user_version(db: Path) -> int:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("PRAGMA user_version").fetchone()[0]
    finally:
        conn.close()


def test_a_store_carries_its_schema_version_and_a_pre_version_store_is_stamped(tmp_path):
    _fill(tmp_path, 2).close()
    db = tmp_path / "results.sqlite"
    assert _user_version(db) == storefile.SCHEMA_VERSION
    sqlite3.connect(db).execute("PRAGMA user_version = 0").connection.close()
    store = Store(tmp_path)  # a store from before versions: same tables, read as they are
    assert store.done() == {"fp0", "fp1"}
    store.close()
    assert _user_version(db) == storefile.SCHEMA_VERSION


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda c: c.execute("PRAGMA user_version = 99"), "has schema version 99, newer than"),
        (lambda c: c.execute("ALTER TABLE cells DROP COLUMN info"), "table 'cells' lacks info"),
    ],
    ids=["newer", "other-columns"],
)
def test_a_store_of_another_schema_is_named_with_the_fix(tmp_path, capsys, make, message):
    _fill(tmp_path, 1).close()
    db = tmp_path / "results.sqlite"
    conn = sqlite3.connect(db)
    make(conn)
    conn.commit()
    conn.close()
    for args in (
        ["results", "--out", str(tmp_path), "--json"],
        ["leaderboard", "--out", str(tmp_path)],
    ):
        assert main(args) == 2
        err = capsys.readouterr().err
        assert message in err and str(db) in err and "Traceback" not in err
    with pytest.raises(BenchbaseError, match=message):
        Store(tmp_path)


def test_another_programs_database_is_not_taken_for_a_store(tmp_path):
    db = tmp_path / "results.sqlite"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE photos (id INTEGER, path TEXT)")
    conn.commit()
    conn.close()
    with pytest.raises(BenchbaseError, match=r"its tables \(photos\) are not a results store's"):
        Store(tmp_path)
    conn = sqlite3.connect(db)  # nothing was added to it
    assert conn.execute("SELECT name FROM sqlite_master").fetchall() == [("photos",)]
    conn.close()


def test_a_store_locked_past_the_wait_is_named_not_a_traceback(tmp_path, monkeypatch):
    _fill(tmp_path, 1).close()
    monkeypatch.setattr(storefile, "BUSY_SECONDS", 0.2)
    holder = sqlite3.connect(tmp_path / "results.sqlite", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        store = Store(tmp_path)
        with pytest.raises(storefile.StoreLockedError, match="stayed locked by another process"):
            store.write_cell("fp9", CELL, [], {}, {})
        with pytest.raises(BenchbaseError, match=str(tmp_path / "results.sqlite")):
            store.claims.claim("fp9")
        store.close()
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def _damage_table(db: Path, table: str) -> None:
    conn = sqlite3.connect(db)
    page = conn.execute("PRAGMA page_size").fetchone()[0]
    root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)).fetchone()
    conn.close()
    with open(db, "r+b") as fh:
        fh.seek((root[0] - 1) * page)
        fh.write(b"\xff" * 16)  # not a b-tree page header any more


def test_a_damaged_predictions_page_or_blob_is_named(tmp_path, capsys):
    _fill(tmp_path, 3).close()
    conn = sqlite3.connect(tmp_path / "results.sqlite")
    conn.execute("UPDATE predictions SET shape = '[7, 7]' WHERE fingerprint = 'fp1'")
    conn.commit()
    conn.close()
    store = Store(tmp_path, create=False)
    assert store.predictions("fp0", "pool")[0].shape == (50, 4)
    with pytest.raises(BenchbaseError, match="holds damaged predictions for cell fp1"):
        store.predictions("fp1", "pool")
    store.close()
    _damage_table(tmp_path / "results.sqlite", "predictions")
    store = Store(tmp_path, create=False)
    assert len(store.results()) == 3  # the other tables still read
    with pytest.raises(BenchbaseError, match="is damaged"):
        store.predictions("fp0", "pool")
    store.close()


# --- read-only folders and odd --out --------------------------------------------------


@pytest.fixture
def read_only() -> Iterator[Callable[[Path], Path]]:
    """Make a folder read-only for this process: ``chmod`` for a normal user; as root
    (whom chmod does not stop) a copy on a tmpfs remounted read-only."""
    mounts: list[Path] = []
    modes: list[Path] = []

    def make(folder: Path) -> Path:
        if os.geteuid() != 0:
            for p in [folder, *folder.rglob("*")]:
                p.chmod(p.stat().st_mode & ~0o222)
                modes.append(p)
            return folder
        mnt = folder.with_name(folder.name + "-ro")
        mnt.mkdir()
        if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mnt)]).returncode:
            pytest.skip("running as root without the right to mount a tmpfs")
        mounts.append(mnt)
        for p in folder.iterdir():
            shutil.copy2(p, mnt / p.name)
        subprocess.run(["mount", "-o", "remount,ro", str(mnt)], check=True)
        return mnt

    yield make
    for mnt in mounts:
        subprocess.run(["umount", str(mnt)], check=False)
    for p in modes:
        p.chmod(p.stat().st_mode | 0o200)


def test_results_leaderboard_and_compare_read_a_store_on_a_read_only_folder(
    tmp_path, read_only, capsys
):
    _fill(tmp_path / "runs", 2).close()
    assert not (tmp_path / "runs" / "results.sqlite-wal").exists()  # a finished store
    ro = read_only(tmp_path / "runs")
    with pytest.raises(OSError):
        (ro / "probe").write_text("x")
    capsys.readouterr()
    assert main(["results", "--out", str(ro), "--json"]) == 0
    assert '"fp1"' in capsys.readouterr().out
    assert main(["leaderboard", "--out", str(ro), "--no-ci"]) == 0
    assert main(["compare", "--out", str(ro)]) == 0
    assert "fp0:pool" in capsys.readouterr().out
    store = Store(ro, create=False)
    assert store.readonly and store.predictions("fp1", "pool")[0].shape == (50, 4)
    store.close()
    assert sorted(p.name for p in ro.iterdir()) == ["results.sqlite"]  # nothing written


def test_run_with_an_out_that_is_a_file_or_read_only_is_refused_before_any_work(
    tmp_path, read_only, capsys
):
    suite = ["run", "--suite", "demo", "--device", "cpu"]
    (tmp_path / "afile").write_text("x")
    assert main([*suite, "--out", str(tmp_path / "afile")]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err
    assert main([*suite, "--out", str(tmp_path / "afile" / "sub")]) == 2
    assert "cannot create --out" in capsys.readouterr().err
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "keep.txt").write_text("x")
    ro = read_only(tmp_path / "runs")
    assert main([*suite, "--out", str(ro)]) == 2
    err = capsys.readouterr().err
    assert "cannot be written" in err and "Traceback" not in err
    with pytest.raises(BenchbaseError, match="cannot be written"):
        Store(ro)


def test_a_read_only_store_with_an_unreplayable_log_says_to_copy_it(tmp_path, read_only, capsys):
    live = _fill(tmp_path / "live", 2)  # still open: its last cells are only in the WAL
    (tmp_path / "runs").mkdir()
    for name in ("results.sqlite", "results.sqlite-wal"):  # no -shm: a copy, or a crash
        shutil.copy2(tmp_path / "live" / name, tmp_path / "runs" / name)
    live.close()
    ro = read_only(tmp_path / "runs")
    capsys.readouterr()
    assert main(["results", "--out", str(ro), "--json"]) == 2
    err = capsys.readouterr().err
    assert "still has a write-ahead log" in err and "Copy the folder" in err
    assert "Traceback" not in err
