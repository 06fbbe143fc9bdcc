"""Progress for long phases (cells, extraction, image checks), one display per process.

On a terminal: one tqdm bar, reused by nested phases (an extraction inside the cells phase
takes the bar over and hands it back). Not on a terminal (a log file, a pipe, SLURM): a
plain line every ``BENCHBASE_PROGRESS_SECONDS`` (default 30) and at the end of each phase,
with the rate and an ETA from the items left; no cursor codes. ``--quiet`` (or tqdm's own
``TQDM_DISABLE``) shows nothing. A phase that will run for minutes says so once, early:
"this will take about N minutes here".
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

INTERVAL_ENV = "BENCHBASE_PROGRESS_SECONDS"
#: Phases expected to take longer than this announce their duration.
ANNOUNCE_SECONDS = 120.0

_state: dict[str, Any] = {"quiet": False, "bar": None}


#: Set by ``--quiet`` for this process and the workers it starts.
QUIET_ENV = "BENCHBASE_QUIET"


def set_quiet(quiet: bool) -> None:
    """``--quiet``: no bars, no periodic lines (errors and summaries still print)."""
    _state["quiet"] = quiet
    if quiet:
        os.environ[QUIET_ENV] = "1"
    else:
        os.environ.pop(QUIET_ENV, None)


def _quiet() -> bool:
    return (
        _state["quiet"]
        or os.environ.get(QUIET_ENV, "") not in ("", "0")
        or os.environ.get("TQDM_DISABLE", "") not in ("", "0")
    )


def _interval() -> float:
    try:
        return max(0.0, float(os.environ.get(INTERVAL_ENV, "30")))
    except ValueError:
        return 30.0


def duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f}s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


class Phase:
    """One phase's counter; ``update``/``set_postfix_str`` as tqdm's (drop-in)."""

    def __init__(self, desc: str, total: int, unit: str, stream: TextIO, announce: bool) -> None:
        self.desc, self.total, self.unit, self.stream = desc, total, unit, stream
        self.n = 0
        self.postfix = ""
        self.start = time.monotonic()
        self._last_line = self.start
        self._announce = announce
        self._bar: Any = None
        self._saved: tuple[Any, ...] | None = None

    # --- what the callers use --------------------------------------------------------

    def update(self, n: int = 1) -> None:
        self.n += n
        now = time.monotonic()
        if self._announce and self.n and now - self.start >= 2.0:
            self._maybe_announce(now)
        if self._bar is not None:
            self._bar.update(n)
        elif not _quiet() and now - self._last_line >= _interval() and self.n < self.total:
            self._line(now)

    def set_postfix_str(self, text: str) -> None:
        self.postfix = text
        if self._bar is not None:
            self._bar.set_postfix_str(text)

    # --- output ----------------------------------------------------------------------

    def _rate(self, now: float) -> float:
        return self.n / max(now - self.start, 1e-9)

    def _line(self, now: float) -> None:
        self._last_line = now
        rate = self._rate(now)
        left = self.total - self.n
        eta = f", ETA {duration(left / rate)}" if rate > 0 and left > 0 else ""
        extra = f" ({self.postfix})" if self.postfix else ""
        self._write(
            f"{self.desc}: {self.n}/{self.total} {self.unit}, {rate:.1f} {self.unit}/s, "
            f"{duration(now - self.start)} elapsed{eta}{extra}"
        )

    def _maybe_announce(self, now: float) -> None:
        self._announce = False
        rest = (self.total - self.n) / self._rate(now)
        if now - self.start + rest >= ANNOUNCE_SECONDS:
            self._write(
                f"{self.desc}: this will take about {duration(now - self.start + rest)} here "
                f"({self._rate(now):.1f} {self.unit}/s on this machine)"
            )

    def _write(self, text: str) -> None:
        if self._bar is not None:
            self._bar.write(text, file=self.stream)
        else:
            print(text, file=self.stream, flush=True)

    def finish(self) -> None:
        if self._bar is None and not _quiet() and self.total and self.n:
            self._line(time.monotonic())


@contextmanager
def phase(
    desc: str, total: int, unit: str = "img", stream: TextIO | None = None, announce: bool = True
) -> Iterator[Phase]:
    """Show the progress of ``total`` items (see the module docstring)."""
    stream = stream or sys.stderr
    current = Phase(desc, total, unit, stream, announce)
    tty = not _quiet() and hasattr(stream, "isatty") and stream.isatty()
    outer = _state["bar"]
    if tty:
        if outer is None:
            from tqdm.auto import tqdm

            # disable=False: tqdm reads TQDM_DISABLE once, when first imported; _quiet() has
            # just read it now
            current._bar = tqdm(
                total=total, desc=desc, unit=unit, file=stream, dynamic_ncols=True, disable=False
            )
            _state["bar"] = current._bar
        else:  # take the one bar over, give it back afterwards
            current._saved = (outer.total, outer.n, outer.desc, outer.unit, outer.postfix)
            outer.reset(total=total)
            outer.set_description_str(desc)
            outer.unit = unit
            current._bar = outer
    try:
        yield current
    finally:
        current.finish()
        if current._bar is not None and current._saved is not None:
            total_, n, desc_, unit_, postfix = current._saved
            outer.reset(total=total_)
            outer.update(n)
            outer.set_description_str(desc_)
            outer.unit = unit_
            outer.set_postfix_str(postfix or "")
        elif current._bar is not None:
            current._bar.close()
            _state["bar"] = None
