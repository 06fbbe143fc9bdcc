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


def listing(items: Iterable[object], shown: int = 5, indent: str = "  ") -> str:
    """The first ``shown`` of ``items`` for a message, one per indented line, then
    ``… and K more`` when there are more (no leading or trailing newline)."""
    texts = [str(item) for item in items]
    if len(texts) > shown:
        texts = [*texts[:shown], f"… and {len(texts) - shown} more"]
    return "\n".join(f"{indent}{text}" for text in texts)
