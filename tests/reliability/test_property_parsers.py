"""Split-list and annotation parsers never crash: arbitrary bytes give a clean
``DataLayoutError`` (a ``BenchbaseError``) or a correct parse.

Two levels: the parsers themselves (VOC ``<class>_<split>.txt`` and ``<split>.txt``, MIT-67
lists, CUB ``<id> <fields>`` tables, SUN397 lines) on generated content, and each plugin's
whole ``load`` on its fake layout with one text file replaced by arbitrary or mutated bytes.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import benchbase_cub as cub
import benchbase_mit67 as mit67
import benchbase_sun397 as sun397
import benchbase_voc as voc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchbase.errors import BenchbaseError, DataLayoutError
from benchbase.plugin.manager import Host

SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

token = st.text(
    st.characters(min_codepoint=33, max_codepoint=126, exclude_characters="/\\"),
    min_size=1,
    max_size=8,
)
space = st.sampled_from([" ", "  ", "\t", " \t "])
eol = st.sampled_from(["\n", "\r\n"])


@pytest.fixture(scope="module")
def scratch():
    folder = Path(tempfile.mkdtemp(prefix="bbrel-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


# --- parsers on generated content ---------------------------------------------------------


def _voc_dir(root: Path) -> Path:
    main = root / "VOC2007" / "ImageSets" / "Main"
    main.mkdir(parents=True, exist_ok=True)
    return root / "VOC2007"


@SETTINGS
@given(blob=st.binary(max_size=400))
def test_voc_class_list_on_arbitrary_bytes(scratch, blob):
    voc_dir = _voc_dir(scratch)
    (voc_dir / "ImageSets" / "Main" / "cat_trainval.txt").write_bytes(blob)
    try:
        labels = voc.read_class_labels(voc_dir, "cat", "trainval", "2007")
    except DataLayoutError as exc:
        assert "cat_trainval.txt line" in str(exc)
        return
    rows = [line.split() for line in blob.decode("utf-8", "replace").splitlines() if line.strip()]
    assert labels == {r[0]: int(r[1]) for r in rows}
    assert set(labels.values()) <= {1, -1, 0}


@SETTINGS
@given(
    rows=st.lists(st.tuples(token, st.sampled_from([1, -1, 0]), space, eol), max_size=20),
    pad=st.booleans(),
)
def test_voc_class_list_round_trips(scratch, rows, pad):
    voc_dir = _voc_dir(scratch)
    text = "".join(f"{i}{sp}{'' if not pad or v < 0 else ' '}{v}{e}" for i, v, sp, e in rows)
    (voc_dir / "ImageSets" / "Main" / "dog_trainval.txt").write_text(text, newline="")
    assert voc.read_class_labels(voc_dir, "dog", "trainval", "2007") == {
        i: v for i, v, _, _ in rows
    }


@SETTINGS
@given(blob=st.binary(max_size=400))
def test_voc_image_list_on_arbitrary_bytes(scratch, blob):
    voc_dir = _voc_dir(scratch)
    (voc_dir / "ImageSets" / "Main" / "trainval.txt").write_bytes(blob)
    ids = voc.read_image_ids(voc_dir, "trainval", "2007")
    text = blob.decode("utf-8", "replace")
    assert ids == [line.split()[0] for line in text.splitlines() if line.strip()]


@SETTINGS
@given(blob=st.binary(max_size=400))
def test_mit67_list_on_arbitrary_bytes(scratch, blob):
    path = scratch / "TrainImages.txt"
    path.write_bytes(blob)
    try:
        lines = mit67.read_list(path)
    except DataLayoutError as exc:
        assert str(path) in str(exc)
        return
    assert lines and all(len(x.split("/")) == 2 and ".." not in x.split("/") for x in lines)


@SETTINGS
@given(rows=st.lists(st.tuples(token, token, eol), min_size=1, max_size=20))
def test_mit67_list_round_trips(scratch, rows):
    path = scratch / "TestImages.txt"
    path.write_text("".join(f"{c}/{f}{e}" for c, f, e in rows), newline="")
    assert mit67.read_list(path) == [f"{c}/{f}" for c, f, _ in rows]


@SETTINGS
@given(blob=st.binary(max_size=400), columns=st.integers(2, 5))
def test_cub_table_on_arbitrary_bytes(scratch, blob, columns):
    path = scratch / "bounding_boxes.txt"
    path.write_bytes(blob)
    try:
        table = cub._read_table(path, columns, scratch)
    except DataLayoutError as exc:
        assert f"{path} line" in str(exc) and f"expected {columns}" in str(exc)
        return
    assert all(len(fields) == columns - 1 for fields in table.values())


@SETTINGS
@given(rows=st.lists(st.tuples(st.integers(1, 10**6), token, token, space, eol), max_size=20))
def test_cub_table_round_trips(scratch, rows):
    path = scratch / "images.txt"
    path.write_text("".join(f"{i}{sp}{a}/{b}{e}" for i, a, b, sp, e in rows), newline="")
    expected = {str(i): [f"{a}/{b}"] for i, a, b, _, _ in rows}
    assert cub._read_table(path, 2, scratch) == expected


@SETTINGS
@given(blob=st.binary(max_size=400))
def test_sun397_lines_and_class_labels_on_arbitrary_bytes(scratch, blob):
    path = scratch / "Training_01.txt"
    path.write_bytes(blob)
    lines = sun397._lines(path)
    assert all(line == line.strip() and line for line in lines)
    for line in lines:
        assert isinstance(sun397.class_label(line), str)


# --- whole loads with one file replaced -----------------------------------------------------


def _fake(name: str) -> tuple[Path, list[Path]]:
    ds = Host(entry_points=False).datasets.get(name)
    root = Path(tempfile.mkdtemp(prefix=f"bbrel-{name}-"))
    ds.fake(root, ds.placements[0])
    texts = sorted(p for p in root.rglob("*.txt") if p.is_file())
    # keep the per-class VOC lists to a few: the whole set is 60+ files of one shape
    return root, [
        p for p in texts if "_" not in p.stem or p.stem.startswith(("aeroplane", "Tr", "Te"))
    ]


@pytest.fixture(scope="module", params=["voc2007", "mit67", "cub200", "sun397"])
def fake_layout(request):
    root, texts = _fake(request.param)
    yield request.param, root, texts
    shutil.rmtree(root, ignore_errors=True)


def _mutations(original: bytes):  # noqa: ANN202
    lines = original.splitlines(keepends=True) or [b""]
    return st.one_of(
        st.binary(max_size=300),
        st.just(b""),
        st.just(original[: len(original) // 2]),  # truncated mid-line
        st.lists(st.sampled_from(lines), max_size=len(lines) + 3).map(b"".join),  # shuffled
        st.tuples(st.integers(0, max(len(original) - 1, 0)), st.binary(min_size=1, max_size=8)).map(
            lambda t: original[: t[0]] + t[1] + original[t[0] + len(t[1]) :]  # bytes overwritten
        ),
    )


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_load_with_one_damaged_text_file_never_crashes(fake_layout, data):
    name, root, texts = fake_layout
    ds = Host(entry_points=False).datasets.get(name)
    target = data.draw(st.sampled_from(texts), label="file")
    original = target.read_bytes()
    target.write_bytes(data.draw(_mutations(original), label="content"))
    try:
        loaded = ds.load(root, ds.resolve_options())
    except BenchbaseError as exc:
        assert str(exc)  # a message, no traceback
        return
    finally:
        target.write_bytes(original)
    n = len(loaded.classes)
    for split in loaded.splits:
        for sample in (*split.train, *split.test):
            labels = sample.label if isinstance(sample.label, tuple) else (sample.label,)
            assert all(-1 <= v < n for v in labels)
            assert Path(sample.source).is_file()
