"""Which files and folders a block of code reads: the paths it opens and the folders it lists.

``with touched() as paths:`` collects, from Python's audit events (``open``, ``os.listdir``,
``os.scandir``, ``sqlite3.connect``; globs list folders through ``os.scandir``), every path
opened or listed by any thread while the block runs, as absolute paths, failed opens
included (a reader probing for a file that is missing). Module files and folders that
imports read are left out. The audit hook is installed on first use and stays (Python
cannot remove one); with nothing recording it returns at once. Not seen: files only tested
for existence (``os.stat``) and files read by C code that bypasses Python's I/O.
"""

from __future__ import annotations

import importlib.machinery
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_EVENTS = frozenset({"open", "os.listdir", "os.scandir", "sqlite3.connect"})
_MODULE_SUFFIXES = tuple({*importlib.machinery.all_suffixes(), ".pyc", ".pth"})

_lock = threading.Lock()
_recorders: list[set[str]] = []
_installed = False


def _audit(event: str, args: tuple) -> None:
    if not _recorders or event not in _EVENTS:
        return
    if sys._getframe(1).f_code.co_filename.startswith("<frozen importlib"):
        return  # the import system reading module files and listing sys.path folders
    path = args[0] if args else None
    if path is None and event in ("os.listdir", "os.scandir"):
        path = "."
    if isinstance(path, int) or path is None:  # an open file descriptor: no path
        return
    try:
        text = os.fsdecode(path)
    except TypeError:
        return
    if text.endswith(_MODULE_SUFFIXES) or text == ":memory:":
        return
    text = os.path.abspath(text)
    with _lock:
        for paths in _recorders:
            paths.add(text)


@contextmanager
def touched() -> Iterator[set[str]]:
    """The set of absolute paths opened or listed while the block runs (filled as it runs)."""
    global _installed
    with _lock:
        if not _installed:
            sys.addaudithook(_audit)
            _installed = True
    paths: set[str] = set()
    with _lock:
        _recorders.append(paths)
    try:
        yield paths
    finally:
        with _lock:
            # by identity: two recorders may hold equal sets
            del _recorders[next(i for i, r in enumerate(_recorders) if r is paths)]
