"""Dataset listings cached per user, so that a warm re-run does not walk or parse a dataset again.

A dataset's ``load`` (walking class folders, parsing list files and thousands of annotation
XMLs) returns the same :class:`DatasetData` as long as the files it read are unchanged. The
first load runs under :func:`benchbase.data.touched.touched`, which records every file the
reader opened and every folder it listed; the listing is stored as JSON under
``cache_root()/listings/`` with the stamp (size, mtime, ctime) of each of those paths, of the
folders between the data root and them, of the data root, and of every folder holding a
sample's file (an image added, removed or renamed changes its folder's mtime). A later load
with the same dataset, version, reader code, data root and options re-stats those paths and
returns the stored listing when every stamp matches; a changed, added or removed layout file
makes it load afresh. A listing is not stored when one of its files changed within a second
before the load (a second change within the same timestamp tick could keep the stamp).
Images replaced in place are the data identity's concern (:mod:`benchbase.data.identity`
stamps every image).

A listing that does not survive the JSON round trip unchanged (a plugin's own ``Sample``
subclass, options holding tuples, a non-path ``source`` type) is not cached.
``BENCHBASE_LISTING_CACHE=0`` turns the cache off (a reader that decides from files it only
tests for existence, which the recorder cannot see).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from benchbase.api.types import DatasetData, ObjectBox, Sample, Split
from benchbase.data.identity import stamps
from benchbase.data.touched import touched
from benchbase.extract.cache import atomic_write_text
from benchbase.toolkit.libcache import cache_root

#: Bumped when an entry's format or what enters its key changes.
VERSION = 1
#: Layout files changed this recently before a load are not trusted to stamp it (ns).
RACY_NS = 1_000_000_000
#: Where the reader code and the listing's types live: their stamps enter the key.
_TYPES_FILE = sys.modules[DatasetData.__module__].__file__ or ""


def stamp(path: str) -> str:
    """``size:mtime_ns:ctime_ns`` of ``path`` (a file or a folder), ``-`` when it is missing;
    ctime catches a permission change, which leaves the mtime alone."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return "-"
    return f"{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}"


def stamp_all(paths: Iterable[str]) -> dict[str, str]:
    """:func:`stamp` of each path, in sorted order."""
    return stamps(sorted(set(paths)), of=stamp)


def load(
    name: str,
    version: str,
    reader: Callable[[Path, Mapping[str, Any]], DatasetData],
    root: Path,
    options: Mapping[str, Any],
) -> DatasetData:
    """``reader(root, options)``, answered from the listing cache when the layout files it
    read last time are unchanged."""
    key = _key(name, version, reader, root, options)
    if key is None:
        return reader(root, options)
    path = cache_root() / "listings" / f"{name}-{key}.json"
    cached = _read(path)
    if cached is not None:
        return cached
    started = time.time_ns()
    with touched() as paths:
        data = reader(root, options)
    _write(path, data, _layout_paths(Path(root), set(paths), data), started)
    return data


def _key(
    name: str, version: str, reader: Callable[..., Any], root: Path, options: Mapping[str, Any]
) -> str | None:
    """The entry's name: dataset, version, the reader's code files, root and options; None
    (do not cache) when the cache is off or the reader has no source file to stamp."""
    if os.environ.get("BENCHBASE_LISTING_CACHE", "1") == "0":
        return None
    func = getattr(reader, "func", reader)  # functools.partial
    module = sys.modules.get(getattr(func, "__module__", "") or "")
    source = getattr(module, "__file__", None)
    if not source:
        return None
    code_dir = os.path.dirname(os.path.abspath(source))
    code = [
        os.path.join(code_dir, f)
        for f in sorted(os.listdir(code_dir))
        if f.endswith((".py", ".toml", ".json", ".txt"))
    ]
    try:
        text = json.dumps(
            {
                "version": VERSION,
                "dataset": [name, version],
                "reader": [func.__module__, getattr(func, "__qualname__", repr(func))],
                "partial": [
                    repr(getattr(reader, "args", ())),
                    repr(getattr(reader, "keywords", {})),
                ],
                "code": stamp_all([*code, _TYPES_FILE]),
                "root": os.path.abspath(root),
                "options": options,
            },
            sort_keys=True,
        )
    except (TypeError, ValueError):  # options JSON cannot hold: no stable key
        return None
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def _layout_paths(root: Path, paths: set[str], data: DatasetData) -> set[str]:
    """What the listing depends on: the paths the reader read, the folders from the data
    root down to each, the data root, and the folders holding the samples' files."""
    top = os.path.abspath(root)
    found = {top, *paths}
    # an id without a folder part ("sklearn-digits:17") names no file
    folders = {os.path.dirname(str(s.source)) for s in _samples(data)} - {""}
    found.update(a for a in map(os.path.abspath, folders) if os.path.isdir(a))
    for path in list(found):
        parent = os.path.dirname(path)
        while parent.startswith(top + os.sep) and parent not in found:
            found.add(parent)
            parent = os.path.dirname(parent)
    return found


def _samples(data: DatasetData) -> list[Sample]:
    return list({id(s): s for split in data.splits for s in (*split.train, *split.test)}.values())


# --- entries ---------------------------------------------------------------------------------


def _read(path: Path) -> DatasetData | None:
    """The stored listing when its file is intact and every layout stamp still matches."""
    try:
        entry = json.loads(path.read_text())
        stamps = entry["stamps"]
        if stamp_all(stamps) != stamps:
            return None
        return _decode(entry["data"])
    except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError):
        return None  # missing, damaged or of another shape: load afresh


def _write(path: Path, data: DatasetData, paths: set[str], started: int) -> None:
    """Store the listing with the stamps of ``paths``, unless one of them changed less than
    :data:`RACY_NS` before the load ``started``: a second change within the file system's
    timestamp tick could leave the same stamp (git's "racy clean" problem)."""
    stamps = stamp_all(paths)
    if any(_mtime(s) > started - RACY_NS for s in stamps.values()):
        return
    try:
        encoded = _encode(data)
    except (TypeError, ValueError):
        return
    if encoded is None or not _same(_decode(json.loads(json.dumps(encoded))), data):
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, json.dumps({"stamps": stamps, "data": encoded}))
    except OSError:
        pass  # a read-only or full cache only costs speed


def _mtime(stamp_text: str) -> int:
    return int(stamp_text.split(":")[1]) if stamp_text != "-" else 0


def _encode(data: DatasetData) -> dict[str, Any] | None:
    if data.source is not None:
        return None
    samples = _samples(data)
    if any(type(s) is not Sample or not isinstance(s.source, (str, Path)) for s in samples):
        return None
    index = {id(s): i for i, s in enumerate(samples)}
    return {
        "classes": data.classes,
        "samples": [
            [
                str(s.source),
                isinstance(s.source, Path),
                s.label,
                s.box,
                None if s.boxes is None else [list(vars(b).values()) for b in s.boxes],
            ]
            for s in samples
        ],
        "splits": [
            [sp.name, [index[id(s)] for s in sp.train], [index[id(s)] for s in sp.test]]
            for sp in data.splits
        ],
        "options": data.options,
        "skipped": data.skipped,
        "halves": data.halves,
    }


def _decode(encoded: dict[str, Any]) -> DatasetData:
    samples = [
        Sample(
            source=Path(source) if is_path else source,
            label=tuple(label) if isinstance(label, list) else label,
            box=None if box is None else tuple(box),
            boxes=None if boxes is None else tuple(ObjectBox(*b) for b in boxes),
        )
        for source, is_path, label, box, boxes in encoded["samples"]
    ]
    halves = encoded["halves"]
    return DatasetData(
        classes=encoded["classes"],
        splits=[
            Split(name, [samples[i] for i in train], [samples[i] for i in test])
            for name, train, test in encoded["splits"]
        ],
        options=encoded["options"],
        skipped=encoded["skipped"],
        halves=None if halves is None else (halves[0], halves[1]),
    )


def _same(decoded: DatasetData, data: DatasetData) -> bool:
    """Whether ``decoded`` is ``data`` field for field (types included where JSON loses them)."""

    def sample_eq(a: Sample, b: Sample) -> bool:
        return (
            a == b
            and a.boxes == b.boxes
            and type(a.source) is type(b.source)
            and type(a.label) is type(b.label)
            and type(a.box) is type(b.box)
        )

    return (
        decoded.classes == data.classes
        and decoded.options == data.options
        and _typed(decoded.options) == _typed(data.options)
        and decoded.skipped == data.skipped
        and decoded.halves == data.halves
        and [s.name for s in decoded.splits] == [s.name for s in data.splits]
        and all(
            len(d.train) == len(o.train)
            and len(d.test) == len(o.test)
            and all(map(sample_eq, d.train, o.train))
            and all(map(sample_eq, d.test, o.test))
            for d, o in zip(decoded.splits, data.splits, strict=True)
        )
    )


def _typed(value: Any) -> Any:
    """``value`` with the type of every container and scalar spelled out (tuple != list)."""
    if isinstance(value, Mapping):
        return ("map", type(value).__name__, sorted((str(k), _typed(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, [_typed(v) for v in value])
    return (type(value).__name__, value)
