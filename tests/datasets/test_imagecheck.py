"""benchbase.data.imagecheck: bad images found with their reasons; a cache of good files that
re-checks a file once it changes; screening that drops and records bad files."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchbase.api.types import DatasetData, Sample, Split
from benchbase.data.imagecheck import find_bad_images, screen
from benchbase.errors import BenchbaseError
from benchbase.testing import save_image, synthetic_image


@pytest.fixture
def files(tmp_path: Path) -> list[Path]:
    paths = [tmp_path / f"img{i}.jpg" for i in range(4)]
    for i, p in enumerate(paths):
        save_image(synthetic_image(i % 2, 2, seed=i), p, fmt="PNG" if i == 3 else "JPEG")
    return paths


def test_missing_truncated_and_non_images_are_reported(files: list[Path], tmp_path: Path):
    files[1].write_bytes(files[1].read_bytes()[:40])
    files[2].write_text("RENAME2")
    samples = [Sample(str(p), 0) for p in [*files, tmp_path / "gone.jpg"]]
    bad = {b.source: b.reason for b in find_bad_images(samples, workers=2)}
    assert set(bad) == {str(files[1]), str(files[2]), str(tmp_path / "gone.jpg")}
    assert bad[str(tmp_path / "gone.jpg")] == "file does not exist"


def test_cache_remembers_good_files_until_they_change(files: list[Path], tmp_path: Path):
    cache = tmp_path / "cache" / "ok.json"
    samples = [Sample(str(p), 0) for p in files]
    assert find_bad_images(samples, cache_file=cache) == []
    opened: list[str] = []

    def spy(sample: Sample):
        from benchbase.api.types import open_image_file

        opened.append(str(sample.source))
        return open_image_file(sample)

    assert find_bad_images(samples, spy, cache_file=cache) == []
    assert opened == []  # every file was known good
    files[0].write_bytes(b"broken now")
    bad = find_bad_images(samples, spy, cache_file=cache)
    assert [b.source for b in bad] == [str(files[0])] and opened == [str(files[0])]


def test_screen_fails_listing_bad_files_or_drops_and_records_them(files: list[Path]) -> None:
    files[0].write_bytes(b"junk")
    train = [Sample(str(files[0]), 0), Sample(str(files[1]), 1)]
    test = [Sample(str(files[2]), 0), Sample(str(files[3]), 1)]
    data = DatasetData(["a", "b"], [Split("s", train, test)], skipped=["x/RENAME2"])
    with pytest.raises(BenchbaseError, match="--skip-bad-images") as err:
        screen("demo", data)
    assert str(files[0]) in str(err.value)
    kept = screen("demo", data, skip_bad=True)
    assert kept.splits[0].train == train[1:] and kept.splits[0].test == test
    assert kept.skipped[0] == "x/RENAME2" and str(files[0]) in kept.skipped[1]
