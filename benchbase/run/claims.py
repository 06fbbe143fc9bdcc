"""Claims: leases on cells in the store's ``claims`` table, so that concurrent runs on one
``--out`` (``--jobs``, SLURM arrays, two terminals) compute each cell once."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from benchbase.run import owner
from benchbase.run.storefile import damaged_database

if TYPE_CHECKING:
    from benchbase.run.store import Store

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


class Claims:
    """This process's claims on the cells of one :class:`~benchbase.run.store.Store`."""

    def __init__(self, store: Store) -> None:
        self.store = store
        #: renews this process's leases once it holds one
        self.keeper: ClaimKeeper | None = None

    def stop_renewing(self) -> None:
        if self.keeper is not None:
            self.keeper.stop()
            self.keeper = None

    def claim(self, fingerprint: str, lease_seconds: float = LEASE_SECONDS) -> bool:
        """Claim a cell for this process; False when it is done or another live process holds it.

        A claim lapses when its lease expires or, on the same host, when its process is gone
        (a run killed with SIGKILL frees its cell for the next run at once). While the store
        is open, a :class:`ClaimKeeper` renews the lease of every claim it holds.
        """
        me = owner.me()
        with self.store.transaction() as db:
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
        if self.keeper is None:
            self.keeper = ClaimKeeper(self.store.path, me.token, lease_seconds)
        return True

    def holders(self, fingerprints: list[str]) -> dict[str, tuple[str, float]]:
        """Claimed cells among ``fingerprints``: fingerprint → (its owner, described; lease end)."""
        rows = self.store.fetch("SELECT fingerprint, owner, expires FROM claims")
        wanted = set(fingerprints)
        return {
            fp: (owner.parse(token).describe(), float(expires))
            for fp, token, expires in rows
            if fp in wanted
        }

    def release(self) -> None:
        """Drop every claim this process holds (on a clean stop or an interrupt)."""
        self.stop_renewing()
        with damaged_database(self.store.path):
            self.store.conn.execute("DELETE FROM claims WHERE owner = ?", (owner.me().token,))
