"""The results store: SQLite under the output folder, one row per cell × metric (the
leases that let concurrent runs share it are :mod:`benchbase.run.claims`).

Each finished cell is written in one transaction (its ``cells`` row, its metric rows and its
per-image scores), so an interrupted run loses at most the cell in flight. WAL mode lets
``benchbase results`` read while a run writes.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from benchbase.api.types import Result
from benchbase.errors import BenchbaseError
from benchbase.run import storefile
from benchbase.run.claims import Claims
from benchbase.run.storefile import (
    SCHEMA_VERSION,
    check_out_dir,
    check_schema,
    connect,
    damaged_database,
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
        with damaged_database(self.path):
            if create:
                check_out_dir(self.path.parent, DB_NAME)
            self.conn, self.readonly = connect(self.path, create)
            with lock_wait(self.path):
                self._set_up()
        #: this process's leases on cells (concurrent runs on one --out compute each once)
        self.claims = Claims(self)

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
        self.claims.stop_renewing()
        self.conn.close()

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

    def fetch(self, query: str, args: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        with damaged_database(self.path), lock_wait(self.path):
            return self.conn.execute(query, tuple(args)).fetchall()

    def done(self) -> set[str]:
        return {row[0] for row in self.fetch("SELECT fingerprint FROM cells")}

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
        ) in self.fetch(query, args):
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
        rows = self.fetch(
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
