"""--decode: the batched device decoder, exercised on the CPU (``decode_jpeg(device="cpu")``
runs the same batching, resizing and per-file fallback as nvJPEG on CUDA)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from benchbase.api.types import Sample, open_image_file
from benchbase.errors import BenchbaseError
from benchbase.extract import jpegdecode, pipeline
from benchbase.extract.imagecache import ImageCache
from benchbase.extract.images import ImageList, resize_crop

CPU = torch.device("cpu")


def photo(w: int, h: int, seed: int, mode: str = "RGB") -> Image.Image:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    rgb = np.stack([xx * 255 / w, yy * 255 / h, (xx * yy) % 200], -1) + rng.normal(0, 8, (h, w, 3))
    return Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8)).convert(mode)


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    """Baseline JPEGs of several sizes, a greyscale one, and three the device cannot take."""
    out = {}
    for name, (img, kw) in {
        "wide": (photo(120, 80, 0), {}),
        "tall": (photo(70, 110, 1), {}),
        "grey": (photo(90, 90, 2, "L"), {}),
        "progressive": (photo(100, 75, 3), {"progressive": True}),
        "cmyk": (photo(80, 100, 4, "CMYK"), {}),
    }.items():
        out[name] = tmp_path / f"{name}.jpg"
        img.save(out[name], "JPEG", quality=90, **kw)
    out["png"] = tmp_path / "png.jpg"  # a PNG behind a .jpg name
    photo(64, 96, 5).save(out["png"], "PNG")
    return out


def test_only_baseline_8bit_jpegs_go_to_the_device(files: dict[str, Path]) -> None:
    kinds = {name: jpegdecode.device_decodable(p.read_bytes()) for name, p in files.items()}
    assert kinds == {
        "wide": True, "tall": True, "grey": True,
        "progressive": False, "cmyk": False, "png": False,
    }  # fmt: skip
    assert not jpegdecode.device_decodable(b"")
    assert not jpegdecode.device_decodable(b"\xff\xd8\xff")  # truncated


def decode_all(samples, size=48, crop=0.875, interp="bilinear", batch_size=4):  # noqa: ANN001, ANN201
    transform = resize_crop(size, crop, interp)
    pil = ImageList(samples, open_image_file, transform)
    decoder = jpegdecode.BatchDecoder(size, crop, interp, CPU, fallback=pil.__getitem__)
    encoded = jpegdecode.EncodedImages(samples, open_image_file, transform)
    rows = {}
    for start, items in pipeline.batches(encoded, batch_size, 0, collate=jpegdecode.keep_list):
        for i, img in enumerate(decoder(items, start)):
            rows[start + i] = img
    return [rows[i] for i in range(len(samples))], [pil[i] for i in range(len(samples))], decoder


@pytest.mark.parametrize("interp", ["bilinear", "bicubic"])
def test_batched_decode_matches_pil_and_falls_back_per_file(files, interp) -> None:  # noqa: ANN001
    names = list(files)
    samples = [Sample(str(files[n]), i) for i, n in enumerate(names)]
    got, ref, _ = decode_all(samples, interp=interp)
    for name, a, b in zip(names, got, ref, strict=True):
        assert a.shape == b.shape == (3, 48, 48) and a.dtype == torch.uint8
        diff = (a.int() - b.int()).abs().float()
        if jpegdecode.device_decodable(files[name].read_bytes()):
            assert diff.mean() <= 2.0, name  # another resampling filter, same image
        else:
            assert diff.max() == 0, name  # decoded by PIL: the same pixels


def test_a_file_the_decoder_rejects_goes_to_pil(files, monkeypatch) -> None:  # noqa: ANN001
    from torchvision import io as tvio

    real = tvio.decode_jpeg
    bad = files["tall"].read_bytes()

    def picky(data, **kw):  # noqa: ANN001, ANN003, ANN202
        blobs = data if isinstance(data, list) else [data]
        if any(b.numel() == len(bad) for b in blobs):
            raise RuntimeError("nvjpeg: unsupported")
        return real(data, **kw)

    monkeypatch.setattr(tvio, "decode_jpeg", picky)
    samples = [Sample(str(files[n]), 0) for n in ("wide", "tall", "grey")]
    got, ref, decoder = decode_all(samples)
    assert decoder.fell_back == 1
    assert torch.equal(got[1], ref[1])  # the rejected file: PIL's pixels
    assert (got[0].int() - ref[0].int()).abs().float().mean() <= 2.0


def test_box_crops_use_the_dataset_path(files) -> None:  # noqa: ANN001
    samples = [Sample(str(files["wide"]), 0, box=(10, 5, 60, 50))]
    got, ref, _ = decode_all(samples)
    assert torch.equal(got[0], ref[0])


def test_decode_option_resolution() -> None:
    cuda = torch.device("cuda")  # a device object only: nothing runs on it
    assert jpegdecode.resolve_decoder("auto", cuda, open_image_file) == "nvjpeg"
    assert jpegdecode.resolve_decoder("auto", CPU, open_image_file) == "pil"
    assert jpegdecode.resolve_decoder("auto", cuda, lambda s: None) == "pil"  # own opener
    assert jpegdecode.resolve_decoder("cpu", cuda, open_image_file) == "pil"
    assert jpegdecode.resolve_decoder("gpu", cuda, open_image_file) == "nvjpeg"
    with pytest.raises(BenchbaseError, match="needs a CUDA device"):
        jpegdecode.resolve_decoder("gpu", CPU, open_image_file)
    with pytest.raises(BenchbaseError, match="opens its images itself"):
        jpegdecode.resolve_decoder("gpu", cuda, lambda s: None)
    with pytest.raises(BenchbaseError, match="auto, cpu, gpu"):
        jpegdecode.resolve_decoder("nvjpeg", cuda, open_image_file)


def test_the_image_cache_key_includes_the_decoder() -> None:
    pil = ImageCache.identity(["a", "b"], 224, 0.875, "bilinear", "pil")
    dev = ImageCache.identity(["a", "b"], 224, 0.875, "bilinear", "nvjpeg")
    assert pil != dev and dev["backend"] == "nvjpeg"


def test_extract_with_the_device_decoder_on_a_cpu_stand_in(files, tmp_path) -> None:  # noqa: ANN001
    """The whole extraction with decoder="nvjpeg" (run on the CPU): features close to PIL's."""
    import benchbase.extract.features as features
    from benchbase.extract.backbones import resolve
    from benchbase.extract.cache import FeatureCache
    from benchbase.plugin.manager import Host

    spec = resolve(Host(entry_points=False), "timm/test_resnet:random")
    samples = [Sample(str(p), i % 2) for i, p in enumerate(files.values())]
    cache = FeatureCache(tmp_path / "features")
    out = {}
    for decoder in ("pil", "nvjpeg"):
        writer = cache.writer(cache.key({"decoder": decoder}), {})
        features.extract(
            spec.backbone, spec.build(), ["pool"], samples, open_image_file, {"pool": writer},
            CPU, input_size=32, batch_size=4, image_cache=ImageCache(tmp_path / "images"),
            decoder=decoder,
        )  # fmt: skip
        out[decoder] = np.asarray(writer.commit())
    assert len(list((tmp_path / "images").glob("*.npy"))) == 2  # one entry per decoder
    np.testing.assert_allclose(out["nvjpeg"], out["pil"], rtol=0.1, atol=0.05)
