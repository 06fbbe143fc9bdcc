"""torch.compile in extraction: the policy, one compile per pass, eager fallback, same features."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from benchbase.errors import BenchbaseError
from benchbase.extract import compiling
from benchbase.extract.features import TapExtractor

CPU, CUDA = torch.device("cpu"), torch.device("cuda")


def test_policy(monkeypatch):
    model = torch.nn.Identity()
    monkeypatch.delenv(compiling.ENV, raising=False)
    auto = compiling.forward_for(model, 4, 10**6, CPU)
    assert auto is not None and auto.compiled is None  # times eager batches first
    assert compiling.forward_for(model, 4, 10**6, CUDA) is None  # auto: never on a GPU
    monkeypatch.setenv(compiling.ENV, "on")
    assert compiling.forward_for(model, 4, 1, CUDA).compiled is not None  # from the start
    monkeypatch.setenv(compiling.ENV, "off")
    assert compiling.forward_for(model, 4, 10**6, CPU) is None
    monkeypatch.setenv(compiling.ENV, "yes")
    with pytest.raises(BenchbaseError, match=r"BENCHBASE_COMPILE='yes'.*auto, on, off"):
        compiling.forward_for(model, 4, 1, CPU)


class FakeClock:
    """A forward pass that takes ``per_image`` seconds per image, on a clock of its own."""

    def __init__(self, per_image: float) -> None:
        self.now, self.per_image = 0.0, per_image

    def __call__(self) -> float:
        return self.now

    def model(self, batch: torch.Tensor) -> torch.Tensor:
        self.now += self.per_image * len(batch)
        return batch


@pytest.mark.parametrize(
    ("per_image", "n_images", "compiles"),
    [
        (0.05, 10_000, True),  # ResNet-18-like on a CPU: ~500 s of eager work left
        (0.005, 10_000, False),  # EfficientNet-Lite0 @ 96 px: ~50 s left, warm-up won't pay
        (0.005, 100_000, True),  # ... unless the dataset is SUN-397-sized
    ],
)
def test_auto_compiles_only_when_the_eager_pass_would_outlast_the_warm_up(
    monkeypatch, per_image, n_images, compiles
):
    made = []
    monkeypatch.setattr(torch, "compile", lambda model, **kw: made.append(kw) or model)
    clock = FakeClock(per_image)
    forward = compiling.PaddedCompiled(clock.model, 32, n_images=n_images, clock=clock)
    batch = torch.zeros(32, 3, 2, 2)
    for _ in range(compiling.TIMED_BATCHES + 1):
        assert forward.compiled is None  # eager while timing
        forward(batch)
    assert (forward.compiled is not None) == compiles
    assert forward.eager == (not compiles)
    assert len(made) == int(compiles)


def _net() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.Conv2d(8, 16, 3, stride=2, padding=1),
        torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(1),
        torch.nn.Flatten(),
    ).eval()


def _extract(model: torch.nn.Module, batches: list[torch.Tensor], forward=None) -> dict:
    extractor = TapExtractor(model, {"conv1": "0", "pool": "5"})
    if forward is not None:
        extractor.forward = forward
    out: dict[str, list[np.ndarray]] = {"conv1": [], "pool": []}
    with torch.inference_mode():
        for batch in batches:
            for name, rows in extractor(batch).items():
                out[name].append(rows.numpy().copy())
    extractor.close()
    return {name: np.concatenate(rows) for name, rows in out.items()}


def _batches(sizes=(4, 4, 3)) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(1)
    return [
        torch.randn(n, 3, 16, 16, generator=gen).contiguous(memory_format=torch.channels_last)
        for n in sizes
    ]


def test_compiled_once_for_the_whole_pass_and_the_same_rows(monkeypatch):
    """The short last batch is padded, so nothing is traced again after the first batch
    (the tap hooks split the model into a few graphs, each traced once); rows come back
    unpadded and equal to the eager ones."""
    traced = []
    real_compile = torch.compile

    def traced_compile(model, **kwargs):
        def backend(graph, example_inputs):
            traced.append([tuple(t.shape) for t in example_inputs])
            return graph.forward

        return real_compile(model, backend=backend, **kwargs)

    monkeypatch.setattr(torch, "compile", traced_compile)
    torch._dynamo.reset()
    model, batches = _net(), _batches()
    eager = _extract(model, batches)
    forward = compiling.PaddedCompiled(model, batch_size=4)
    first = _extract(model, batches[:1], forward)
    graphs = len(traced)
    compiled = _extract(model, batches, forward)
    assert graphs >= 1 and len(traced) == graphs  # the 3-image batch did not recompile
    assert not forward.eager
    np.testing.assert_allclose(first["pool"], eager["pool"][:4], rtol=1e-5, atol=1e-6)
    for name in eager:
        assert compiled[name].shape == eager[name].shape == (11, eager[name].shape[1])
        np.testing.assert_allclose(compiled[name], eager[name], rtol=1e-5, atol=1e-6)


def test_a_compiler_failure_falls_back_to_eager(monkeypatch, capsys):
    class Broken:
        def __call__(self, batch):
            raise RuntimeError("no working C++ compiler found")

    monkeypatch.setattr(torch, "compile", lambda model, **kwargs: Broken())
    model, batches = _net(), _batches()
    forward = compiling.PaddedCompiled(model, batch_size=4)
    fallback = _extract(model, batches, forward)
    eager = _extract(model, batches)
    assert forward.eager
    for name in eager:
        np.testing.assert_array_equal(fallback[name], eager[name])
    err = capsys.readouterr().err
    assert err.count("torch.compile failed") == 1 and "no working C++ compiler" in err


def test_out_of_memory_goes_eager_and_lets_the_caller_split(monkeypatch):
    class Oom:
        def __call__(self, batch):
            raise torch.OutOfMemoryError("CUDA out of memory")

    monkeypatch.setattr(torch, "compile", lambda model, **kwargs: Oom())
    model = _net()
    forward = compiling.PaddedCompiled(model, batch_size=4)
    with pytest.raises(torch.OutOfMemoryError):
        forward(_batches((4,))[0])
    assert forward.eager  # smaller chunks now run eagerly instead of being padded back up
    assert forward(_batches((2,))[0]).shape == (2, 16)


@pytest.mark.slow
def test_real_inductor_compile_gives_the_eager_features():
    torch._dynamo.reset()
    model, batches = _net(), _batches()
    eager = _extract(model, batches)
    forward = compiling.PaddedCompiled(model, batch_size=4)
    compiled = _extract(model, batches, forward)
    if forward.eager:
        pytest.skip("torch.compile is not usable on this machine")
    for name in eager:
        np.testing.assert_allclose(compiled[name], eager[name], rtol=1e-4, atol=1e-5)


def test_extraction_compiles_when_asked_and_writes_the_eager_features(monkeypatch, tmp_path):
    """``BENCHBASE_COMPILE=on`` (what ``--compile on`` sets) reaches ``features.extract``."""
    from benchbase_digits import PREFIX, open_digit

    import benchbase.extract.features as features
    from benchbase.api.types import Sample
    from benchbase.extract.backbones import resolve
    from benchbase.extract.cache import FeatureCache
    from benchbase.plugin.manager import Host

    made = []
    real_compile = torch.compile

    def cheap_compile(model, **kwargs):  # dynamo without inductor's code generation
        made.append(kwargs)
        return real_compile(model, backend="eager", **kwargs)

    monkeypatch.setattr(torch, "compile", cheap_compile)
    monkeypatch.setattr(features, "loader_workers", lambda: 0)
    spec = resolve(Host(entry_points=False), "timm/test_resnet:random")
    samples = [Sample(f"{PREFIX}{i}", i % 10) for i in range(13)]

    def run(policy: str):
        monkeypatch.setenv(compiling.ENV, policy)
        cache = FeatureCache(tmp_path / policy)
        writer = cache.writer(cache.key({"policy": policy}), {})
        model = spec.build()
        features.extract(
            spec.backbone,
            model,
            ["pool"],
            samples,
            open_digit,
            {"pool": writer},
            CPU,
            input_size=32,
            batch_size=5,
        )
        return np.asarray(writer.commit())

    eager = run("off")
    assert made == []
    compiled = run("on")
    assert made == [{"dynamic": False}]
    np.testing.assert_allclose(compiled, eager, rtol=1e-5, atol=1e-6)
