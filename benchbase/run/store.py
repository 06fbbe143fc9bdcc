"""The results store: SQLite under the output folder, one row per cell × metric.

Each finished cell is written in one transaction (its ``cells`` row, its metric rows and its
per-image scores), so an interrupted run loses at most the cell in flight. WAL mode lets
``benchbase results`` read while a run writes.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from benchbase.api.types import Result
from benchbase.errors import BenchbaseError, DiskFullError, is_disk_full
from benchbase.run import owner, storefile
from benchbase.run.storefile import (
    SCHEMA_VERSION,
    check_out_dir,
    check_schema,
    connect,
    lock_wait,
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS cells (
    fingerprint TEXT PRIMARY KEY,
    suite TEXT NOT NULL, dataset TEXT NOT NULL, split TEXT NOT NULL, backbone TEXT NOT NULL,
    layer TEXT NOT NULL, strategy TEXT NOT NULL,
    params TEXT NOT NULL, info TEXT NOT NULL, finished_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS results (
    fingerprint TEXT NOT NULL REFERENCES cells(fingerprint),
    suite TEXT NOT NULL, dataset TEXT NOT NULL, split TEXT NOT NULL, backbone TEXT NOT NULL,
    layer TEXT NOT NULL, strategy TEXT NOT NULL, metric TEXT NOT NULL, value REAL NOT NULL,
    PRIMARY KEY (fingerprint, layer, metric)
);
CREATE TABLE IF NOT EXISTS claims (
    fingerprint TEXT PRIMARY KEY, owner TEXT NOT NULL, host TEXT NOT NULL, pid INTEGER NOT NULL,
    expires REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS predictions (
    fingerprint TEXT NOT NULL, layer TEXT NOT NULL,
    scores BLOB NOT NULL, labels BLOB NOT NULL, shape TEXT NOT NULL, label_shape TEXT NOT NULL,
    PRIMARY KEY (fingerprint, layer)
);
"""

DB_NAME = "results.sqlite"

#: How long a claim outlives its last renewal. A live run renews its claims every third of
#: this (:class:`ClaimKeeper`), so only a run that died (or lost the shared file system) lets
#: them lapse; another host's run then takes them over after at most this long.
LEASE_SECONDS = owner.LEASE_SECONDS


class ClaimKeeper:
    """A daemon thread that keeps this process's claims alive while it computes their cells.

    It has its own SQLite connection (connections are not shared across threads) and renews
    every ``lease / 3`` seconds; a missed renewal (the database busy for long) only brings the
    expiry closer, the next one catches up.
    """

    def __init__(self, path: Path, token: str, lease_seconds: float) -> None:
        self.path, self.token, self.lease = path, token, lease_seconds
        self._stop = threading.Event()
        #: set after each renewal (tests wait on it instead of sleeping past a lease)
        self.renewed = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="benchbase-claims", daemon=True)
        self._thread.start()

    def _beat(self) -> None:
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            while not self._stop.wait(self.lease / 3):
                try:
                    conn.execute(
                        "UPDATE claims SET expires = ? WHERE owner = ?",
                        (time.time() + self.lease, self.token),
                    )
                except sqlite3.Error:
                    continue
                self.renewed.set()
        finally:
            conn.close()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


@contextmanager
def damaged_database(path: Path) -> Iterator[None]:
    """Turn SQLite's "malformed" / "not a database" errors into a message naming the file,
    and "database or disk is full" into :class:`DiskFullError` (the transaction is rolled
    back by SQLite: committed cells stay)."""
    try:
        yield
    except (sqlite3.OperationalError, OSError) as exc:
        if is_disk_full(exc):
            raise DiskFullError(path, exc) from None
        raise
    except sqlite3.DatabaseError as exc:
        if type(exc) is not sqlite3.DatabaseError:  # locked, constraint, ...: not damage
            raise
        raise BenchbaseError(
            f"the results database {path} is damaged ({exc}). Move it aside "
            f"(mv {path} {path}.damaged) and re-run to recompute its cells; `sqlite3 "
            f"{path}.damaged .recover` may salvage finished rows."
        ) from None


class Store:
    """Results of every run written under one output folder."""

    def __init__(self, out_dir: Path, create: bool = True) -> None:
        """``create=False`` (readers) needs an existing store and reads it through a
        read-only connection when its folder cannot be written (:attr:`readonly`)."""
        self.path = Path(out_dir) / DB_NAME
        if not create and not self.path.exists():
            raise BenchbaseError(
                f"no results at {self.path}; run a suite first (benchbase run --suite demo "
                f"--out {out_dir})"
            )
        self._keeper: ClaimKeeper | None = None
        with damaged_database(self.path):
            if create:
                check_out_dir(self.path.parent, DB_NAME)
            self.conn, self.readonly = connect(self.path, create)
            with lock_wait(self.path):
                self._set_up()

    def _set_up(self, wait_seconds: float | None = None) -> None:
        """WAL mode and the schema. Switching the journal mode ignores SQLite's busy timeout,
        so when two runs open a new database at the same moment one is told "locked": retry."""
        if self.readonly:
            check_schema(self.conn, self.path, SCHEMA)
            return
        deadline = time.monotonic() + (wait_seconds or storefile.BUSY_SECONDS)
        while True:
            try:
                self.conn.execute("PRAGMA journal_mode=WAL")
                self.conn.execute("PRAGMA synchronous=NORMAL")
                version = check_schema(self.conn, self.path, SCHEMA)
                self.conn.executescript(SCHEMA)
                if version < SCHEMA_VERSION:
                    self.conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def close(self) -> None:
        self._stop_keeper()
        self.conn.close()

    def _stop_keeper(self) -> None:
        if self._keeper is not None:
            self._keeper.stop()
            self._keeper = None

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with damaged_database(self.path), lock_wait(self.path):
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
                self.conn.execute("COMMIT")
            except BaseException:
                # SQLite has already rolled back after some errors (a full disk: SQLITE_FULL)
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                raise

    def _fetch(self, query: str, args: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        with damaged_database(self.path), lock_wait(self.path):
            return self.conn.execute(query, tuple(args)).fetchall()

    # --- claims: concurrent runs on one --out compute each cell once -----------------

    def claim(self, fingerprint: str, lease_seconds: float = LEASE_SECONDS) -> bool:
        """Claim a cell for this process; False when it is done or another live process holds it.

        A claim lapses when its lease expires or, on the same host, when its process is gone
        (a run killed with SIGKILL frees its cell for the next run at once). While this store
        is open, a :class:`ClaimKeeper` renews the lease of every claim it holds.
        """
        me = owner.me()
        with self.transaction() as db:
            if db.execute("SELECT 1 FROM cells WHERE fingerprint = ?", (fingerprint,)).fetchone():
                return False
            row = db.execute(
                "SELECT owner, expires FROM claims WHERE fingerprint = ?", (fingerprint,)
            ).fetchone()
            if row is not None and row[0] != me.token:
                # a PID is judged only on its own machine (boot + PID namespace); elsewhere,
                # or for a legacy host:pid owner, the lease alone tells
                state = owner.alive(owner.parse(row[0]))
                if row[1] > time.time() and state is not False:
                    return False
            db.execute(
                "INSERT OR REPLACE INTO claims VALUES (?, ?, ?, ?, ?)",
                (fingerprint, me.token, me.host, me.pid, time.time() + lease_seconds),
            )
        if self._keeper is None:
            self._keeper = ClaimKeeper(self.path, me.token, lease_seconds)
        return True

    def holders(self, fingerprints: list[str]) -> dict[str, tuple[str, float]]:
        """Claimed cells among ``fingerprints``: fingerprint → (its owner, described; lease end)."""
        rows = self._fetch("SELECT fingerprint, owner, expires FROM claims")
        wanted = set(fingerprints)
        return {
            fp: (owner.parse(token).describe(), float(expires))
            for fp, token, expires in rows
            if fp in wanted
        }

    def release_claims(self) -> None:
        """Drop every claim this process holds (on a clean stop or an interrupt)."""
        self._stop_keeper()
        with damaged_database(self.path):
            self.conn.execute("DELETE FROM claims WHERE owner = ?", (owner.me().token,))

    def done(self) -> set[str]:
        return {row[0] for row in self._fetch("SELECT fingerprint FROM cells")}

    def write_cell(
        self,
        fingerprint: str,
        cell: dict[str, Any],
        results: Iterable[Result],
        info: dict[str, Any],
        predictions: dict[str, tuple[np.ndarray, np.ndarray]],
    ) -> None:
        """Store one finished cell atomically (replacing an earlier copy of it)."""
        keys = ("suite", "dataset", "split", "backbone", "layer", "strategy")
        with self.transaction() as db:
            for table in ("results", "predictions", "cells", "claims"):
                db.execute(f"DELETE FROM {table} WHERE fingerprint = ?", (fingerprint,))
            db.execute(
                # in ms: two cells finished in one second still order as written
                "INSERT INTO cells VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, "
                "strftime('%Y-%m-%d %H:%M:%f', 'now'))",
                (
                    fingerprint,
                    *(cell[k] for k in keys),
                    json.dumps(cell.get("params", {})),
                    json.dumps(info, default=str),
                ),
            )
            db.executemany(
                "INSERT INTO results VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        fingerprint,
                        r.suite,
                        r.dataset,
                        r.split,
                        r.backbone,
                        r.layer,
                        r.strategy,
                        r.metric,
                        float(r.value),
                    )
                    for r in results
                ],
            )
            for layer, (scores, labels) in predictions.items():
                scores = np.ascontiguousarray(scores, dtype=np.float32)
                labels = np.ascontiguousarray(labels, dtype=np.int32)
                db.execute(
                    "INSERT INTO predictions VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        fingerprint,
                        layer,
                        scores.tobytes(),
                        labels.tobytes(),
                        json.dumps(scores.shape),
                        json.dumps(labels.shape),
                    ),
                )

    def cell_infos(self) -> dict[str, dict[str, Any]]:
        """Every stored cell's info (options, versions, host, sizes) by fingerprint, with its
        ``finished_at``."""
        return {
            fp: {**json.loads(info), "finished_at": finished}
            for fp, info, finished in self.conn.execute(
                "SELECT fingerprint, info, finished_at FROM cells ORDER BY rowid"
            )
        }

    def results(self, suite: str | None = None, dataset: str | None = None) -> list[dict[str, Any]]:
        """Every stored row (optionally one suite's or one dataset's) with its cell's provenance."""
        query = (
            "SELECT r.suite, r.dataset, r.split, r.backbone, r.layer, r.strategy, r.metric, "
            "r.value, r.fingerprint, c.params, c.info FROM results r "
            "JOIN cells c USING (fingerprint) WHERE 1=1"
        )
        args: list[str] = []
        if suite:
            query += " AND r.suite = ?"
            args.append(suite)
        if dataset:
            query += " AND r.dataset = ?"
            args.append(dataset)
        query += " ORDER BY r.suite, r.dataset, r.backbone, r.strategy, r.layer, r.split, r.metric"
        rows = []
        for (
            suite_,
            ds,
            split,
            bb,
            layer,
            strat,
            metric,
            value,
            fp,
            params,
            info,
        ) in self._fetch(query, args):
            info_d = json.loads(info)
            rows.append(
                {
                    "suite": suite_,
                    "dataset": ds,
                    "split": split,
                    "backbone": bb,
                    "layer": layer,
                    "strategy": strat,
                    "metric": metric,
                    "value": value,
                    "fingerprint": fp,
                    "params": json.loads(params),
                    "chosen": info_d.get("chosen", {}).get(layer, {}),
                    "weights": info_d.get("weights"),
                    "versions": info_d.get("versions", {}),
                    "warnings": info_d.get("warnings", []),  # library warnings while fitting
                }
            )
        return rows

    def predictions(self, fingerprint: str, layer: str) -> tuple[np.ndarray, np.ndarray]:
        rows = self._fetch(
            "SELECT scores, labels, shape, label_shape FROM predictions "
            "WHERE fingerprint = ? AND layer = ?",
            (fingerprint, layer),
        )
        if not rows:
            raise BenchbaseError(f"no stored predictions for cell {fingerprint} layer {layer!r}")
        scores, labels, shape, label_shape = rows[0]
        try:
            return (
                np.frombuffer(scores, dtype=np.float32).reshape(json.loads(shape)),
                np.frombuffer(labels, dtype=np.int32).reshape(json.loads(label_shape)),
            )
        except (TypeError, ValueError) as exc:  # bytes that do not match their shape
            raise BenchbaseError(
                f"the results database {self.path} holds damaged predictions for cell "
                f"{fingerprint} layer {layer!r} ({exc}). Move the database aside (mv {self.path} "
                f"{self.path}.damaged) and re-run to recompute, or leave out that cell."
            ) from None
