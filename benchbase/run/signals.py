"""SIGTERM handled as Ctrl-C: what ``kill``, ``docker stop``, SLURM and systemd send.

:func:`terminate_as_interrupt` makes SIGTERM raise :class:`Terminated` (a
``KeyboardInterrupt``) in the main thread, so the same ``finally`` blocks run for both
(claims released, temporary files removed) and the CLI says how to resume; the exit status
is 128 + the signal number (130 for SIGINT, 143 for SIGTERM), as a shell reports it.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Any


class Terminated(KeyboardInterrupt):
    """SIGTERM received (raised where the main thread was)."""

    signum = signal.SIGTERM


def _raise(signum: int, _frame: FrameType | None) -> None:
    raise Terminated()


def terminate_as_interrupt() -> Any:
    """Raise :class:`Terminated` on SIGTERM; returns the handler it replaced (None off the
    main thread, where handlers cannot be set)."""
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, _raise)


def restore(previous: Any) -> None:
    if previous is not None and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, previous)


def _once(signum: int, _frame: FrameType | None) -> None:
    # a second signal (the terminal's SIGINT, then the parent's) must not interrupt the
    # clean-up the first one started
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()


def stop_once() -> None:
    """In a worker process: the first SIGINT or SIGTERM interrupts it, later ones are ignored."""
    signal.signal(signal.SIGINT, _once)
    signal.signal(signal.SIGTERM, _once)


def die_with_parent(parent: int) -> None:
    """Linux: have the kernel send SIGTERM to this process when its parent dies (a parent
    killed with SIGKILL cannot stop its workers itself)."""
    import ctypes
    import os
    import sys

    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGTERM), 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before the call
        os.kill(os.getpid(), signal.SIGTERM)


def exit_status(exc: KeyboardInterrupt) -> int:
    """130 for Ctrl-C (SIGINT), 143 for SIGTERM."""
    return 128 + int(getattr(exc, "signum", signal.SIGINT))
