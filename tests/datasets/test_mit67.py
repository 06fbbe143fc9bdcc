"""MIT-67: the declared fake layout in every placement, and every bad input."""

from __future__ import annotations

from pathlib import Path

import pytest
from benchbase_mit67 import read_list
from declared import DeclaredLayout
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchbase.cli import main
from benchbase.errors import DataLayoutError
from benchbase.testing import make_fake_dataset


class TestMit67Layout(DeclaredLayout):
    name = "mit67"
    n_classes = 5
    splits = {"official": (20, 10)}  # 4 + 2 listed per class; the unlisted image is unused


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return make_fake_dataset("mit67", tmp_path / "data", "extracted")


def _info_error(root: Path, capsys) -> str:
    capsys.readouterr()
    assert main(["datasets", "info", "mit67", "--data-root", str(root)]) != 0
    return capsys.readouterr().err


def test_the_fake_lists_are_crlf(root: Path) -> None:
    assert b"\r\n" in (root / "TrainImages.txt").read_bytes()


def test_read_list_strips_cr_whitespace_and_blank_lines(tmp_path: Path) -> None:
    lst = tmp_path / "TestImages.txt"
    lst.write_bytes(b"kitchen/a.jpg\r\n  bar/b b.jpg \r\n\r\n\n")
    assert read_list(lst) == ["kitchen/a.jpg", "bar/b b.jpg"]


@pytest.mark.parametrize("line", ["../etc/passwd", "/abs/x.jpg", "nocategory.jpg", "a/b/c.jpg"])
def test_read_list_rejects_malformed_lines_with_the_line_number(tmp_path: Path, line: str) -> None:
    lst = tmp_path / "TrainImages.txt"
    lst.write_text(f"kitchen/a.jpg\n{line}\n")
    with pytest.raises(DataLayoutError, match=rf"{lst}.*line 2"):
        read_list(lst)


def test_missing_list_names_the_expected_path(root: Path, capsys) -> None:
    (root / "TestImages.txt").unlink()
    err = _info_error(root, capsys)
    assert "TestImages.txt" in err and str(root) in err


def test_empty_list_is_an_error(root: Path, capsys) -> None:
    (root / "TrainImages.txt").write_bytes(b"\r\n")
    assert str(root / "TrainImages.txt") in _info_error(root, capsys)


def test_list_naming_a_missing_file_names_it(root: Path, capsys) -> None:
    gone = root / "Images" / "bakery" / "bak_000.jpg"
    gone.unlink()
    err = _info_error(root, capsys)
    assert str(gone) in err and "TrainImages.txt" in err


def test_missing_images_folder_lists_the_paths_tried(tmp_path: Path, capsys) -> None:
    err = _info_error(tmp_path, capsys)
    assert str(tmp_path / "Images") in err and str(tmp_path / "indoorCVPR_09" / "Images") in err


def test_still_packed_archive_says_how_to_extract(tmp_path: Path, capsys) -> None:
    (tmp_path / "indoorCVPR_09.tar").write_bytes(b"\0" * 1024)
    err = _info_error(tmp_path, capsys)
    assert str(tmp_path / "indoorCVPR_09.tar") in err and "tar -xf" in err


def test_data_root_that_is_a_file(tmp_path: Path, capsys) -> None:
    f = tmp_path / "file"
    f.write_text("x")
    assert str(f) in _info_error(f, capsys)


def test_classes_are_the_sorted_categories(root: Path) -> None:
    from benchbase.plugin.manager import host

    data = host().datasets.get("mit67").load(root, {})
    assert data.classes == sorted(data.classes)
    train, test = data.splits[0].train, data.splits[0].test
    assert not {s.source for s in train} & {s.source for s in test}
    for s in (*train, *test):
        assert Path(s.source).parent.name == data.classes[s.label]


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.binary(max_size=300))
def test_read_list_never_crashes_on_arbitrary_bytes(tmp_path: Path, data: bytes) -> None:
    lst = tmp_path / "TrainImages.txt"
    lst.write_bytes(data)
    try:
        lines = read_list(lst)
    except DataLayoutError as exc:
        assert str(lst) in str(exc)
    else:
        assert lines and all(len(x.split("/")) == 2 and ".." not in x.split("/") for x in lines)
