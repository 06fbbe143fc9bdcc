"""User-facing errors: each message names the bad input and the fix."""

from __future__ import annotations

from collections.abc import Iterable


class BenchbaseError(Exception):
    """An error the user can act on; the CLI prints it without a traceback and exits 2."""


class UnknownNameError(BenchbaseError, KeyError):
    """A dataset, backbone, strategy or suite name that is not registered."""

    def __str__(self) -> str:  # KeyError would otherwise repr() the message
        return str(self.args[0]) if self.args else ""


class DataLayoutError(BenchbaseError):
    """A data root that does not hold the official layout a dataset plugin expects."""


class WeightsUnavailableError(BenchbaseError):
    """Pretrained weights that cannot be found locally and cannot be downloaded."""


class DiskFullError(BenchbaseError):
    """No space (or no quota) left where benchbase writes: one message wherever it happens."""

    def __init__(self, path: object, reason: object = "No space left on device") -> None:
        super().__init__(
            f"no space left on device writing {path} ({reason}). Nothing half-written was "
            "kept; free some space (or pass --out on a larger disk) and re-run the same "
            "command to resume."
        )
        self.path = path


class CellFailedError(BenchbaseError):
    """A strategy raised on one cell: ``what`` failed on ``cell`` with ``cause``; kept apart so
    that ``--jobs`` reports one cause met on several cells once."""

    def __init__(self, what: str, cell: str, cause: str) -> None:
        super().__init__(f"{what} failed on {cell}: {cause}")
        self.what, self.cell, self.cause = what, cell, cause


def is_disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` is a full disk or quota: ``ENOSPC``/``EDQUOT``, or SQLite's
    "database or disk is full" (``SQLITE_FULL``)."""
    import errno

    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    return type(exc).__name__ == "OperationalError" and "disk is full" in str(exc)


def listing(items: Iterable[object], shown: int = 5, indent: str = "  ") -> str:
    """The first ``shown`` of ``items`` for a message, one per indented line, then
    ``… and K more`` when there are more (no leading or trailing newline)."""
    texts = [str(item) for item in items]
    if len(texts) > shown:
        texts = [*texts[:shown], f"… and {len(texts) - shown} more"]
    return "\n".join(f"{indent}{text}" for text in texts)
