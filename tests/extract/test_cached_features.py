"""``cached_features``: the one cache-aware extraction, with the pass passed in; and the
``tensor_pass`` the view and patch strategies hand it."""

from __future__ import annotations

import errno
from collections import OrderedDict
from typing import Any

import numpy as np
import pytest

from benchbase.errors import BenchbaseError, DiskFullError
from benchbase.extract.cache import FeatureCache
from benchbase.extract.cached import cached_features, tensor_pass

N = 10


def identities(*taps: str) -> dict[str, dict[str, Any]]:
    return {t: {"images": N, "tap": t} for t in taps}


class Pass:
    """A fake extraction pass: row ``i`` of tap ``t`` is ``[i, len(t)]``; records each call
    and can fail after ``fail_after`` rows."""

    def __init__(self, fail_after: int | None = None, error: BaseException | None = None):
        self.calls: list[tuple[list[str], range]] = []
        self.fail_after, self.error = fail_after, error

    def __call__(self, taps: Any, writers: Any, rows: range) -> int:
        self.calls.append((list(taps), rows))
        for i in rows:
            if self.fail_after is not None and i >= self.fail_after:
                raise self.error or RuntimeError("killed")
            for t in taps:
                writers[t].write(i, np.array([[i, len(t)]], np.float32), rows.stop)
        return len(rows)


def expected(tap: str) -> np.ndarray:
    return np.array([[i, len(tap)] for i in range(N)], np.float32)


def test_misses_get_one_pass_and_hits_none(tmp_path) -> None:
    cache = FeatureCache(tmp_path)
    first = Pass()
    got = cached_features(cache, identities("a", "bb"), first, N)
    assert first.calls == [(["a", "bb"], range(0, N))] and got.forwarded == N
    np.testing.assert_array_equal(got.features["bb"], expected("bb"))
    second = Pass()
    got = cached_features(cache, identities("a", "bb", "ccc"), second, N)
    assert second.calls == [(["ccc"], range(0, N))]  # only the tap the cache lacks
    assert set(got.features) == {"a", "bb", "ccc"}
    third = Pass()
    assert cached_features(cache, identities("a", "ccc"), third, N).forwarded == 0
    assert third.calls == []


def test_an_interrupted_pass_resumes_after_its_checkpoints(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("BENCHBASE_CHECKPOINT_SECONDS", "0")  # a checkpoint after every write
    cache = FeatureCache(tmp_path)
    with pytest.raises(RuntimeError, match="killed"):
        cached_features(cache, identities("a"), Pass(fail_after=6), N, label="ds × net")
    assert not list(tmp_path.rglob("*.tmp*"))  # nothing half-written left but checkpoints
    again = Pass()
    got = cached_features(cache, identities("a"), again, N, label="ds × net")
    assert again.calls == [(["a"], range(6, N))] and got.forwarded == N - 6
    np.testing.assert_array_equal(got.features["a"], expected("a"))
    assert "ds × net: resuming extraction at image 6/10" in capsys.readouterr().err

    with pytest.raises(RuntimeError):
        cached_features(cache, identities("b"), Pass(fail_after=4), N)
    whole = Pass()
    cached_features(cache, identities("b"), whole, N, resume=False)
    assert whole.calls == [(["b"], range(0, N))]  # a pass over a part never resumes


def test_a_full_disk_is_named_and_leaves_nothing(tmp_path) -> None:
    cache = FeatureCache(tmp_path / "features")
    full = OSError(errno.ENOSPC, "No space left on device")
    with pytest.raises(DiskFullError, match="no space left on device writing"):
        cached_features(cache, identities("a"), Pass(fail_after=3, error=full), N)
    assert not list(tmp_path.rglob("*.tmp*"))
    assert cache.get(cache.key(identities("a")["a"])) is None


def _backbone() -> Any:
    from benchbase import Backbone

    def build(_pretrained: bool) -> Any:
        import torch
        from torch import nn

        torch.manual_seed(0)
        return nn.Sequential(
            OrderedDict(conv=nn.Conv2d(3, 5, 3), pool=nn.AdaptiveAvgPool2d(1), flat=nn.Flatten())
        )

    return Backbone(
        name="tp-net",
        build=build,
        layers={"conv": "conv", "flat": "flat"},
        default_layer="flat",
        input_size=12,
        weights="tp",
        imagenet_head=False,
    )


def test_tensor_pass_gives_the_tap_features_and_halves_on_out_of_memory(tmp_path) -> None:
    import torch

    from benchbase.toolkit import TapExtractor, normalize

    backbone = _backbone()
    model = backbone.build(False).eval()
    images = torch.randint(0, 256, (N, 3, 12, 12), dtype=torch.uint8)
    hook = TapExtractor(model, {"flat": "flat"})
    with torch.inference_mode():
        reference = hook(normalize(images, backbone.mean, backbone.std))["flat"].numpy()
    hook.close()

    def batches(rows: range) -> Any:
        for s in range(rows.start, rows.stop, 4):
            yield s, images[s : min(s + 4, rows.stop)].float()

    sizes: list[int] = []
    forward = model.forward

    def tight(x: torch.Tensor) -> torch.Tensor:  # only 2 images fit "on the device"
        sizes.append(len(x))
        if len(x) > 2:
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        return forward(x)

    model.forward = tight
    cpu = torch.device("cpu")
    run = tensor_pass(backbone, lambda: model, batches, N, cpu, batch_size=4, dtype=np.float16)
    got = cached_features(FeatureCache(tmp_path), {"flat": {"t": 1}}, run, N)
    assert got.forwarded == N and got.features["flat"].dtype == np.float16
    np.testing.assert_allclose(got.features["flat"], reference, rtol=1e-2, atol=1e-3)
    assert sizes[0] == 4 and set(sizes[1:]) == {2}  # halved once, then kept at what fitted

    with pytest.raises(BenchbaseError, match="has no layer 'nope'"):
        cached_features(FeatureCache(tmp_path), {"nope": {"t": 2}}, run, N)
