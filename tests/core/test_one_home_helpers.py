"""Helpers that several layers share: the "first N, and K more" listing, pid liveness."""

from __future__ import annotations

import os
import subprocess
import sys

from benchbase.errors import listing
from benchbase.processes import pid_alive


def test_listing_shows_the_first_items_then_how_many_more() -> None:
    assert listing(range(7), shown=5) == "  0\n  1\n  2\n  3\n  4\n  … and 2 more"
    assert listing(["a", "b"], shown=2, indent="- ") == "- a\n- b"
    assert listing([]) == ""


def test_pid_alive_tells_a_running_process_from_a_finished_one() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert pid_alive(os.getpid())
    assert not pid_alive(child.pid)
