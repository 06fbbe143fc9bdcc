"""What a dataset's content is, cheaply: the identity results and cached features key on.

A result or a cached feature belongs to the data it came from. Hashing every image would
cost as much as decoding it, so a file is identified by its path *relative to the data
root*, its size and its modification time (``os.stat``: what ``make`` and rsync trust);
a dataset by its classes, each split's membership and labels, and those file stamps.
The data root itself is left out (it goes into the provenance): the same layout copied
elsewhere with its times kept (``cp -a``, ``rsync -a``) reuses every result and feature,
while a changed label, split list or image (replaced in place: a new size or mtime)
changes the identity, so its cells and features are computed again.

Sources that are not files (``sklearn-digits:17``, a plugin's own ids) are identified by
the string alone; their dataset's ``version`` covers their content.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from benchbase.api.types import DatasetData, Sample

#: Bumped when what enters an identity changes, so older keys never match newer ones.
VERSION = 1


def stamp(source: str) -> str:
    """``size:mtime_ns`` of a file, or ``-`` when ``source`` is not a readable file."""
    try:
        st = os.stat(source)
    except (OSError, ValueError):
        return "-"
    return f"{st.st_size}:{st.st_mtime_ns}"


def stamps(sources: Iterable[str], of: Callable[[str], str] = stamp) -> dict[str, str]:
    """``of`` (:func:`stamp`) of each distinct source; threads hide a network file system's
    latency."""
    unique = list(dict.fromkeys(sources))
    if len(unique) < 2000:
        return {s: of(s) for s in unique}
    # one task per block: a thread pool's map submits every item on its own (its chunksize
    # is for process pools), which costs more than the stat calls themselves
    step = 512
    blocks = [unique[i : i + step] for i in range(0, len(unique), step)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        done = pool.map(lambda block: [of(s) for s in block], blocks)
        return dict(zip(unique, (v for block in done for v in block), strict=True))


class ContentKeys:
    """Each sample's content key: its key relative to the data root plus its file stamp."""

    def __init__(self, root: Path | str | None, file_stamps: dict[str, str] | None = None) -> None:
        self._prefixes: tuple[str, ...] = ()
        if root is not None:
            given = str(root).rstrip(os.sep)
            absolute = os.path.abspath(given)
            self._prefixes = tuple(dict.fromkeys(p + os.sep for p in (given, absolute) if p))
        self._stamps: dict[str, str] = dict(file_stamps or {})

    def relative(self, text: str) -> str:
        for prefix in self._prefixes:
            if text.startswith(prefix):
                return text[len(prefix) :]
        return text

    def stamp(self, source: str) -> str:
        known = self._stamps.get(source)
        if known is None:
            known = self._stamps[source] = stamp(source)
        return known

    def prefetch(self, samples: Iterable[Sample]) -> None:
        """Stat every not yet known source at once (in threads)."""
        todo = [str(s.source) for s in samples if str(s.source) not in self._stamps]
        self._stamps.update(stamps(todo))

    def key(self, sample: Sample) -> str:
        return f"{self.relative(sample.key)}#{self.stamp(str(sample.source))}"

    def keys(self, samples: Sequence[Sample]) -> list[str]:
        self.prefetch(samples)
        return [self.key(s) for s in samples]


def dataset_identity(data: DatasetData, keys: ContentKeys) -> str:
    """A digest of ``data``'s classes, every split's members and labels, and their files'
    stamps (via ``keys``): equal for equal content wherever the data root is."""
    digest = hashlib.sha256(f"v{VERSION}\0".encode())
    digest.update("\0".join(data.classes).encode())
    keys.prefetch(s for split in data.splits for s in (*split.train, *split.test))
    for split in data.splits:
        for part, samples in (("train", split.train), ("test", split.test)):
            digest.update(f"\1{split.name}\0{part}\0".encode())
            digest.update("\n".join(f"{keys.key(s)}\t{s.label}" for s in samples).encode())
    return digest.hexdigest()[:32]


def content_keys(samples: Sequence[Sample]) -> list[str]:
    """Each sample's key with its file's ``size:mtime_ns``: what a feature cache of a plugin
    keys on, so that an image replaced in place is never served stale features."""
    return ContentKeys(None).keys(samples)
