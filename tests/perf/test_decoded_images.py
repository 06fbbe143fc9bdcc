"""Sample lists decoded through the run's decoded-image cache (issue 18: CNNaug cells share
it): a second decode of the same list opens no image; a lazy list decodes only what is asked."""

from __future__ import annotations

import pytest
import torch

import benchbase.extract.device as device
from benchbase.api.types import Sample
from benchbase.extract.decoded import DecodedImages, decode_images

N = 12


@pytest.fixture
def counted(monkeypatch):
    """Digits samples and an ``open_image`` that counts its calls (in-process loading)."""
    from benchbase_digits import PREFIX, open_digit

    monkeypatch.setattr(device, "loader_workers", lambda: 0)
    calls: list[str] = []

    def open_image(sample: Sample):
        calls.append(sample.key)
        return open_digit(sample)

    return [Sample(f"{PREFIX}{i}", i % 10) for i in range(N)], open_image, calls


@pytest.mark.parametrize("resize", ["crop", "squash"])
def test_a_second_decode_of_the_list_reads_the_cache(counted, tmp_path, resize):
    samples, open_image, calls = counted
    plain = decode_images(samples, open_image, 20, "bilinear", resize)
    assert plain.dtype == torch.uint8 and plain.shape == (N, 3, 20, 20)
    first = decode_images(samples, open_image, 20, "bilinear", resize, tmp_path / "images")
    calls.clear()
    second = decode_images(samples, open_image, 20, "bilinear", resize, tmp_path / "images")
    assert calls == []
    assert torch.equal(first, plain) and torch.equal(second, plain)
    other = decode_images(samples[:5], open_image, 20, "bilinear", resize, tmp_path / "images")
    assert len(calls) == 5 and torch.equal(other, plain[:5])  # another list: its own entry


def test_decoded_images_decode_only_the_positions_asked_for(counted, tmp_path):
    samples, open_image, calls = counted
    lazy = DecodedImages(samples, open_image, 16, "bilinear", "squash", tmp_path / "images")
    assert calls == [] and len(lazy) == N
    some = lazy.take([7, 2, 9])
    assert calls == [samples[i].key for i in (7, 2, 9)]
    again = lazy.take([7, 2, 9])
    assert len(calls) == 3 and again is some
    whole = decode_images(samples, open_image, 16, "bilinear", "squash")
    assert torch.equal(some, whole[[7, 2, 9]])
