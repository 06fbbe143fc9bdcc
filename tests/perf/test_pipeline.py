"""The extraction pipeline: rows land in place when batches arrive out of order, features
drain to the writers, and the CUDA batch size follows the free memory."""

from __future__ import annotations

import multiprocessing

import numpy as np
import pytest
import torch

from benchbase.extract import pipeline


class HeldBack(torch.utils.data.Dataset):
    """Row i is the value i; row 0 waits until the main process has received a batch, so
    the first batch to arrive is never the first one (an event, not a sleep)."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.received = multiprocessing.get_context("fork").Event()

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: int) -> torch.Tensor:
        if index == 0:
            assert self.received.wait(timeout=120), "no other batch arrived first"
        return torch.full((2,), float(index))


def test_rows_land_in_place_when_batches_arrive_out_of_order() -> None:
    data = HeldBack(12)
    out = np.full((12, 2), -1.0)
    arrival = []
    drain = pipeline.Drain(
        torch.device("cpu"),
        lambda start, p: out.__setitem__(slice(start, start + len(p["x"])), p["x"]),
    )
    loader = pipeline.batches(data, batch_size=3, workers=2, in_order=False)
    for start, batch in pipeline.prefetched(loader, lambda b: b):
        arrival.append(start)
        data.received.set()
        drain.put(start, {"x": batch})
    drain.flush()
    assert arrival[0] != 0 and sorted(arrival) == [0, 3, 6, 9]  # really out of order
    np.testing.assert_array_equal(out, np.repeat(np.arange(12.0)[:, None], 2, axis=1))


def test_batches_are_contiguous_rows_with_their_start() -> None:
    got = list(pipeline.batches(list(range(7)), batch_size=3, workers=0))
    assert [s for s, _ in got] == [0, 3, 6]
    assert [b.tolist() for _, b in got] == [[0, 1, 2], [3, 4, 5], [6]]


def test_prefetched_copies_one_batch_ahead() -> None:
    copied = []

    def source():
        for i in range(3):
            yield i, i
            assert len(copied) == i + 1  # batch i was copied before batch i was used

    seen = []
    for start, _batch in pipeline.prefetched(source(), lambda b: copied.append(b) or b):
        seen.append(start)
        assert len(copied) == min(start + 2, 3)  # and batch i + 1 already is
    assert seen == [0, 1, 2]


def test_batch_size_follows_free_cuda_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    gib, mib = 2**30, 2**20
    free = {"bytes": 8 * gib}
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (free["bytes"], 80 * gib))
    cuda = torch.device("cuda")
    # 8 GiB free, half of it for activations, 20 MiB per image: 204 fit -> 128
    assert pipeline.choose_batch_size(cuda, lambda: 20 * mib) == 128
    free["bytes"] = 1 * gib  # a busier GPU: a smaller batch
    assert pipeline.choose_batch_size(cuda, lambda: 20 * mib) == 16
    free["bytes"] = 139 * gib  # an empty H200: capped
    assert pipeline.choose_batch_size(cuda, lambda: 20 * mib) == pipeline.BATCH_RANGE[1]
    assert pipeline.choose_batch_size(torch.device("cpu"), lambda: pytest.fail("measured")) == 32
