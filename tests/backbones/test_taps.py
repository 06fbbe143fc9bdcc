"""Layer taps: one forward pass serves every tap; classic and stage taps resolve with the
right shapes on random weights and tiny inputs; SPP; the OOM back-off keeps its chunk size."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from benchbase import Backbone, Sample
from benchbase.extract.features import Chunker, TapExtractor, extract, pool, spatial_pyramid_pool
from benchbase.plugin.manager import host
from benchbase.testing import check_backbone


class _Writer:
    """Collects what extract() writes for one tap."""

    def __init__(self) -> None:
        self.rows: dict[int, np.ndarray] = {}

    def write(self, start: int, rows: np.ndarray, total: int) -> None:
        self.rows[start] = rows

    def array(self) -> np.ndarray:
        return np.concatenate([self.rows[k] for k in sorted(self.rows)])


def _open(sample: Sample) -> Image.Image:
    rng = np.random.default_rng(int(sample.source))
    return Image.fromarray(rng.integers(0, 255, size=(40, 48, 3), dtype=np.uint8))


def _backbone(name: str) -> Backbone:
    return host().backbones.get(name)


def test_one_forward_pass_serves_all_taps() -> None:
    bb = _backbone("timm/resnet18")
    torch.manual_seed(0)
    model = bb.build(False)
    calls = []
    model.register_forward_pre_hook(lambda *_: calls.append(1))
    # timm's feature_info counts the stride-2 stem as stage1: its layer4 is stage5
    taps = ["stage1", "stage2", "stage3", "stage4", "stage5", "pool", "stage5@spp"]
    writers = {t: _Writer() for t in taps}
    samples = [Sample(str(i), 0) for i in range(6)]
    stats = extract(
        bb, model, taps, samples, _open, writers, torch.device("cpu"), input_size=32, batch_size=8
    )
    assert stats.images == 6
    assert len(calls) == 1  # six images, one batch, one forward pass for six taps
    dims = {t: writers[t].array().shape for t in taps}
    assert dims == {
        "stage1": (6, 64),
        "stage2": (6, 64),
        "stage3": (6, 128),
        "stage4": (6, 256),
        "stage5": (6, 512),
        "pool": (6, 512),
        "stage5@spp": (6, 512 * 21),
    }
    # the pre-logits features are the pooled last stage
    np.testing.assert_allclose(writers["pool"].array(), writers["stage5"].array(), rtol=1e-5)


@pytest.mark.parametrize(
    ("name", "size", "expected"),
    [
        ("timm/resnet18", 32, {"stage1": 64, "stage5": 512, "pool": 512}),
        ("timm/efficientnet_b0", 32, {"stage1": 16, "stage5": 320, "pool": 1280}),
        ("timm/convnext_tiny", 32, {"stage1": 96, "stage4": 768, "pool": 768}),
        ("torchvision/resnet18", 32, {"stage1": 64, "stage4": 512, "pool": 512}),
        (
            "torchvision/alexnet",
            64,
            # conv taps keep their layout: max-pooled to 6×6 (Zeiler & Fergus), not averaged
            {
                "conv1": 64 * 36,
                "conv2": 192 * 36,
                "conv3": 384 * 36,
                "conv5": 256 * 36,
                "pool5": 9216,
                "fc6": 4096,
                "fc7": 4096,
            },
        ),
        (
            "torchvision/vgg16",
            32,
            {"conv1": 64, "conv3": 256, "conv5": 512, "pool5": 25088, "fc6": 4096, "fc7": 4096},
        ),
    ],
)
def test_taps_resolve_with_expected_shapes(name: str, size: int, expected: dict) -> None:
    shapes = check_backbone(_backbone(name), input_size=size)
    for tap, dim in expected.items():
        assert shapes[tap] == (2, dim), (tap, shapes[tap])


def test_classic_taps_are_after_relu() -> None:
    bb = _backbone("torchvision/alexnet")
    assert bb.default_layer == "fc6"
    model = bb.build(False).eval()
    extractor = TapExtractor(model, bb.taps())
    with torch.inference_mode():
        out = extractor(torch.randn(2, 3, 64, 64))
    extractor.close()
    for tap in ("conv1", "conv5", "fc6", "fc7"):
        assert (out[tap] >= 0).all(), tap  # post-ReLU
    assert (out["pool5"] >= 0).all()  # max-pool of ReLU maps


def test_pool_copies_views() -> None:
    x = torch.ones(2, 3)
    y = pool(x)
    x.zero_()  # an in-place op later in the forward pass must not change a captured tap
    assert float(y.sum()) == 6.0


def test_spp_needs_a_map() -> None:
    assert spatial_pyramid_pool(torch.randn(2, 4, 8, 8)).shape == (2, 4 * 21)
    with pytest.raises(Exception, match="4-D"):
        spatial_pyramid_pool(torch.randn(2, 4))


def test_chunker_backs_off_and_remembers() -> None:
    sizes = []

    def forward(batch: torch.Tensor) -> dict[str, np.ndarray]:
        sizes.append(len(batch))
        if len(batch) > 3:
            raise torch.OutOfMemoryError("fake")
        return {"x": batch.numpy()}

    chunker = Chunker()
    out = chunker.run(torch.arange(8), forward)
    assert sum(n for _, n in out) == 8
    assert np.concatenate([o["x"] for o, _ in out]).tolist() == list(range(8))
    sizes.clear()
    chunker.run(torch.arange(8), forward)
    assert max(sizes) <= 3  # the size that fitted, no new out-of-memory tries


class _Noisy(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x) + torch.rand(1)  # random even in eval mode


def test_check_backbone_catches_contract_breaks() -> None:
    bad_path = Backbone("t/bad", lambda _p: _Noisy(), {"x": "nope"}, "x")
    with pytest.raises(Exception, match="does not exist"):
        check_backbone(bad_path, input_size=8)
    noisy = Backbone("t/noisy", lambda _p: _Noisy(), {"x": "conv:input", "y": ""}, "y")
    with pytest.raises(AssertionError, match="differs between two eval-mode passes"):
        check_backbone(noisy, input_size=8)


def _tiny_backbone(**kw: object) -> Backbone:
    def build(pretrained: bool) -> torch.nn.Module:
        return torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.ReLU())

    return Backbone(name="tiny", build=build, layers={"map": "1"}, default_layer="map", **kw)


def test_declared_pooling_keeps_the_layout_and_undeclared_taps_are_averaged() -> None:
    from benchbase.extract.backbones import feature_identity

    samples = [Sample(str(i), 0) for i in range(3)]
    shapes, ids = {}, {}
    for name, bb in {
        "gap": _tiny_backbone(),
        "max": _tiny_backbone(pooling={"map": "max:3"}),
    }.items():
        writers = {"map": _Writer()}
        extract(
            bb,
            bb.build(False),
            ["map"],
            samples,
            _open,
            writers,
            torch.device("cpu"),
            input_size=24,
            batch_size=4,
        )
        shapes[name] = writers["map"].array().shape
        ids[name] = feature_identity(bb, "w", ["a"], 24, layer="map")
    assert shapes == {"gap": (3, 4), "max": (3, 4 * 9)}
    # an undeclared tap keys its cache as before taps could declare pooling
    assert ids["gap"] == {**feature_identity(_tiny_backbone(), "w", ["a"], 24), "layer": "map"}
    assert ids["max"]["pooling"] == "max:3"


def test_bad_pooling_declaration_names_the_tap() -> None:
    with pytest.raises(Exception, match=r"pooling\['map'\].*max:N"):
        _tiny_backbone(pooling={"map": "max:0"})


def test_declared_pooling_enters_the_fingerprint_only_where_declared() -> None:
    from benchbase.api.types import Cell
    from benchbase.extract.backbones import resolve
    from benchbase.run.runner import pooling_identity

    h = host()
    alex, resnet = resolve(h, "torchvision/alexnet:random"), resolve(h, "timm/resnet18:random")
    probe = Cell("s", "d", "0", alex.spec, "*", "layer-probe")
    assert pooling_identity(probe, alex)["pooling"]["conv1"] == "max:6"
    assert pooling_identity(Cell("s", "d", "0", alex.spec, "fc7", "logreg"), alex) == {}
    assert (
        pooling_identity(Cell("s", "d", "0", resnet.spec, "*", "layer-probe"), resnet) == {}
    )
