"""Settings read from the environment by several layers, validated where they are read."""

from __future__ import annotations

import os

from benchbase.errors import BenchbaseError


def positive_int_env(name: str) -> int | None:
    """An environment variable holding a count (``BENCHBASE_THREADS``): None when unset,
    an error naming the variable when it is not an integer >= 1."""
    text = os.environ.get(name, "").strip()
    if not text:
        return None
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise BenchbaseError(f"{name}={text!r}: use a positive integer, e.g. {name}=2")
    return value
