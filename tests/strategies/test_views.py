"""CNNaug's views (issue 18): cut from the uint8 batch on the task's device, equal to the host
float path they replace, keyed per image so splits sharing images forward each view once."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from strategy_helpers import TINY, TinyNet, tiny_image_task

from benchbase import ImageTask, Sample
from benchbase.plugin.manager import host
from benchbase.testing import synthetic_image
from benchbase.toolkit import (
    DecodedImages,
    content_keys,
    decode_images,
    normalize,
    transformed_features,
)

SIZE = TINY.input_size


class Counted:
    """Images forwarded by every TinyNet it builds, and the images opened."""

    def __init__(self) -> None:
        self.forwarded = 0
        self.opened: list[str] = []

    def build(self) -> TinyNet:
        net = TinyNet()
        net.register_forward_pre_hook(lambda _m, args: self._count(args[0]))
        return net

    def _count(self, x: torch.Tensor) -> None:
        self.forwarded += len(x)

    def open_image(self, sample: Sample):  # noqa: ANN201
        self.opened.append(str(sample.source))
        return synthetic_image(int(sample.label), 3, sum(map(ord, str(sample.source))), (40, 30))


def _task(
    counted: Counted, tmp: Path, params: dict, train: list[Sample], test: list[Sample]
) -> ImageTask:
    return tiny_image_task(
        tmp / "own", params, train, test, counted.open_image,
        build=counted.build, shared_cache_dir=tmp / "shared",
    )  # fmt: skip


def _samples(prefix: str, ids: range) -> list[Sample]:
    return [Sample(f"{prefix}-{i}", i % 3) for i in ids]


@pytest.fixture
def augment(monkeypatch):
    from benchbase_linear import augment

    import benchbase.extract.device as device

    monkeypatch.setattr(device, "loader_workers", lambda: 0)  # count opens in this process
    return augment


CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=CUDA)])
def test_views_cut_on_the_device_equal_the_host_float_path(augment, tmp_path, device):
    counted = Counted()
    st = host().strategies.get("linear-svm-aug")
    params = st.resolve_params({"views": ["full", "tl", "rot+"]})
    samples = _samples("img", range(6))
    task = _task(counted, tmp_path, params, samples, samples)
    task.device = torch.device(device)
    load = augment.load_size(SIZE, 1.0)
    images = DecodedImages(samples, counted.open_image, load, "bilinear", "squash")
    seen: list[tuple[torch.dtype, str]] = []
    for view in augment.view_names(params):
        fn = augment.view_fn(view, SIZE, float(params["crop_scale"]), float(params["rotation"]))

        def recording(batch: torch.Tensor, fn=fn) -> torch.Tensor:  # noqa: ANN001
            seen.append((batch.dtype, batch.device.type))
            return fn(batch)

        keys = content_keys(samples)
        got = transformed_features(task, images, keys, {"net": None}, view, recording)
        # the path it replaces: the float view made on the host, then copied to the device
        # and forwarded the same way (autocast included)

        def on_host(batch: torch.Tensor, fn=fn) -> torch.Tensor:  # noqa: ANN001
            return fn(batch.cpu()).to(task.device)

        want = transformed_features(task, images, keys, {"net": None}, f"{view}@host", on_host)
        close = {"rtol": 1e-5, "atol": 1e-6} if device == "cpu" else {"rtol": 1e-3, "atol": 1e-3}
        np.testing.assert_allclose(got, want, **close)  # other kernels round differently
        # the strategy's own view features are these rows
        strategy_rows = augment.view_features(task, images, keys, {"net": None}, view)
        np.testing.assert_allclose(strategy_rows, got, **close)
        if device == "cpu":  # and by hand: decode, view, normalise, forward
            pixels = decode_images(samples, counted.open_image, load, "bilinear", "squash")
            x = normalize(fn(pixels), TINY.mean, TINY.std)
            with torch.inference_mode():
                by_hand = TinyNet().eval()(x).numpy()
            np.testing.assert_allclose(got, by_hand, rtol=1e-5, atol=1e-6)
    assert seen and set(seen) == {(torch.uint8, device)}  # uint8, already on task.device


def test_two_splits_sharing_images_forward_each_shared_view_once(augment, tmp_path):
    counted = Counted()
    st = host().strategies.get("linear-svm-aug")
    params = st.resolve_params({"views": ["full", "tl"], "C": [1.0]})  # 4 views with mirrors
    pool = _samples("img", range(15))
    split_a = _task(counted, tmp_path, params, pool[:9], pool[9:12])
    split_b = _task(counted, tmp_path, params, pool[3:12], pool[12:15])  # shares 6 + 3 images
    (first,) = st.evaluate({"pool": split_a})
    opened_a, forwarded_a = len(counted.opened), counted.forwarded
    assert forwarded_a == 9 * 4 + 3  # training views, then the test images' original view
    assert opened_a == 12
    st.evaluate({"pool": split_b})
    # new to split b: images 9..11 need their 3 other training views (the original is
    # stored: they were split a's test images), images 12..14 their original view
    assert counted.forwarded - forwarded_a == 3 * 3 + 3
    assert sorted(counted.opened[opened_a:]) == sorted(str(s.source) for s in pool[9:15])
    before = (counted.forwarded, len(counted.opened))
    (again,) = st.evaluate({"pool": split_a})  # everything stored: nothing opened or forwarded
    assert (counted.forwarded, len(counted.opened)) == before
    np.testing.assert_allclose(again.scores, first.scores)
