"""Backbone tests run models on a shared 2-core machine: one intra-op thread.

Oversubscribed OpenMP threads spin; on a busy 2-core box one thread ran these tiny models
5-10x faster than two. ``BENCHBASE_THREADS`` is the knob extract() reads.
"""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread(monkeypatch: pytest.MonkeyPatch):
    threads = torch.get_num_threads()
    monkeypatch.setenv("BENCHBASE_THREADS", "1")
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
