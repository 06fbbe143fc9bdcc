"""Find the images of a dataset that are missing or do not decode, before any extraction.

Used by ``benchbase datasets check`` and by the runner: by default a run with bad images
fails listing them; with ``--skip-bad-images`` they are left out of every split and
recorded in :attr:`benchbase.api.types.DatasetData.skipped` (which enters result provenance).

Decoding every image once costs about as much as one pass of JPEG decoding, so files that
decoded before are remembered in an optional JSON cache keyed by path, size and mtime.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from benchbase.api.types import open_image_file
from benchbase.errors import BenchbaseError, DiskFullError, is_disk_full, listing
from benchbase.progress import phase
from benchbase.run.owner import me

if TYPE_CHECKING:
    from PIL import Image

    from benchbase.api.types import DatasetData, Sample, Split

#: How many bad files an error message lists before summarising the rest.
SHOWN = 20


@dataclass(frozen=True)
class BadImage:
    source: str
    reason: str

    def __str__(self) -> str:
        return f"{self.source}: {self.reason}"


def _stamp(source: str) -> str | None:
    try:
        st = os.stat(source)
    except OSError:
        return None
    return f"{st.st_size}:{st.st_mtime_ns}"


class _OkCache:
    """Files known to decode, keyed by path → "size:mtime_ns" (a stale stamp is re-checked)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.ok: dict[str, str] = {}
        if path is not None and path.is_file():
            try:
                loaded = json.loads(path.read_text())
            except (ValueError, OSError):
                loaded = {}  # a damaged cache only costs a re-check
            # valid JSON of another shape is damaged too: keep only path → stamp strings
            if isinstance(loaded, dict):
                self.ok = {k: v for k, v in loaded.items() if isinstance(v, str)}

    def known_good(self, source: str) -> bool:
        stamp = self.ok.get(source)
        return stamp is not None and stamp == _stamp(source)

    def save(self) -> None:
        if self.path is None:
            return

        tmp = self.path.with_suffix(f".{me().token}.tmp")  # unique across containers too
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps(self.ok))
            os.replace(tmp, self.path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            if is_disk_full(exc):
                raise DiskFullError(self.path, exc.strerror or exc) from exc
            raise


def _decode(sample: Sample, open_image: Callable[[Sample], Image.Image]) -> str | None:
    """None if ``sample`` opens and fully decodes, else the reason."""
    try:
        img = open_image(sample)
        img.load()
        if img.width < 1 or img.height < 1:
            return "empty image"
    except FileNotFoundError:
        return "file does not exist"
    except Exception as exc:  # any decoder failure is a bad image
        return f"{type(exc).__name__}: {exc}"
    return None


def find_bad_images(
    samples: Iterable[Sample],
    open_image: Callable[[Sample], Image.Image] | None = None,
    workers: int | None = None,
    cache_file: Path | None = None,
    progress: str | None = None,
) -> list[BadImage]:
    """Every distinct sample source that is missing or does not decode (sorted by path)."""

    opener = open_image or open_image_file
    unique: dict[str, Sample] = {}
    for s in samples:
        unique.setdefault(str(s.source), s)
    cache = _OkCache(cache_file)
    todo = [s for src, s in unique.items() if not cache.known_good(src)]
    bad: list[BadImage] = []
    n_workers = workers or min(8, (os.cpu_count() or 1))

    with (
        (
            phase(progress or "check", len(todo), "img")
            if progress and len(todo) > 200
            else _no_phase()
        ) as bar,
        ThreadPoolExecutor(max_workers=n_workers) as pool,
    ):
        for sample, reason in zip(
            todo, pool.map(lambda s: _decode(s, opener), todo, chunksize=64), strict=True
        ):
            src = str(sample.source)
            if reason is None:
                stamp = _stamp(src)
                if stamp is not None:
                    cache.ok[src] = stamp
            else:
                bad.append(BadImage(src, reason))
            if bar is not None:
                bar.update(1)
    cache.save()
    return sorted(bad, key=lambda b: b.source)


@contextmanager
def _no_phase() -> Iterator[None]:
    yield None


def describe(bad: Sequence[BadImage]) -> str:
    """The first :data:`SHOWN` bad files, one per line, and how many more there are."""
    return listing(bad, SHOWN)


def screen(
    name: str,
    data: DatasetData,
    open_image: Callable[[Sample], Image.Image] | None = None,
    skip_bad: bool = False,
    cache_file: Path | None = None,
) -> DatasetData:
    """Check every image ``data``'s splits use (half A's too, under class halves). With bad
    images: raise listing them, or (``skip_bad``) return ``data`` without them and with them
    recorded in ``skipped``."""
    source = list(data.source.splits.values()) if data.source else []
    samples = [s for split in (*data.splits, *source) for s in (*split.train, *split.test)]
    bad = find_bad_images(samples, open_image, cache_file=cache_file, progress=f"{name}: check")
    if not bad:
        return data
    if not skip_bad:
        raise BenchbaseError(
            f"dataset {name!r}: {len(bad)} image(s) are missing or do not decode:\n"
            f"{describe(bad)}\nRemove or replace them, or re-run with --skip-bad-images to "
            "leave them out (they are recorded in each result's provenance)."
        )
    drop = {b.source for b in bad}

    def kept(split: Split) -> Split:
        return replace(
            split,
            train=[s for s in split.train if str(s.source) not in drop],
            test=[s for s in split.test if str(s.source) not in drop],
        )

    splits = [kept(split) for split in data.splits]
    if data.source is not None:
        halves = {k: kept(v) for k, v in data.source.splits.items()}
        data = replace(data, source=replace(data.source, splits=halves))
    for split in splits:
        if not split.train or not split.test:
            raise BenchbaseError(
                f"dataset {name!r}: split {split.name!r} is empty once the bad images are left out"
            )
    skipped = [*data.skipped, *(f"{b.source} (bad image: {b.reason})" for b in bad)]
    return replace(data, splits=splits, skipped=skipped)
