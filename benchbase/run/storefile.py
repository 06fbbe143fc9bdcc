"""Opening the results database file: its schema version, read-only opening, and the
messages for a store of another schema or one locked past the busy wait.

A store carries ``PRAGMA user_version`` = :data:`SCHEMA_VERSION`. Version 0 is a store from
before versions (same tables) or a new file, and is stamped on first writable open; a newer
version, or tables that are not the store's, is refused naming the file. A folder that
cannot be written (a read-only mount, no write permission) is read through a read-only
connection: ``mode=ro``, or ``immutable=1`` when SQLite cannot create its shared-memory file
there (a finished store has no write-ahead log left to miss).
"""

from __future__ import annotations

import os
import sqlite3
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from benchbase.errors import BenchbaseError, DiskFullError, is_disk_full

#: Bump when a table changes; add a migration from the previous version beside it.
SCHEMA_VERSION = 1
#: How long a statement waits for another process's lock before giving up.
BUSY_SECONDS = 60.0


class StoreSchemaError(BenchbaseError):
    """A database file that is not a results store this benchbase can read."""


class StoreLockedError(BenchbaseError):
    """A results store still locked by another process after the busy wait."""


def writable(folder: Path) -> bool:
    """Whether files can be created in ``folder`` (false on a read-only mount, even as root)."""
    return os.access(folder, os.W_OK | os.X_OK)


def connect(path: Path, create: bool) -> tuple[sqlite3.Connection, bool]:
    """A connection to the store at ``path`` and whether it is read-only (only for
    ``create=False`` on a folder that cannot be written)."""
    if create or (writable(path.parent) and os.access(path, os.W_OK)):
        return sqlite3.connect(path, timeout=BUSY_SECONDS, isolation_level=None), False
    uri = "file:" + urllib.parse.quote(str(path.resolve()))
    conn = sqlite3.connect(f"{uri}?mode=ro", uri=True, timeout=BUSY_SECONDS, isolation_level=None)
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return conn, True
    except sqlite3.OperationalError:
        conn.close()
    wal = path.with_name(path.name + "-wal")
    if wal.exists() and wal.stat().st_size > 0:
        raise BenchbaseError(
            f"cannot read {path}: its folder is read-only and it still has a write-ahead log "
            f"({wal.name}) that SQLite cannot replay there. Copy the folder somewhere "
            "writable (cp -r) and point --out at the copy."
        )
    conn = sqlite3.connect(f"{uri}?immutable=1", uri=True, isolation_level=None)
    return conn, True


def _columns(conn: sqlite3.Connection) -> dict[str, set[str]]:
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    return {t: {r[1] for r in conn.execute(f'PRAGMA table_info("{t}")')} for t in tables}


def check_schema(conn: sqlite3.Connection, path: Path, schema: str) -> int:
    """The store's schema version; raises when it is newer than this benchbase or its
    tables are not the store's (tables still missing are for the caller to create)."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise StoreSchemaError(
            f"the results database {path} has schema version {version}, newer than this "
            f"benchbase reads ({SCHEMA_VERSION}): a newer benchbase wrote it. Upgrade benchbase "
            "(pip install -U benchbase), or use another --out for this version."
        )
    expected = sqlite3.connect(":memory:")
    expected.executescript(schema)
    want = _columns(expected)
    expected.close()
    have = _columns(conn)
    if version == 0 and have and not {"cells", "results"} & set(have):
        problem = f"its tables ({', '.join(sorted(have))}) are not a results store's"
    else:
        lacking = {
            t: sorted(want[t] - cols) for t, cols in have.items() if want.get(t, cols) - cols
        }
        problem = "; ".join(f"table {t!r} lacks {', '.join(c)}" for t, c in lacking.items())
    if problem:
        raise StoreSchemaError(
            f"{path} is not a benchbase results store of schema version {SCHEMA_VERSION}: "
            f"{problem}. Use another --out, or move the file aside (mv {path} {path}.old) to "
            "start afresh."
        )
    return version


@contextmanager
def lock_wait(path: Path) -> Iterator[None]:
    """Turn SQLite's "database is locked" after :data:`BUSY_SECONDS` into a message."""
    try:
        yield
    except sqlite3.OperationalError as exc:
        text = str(exc)
        if "locked" not in text and "busy" not in text:
            raise
        raise StoreLockedError(
            f"the results database {path} stayed locked by another process for "
            f"{BUSY_SECONDS:.0f} s ({text}). Another benchbase writing a large cell, or a "
            "program holding it open (an sqlite3 shell, a file-sync tool; file systems "
            "without locking such as some NFS mounts also show this): wait for it or stop it, "
            "then re-run; finished cells are kept."
        ) from None


def check_out_dir(out: Path, db_name: str = "results.sqlite") -> None:
    """``--out`` must be a folder this process can write (created when missing)."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise BenchbaseError(
            f"--out {out} is a file, not a folder: pass a folder (created if missing) to hold "
            f"{db_name} and the caches"
        )
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        # the failing path is --out or one of its parents: naming --out says enough
        raise BenchbaseError(
            f"cannot create --out {out}: {exc.strerror or exc}; pass a folder you can write"
        ) from None
    db = out / db_name
    if not writable(out) or (db.exists() and not os.access(db, os.W_OK)):
        raise BenchbaseError(
            f"--out {out} cannot be written (a read-only mount or no write permission): pass "
            "a writable folder for the run. Reading finished results there works: benchbase "
            f"results / leaderboard / compare --out {out}."
        )


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
