"""Strategy tests run torch on one thread: their batches are tiny, and two threads on a
2-core machine that is busy with anything else slow training down several-fold."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
