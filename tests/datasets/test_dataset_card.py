"""A dataset carries its own card: a third-party dataset's card drives ``datasets download``
(from a file:// URL), ``datasets check`` (counts) and the leaderboards' headline metric."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path
from typing import Any

import pytest

from benchbase import Dataset, DatasetData, Sample, Split
from benchbase.cli import main
from benchbase.errors import BenchbaseError
from benchbase.leaderboard.collect import Method, card_metric
from benchbase.testing import synthetic_image

CLASSES = ["ant", "bee"]


def _load(root: Path, options: Any) -> DatasetData:
    base = Path(root) / "tinycards"
    if not base.is_dir():
        from benchbase.errors import DataLayoutError

        raise DataLayoutError(f"expected {base}")
    split: dict[str, list[Sample]] = {"train": [], "test": []}
    for c, name in enumerate(CLASSES):
        for path in sorted((base / name).glob("*.png")):
            split["train" if path.stem.startswith("tr") else "test"].append(Sample(path, c))
    return DatasetData(list(CLASSES), [Split("official", split["train"], split["test"])])


def _archive(tmp_path: Path) -> Path:
    """A tar of tinycards/<class>/{tr0,tr1,te0}.png: 4 train and 2 test images."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for c, name in enumerate(CLASSES):
            for stem in ("tr0", "tr1", "te0"):
                png = io.BytesIO()
                synthetic_image(c, 2, seed=len(stem) + c).save(png, format="PNG")
                info = tarfile.TarInfo(f"tinycards/{name}/{stem}.png")
                info.size = png.tell()
                png.seek(0)
                tar.addfile(info, png)
    path = tmp_path / "tinycards.tar"
    path.write_bytes(buf.getvalue())
    return path


def _card_file(tmp_path: Path, archive: Path, train: int = 4) -> Path:
    md5 = hashlib.md5(archive.read_bytes()).hexdigest()
    card = tmp_path / "tinycards.toml"
    card.write_text(
        'name = "tinycards"\n'
        'homepage = "https://example.org/tinycards"\n'
        "[[archives]]\n"
        f'filename = "tinycards.tar"\nurl = "{archive.as_uri()}"\nmd5 = "{md5}"\n'
        'extract_to = "."\n'
        '[protocol]\nmetric = "top1"\n'
        f"[expected]\nclasses = 2\n[expected.split]\ntrain = {train}\ntest = 2\n"
    )
    return card


def _dataset(card: Any) -> Dataset:
    return Dataset(name="tinycards", load=_load, metric="top1", card=card)


def test_download_and_check_follow_the_datasets_own_card(
    tmp_path: Path, benchbase_plugin: Any, capsys: Any
) -> None:
    card = _card_file(tmp_path, _archive(tmp_path))
    benchbase_plugin(_dataset(card))
    root = tmp_path / "data"
    assert (
        main(["datasets", "download", "tinycards", "--data-root", str(root), "--no-progress"]) == 0
    )
    assert sorted(p.name for p in (root / "tinycards" / "bee").iterdir()) == [
        "te0.png",
        "tr0.png",
        "tr1.png",
    ]
    capsys.readouterr()
    assert main(["datasets", "check", "tinycards", "--data-root", str(root), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] and report["images"] == 6
    assert {r["what"]: (r["found"], r["expected"]) for r in report["counts"]} == {
        "classes": (2, 2),
        "official train": (4, 4),
        "official test": (2, 2),
    }
    assert main(["datasets", "info", "tinycards", "--data-root", str(root), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["homepage"] == "https://example.org/tinycards"


def test_check_fails_when_counts_differ_from_the_card(
    tmp_path: Path, benchbase_plugin: Any, capsys: Any
) -> None:
    archive = _archive(tmp_path)
    benchbase_plugin(_dataset(_card_file(tmp_path, archive, train=5)))
    root = tmp_path / "data"
    with tarfile.open(archive) as tar:
        tar.extractall(root, filter="data")
    capsys.readouterr()
    assert main(["datasets", "check", "tinycards", "--data-root", str(root)]) == 1
    assert "official train: 4 (card: 5) MISMATCH" in capsys.readouterr().out


def test_headline_metric_is_the_one_the_card_declares(benchbase_plugin: Any) -> None:
    def method() -> Method:
        m = Method("s", "tinycards", "b", "w", "l", "linear-svm", {})
        m.values = {"mean_per_class_accuracy": {"0": 0.5}, "top1": {"0": 0.6}}
        return m

    assert method().metric == "mean_per_class_accuracy"  # not registered: MAIN_METRICS order
    benchbase_plugin(_dataset({"protocol": {"metric": "top1"}}))  # a card given as a mapping
    assert card_metric("tinycards") == "top1"
    assert method().metric == "top1"


def test_a_dataset_without_a_card_has_nothing_to_download(
    tmp_path: Path, benchbase_plugin: Any, capsys: Any
) -> None:
    benchbase_plugin(_dataset(None))
    assert main(["datasets", "download", "tinycards", "--data-root", str(tmp_path)]) == 2
    assert "carries no card" in capsys.readouterr().err


def test_a_missing_card_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(BenchbaseError, match=r"dataset card of 'tinycards' .*nope.toml"):
        _dataset(tmp_path / "nope.toml").read_card()
    with pytest.raises(BenchbaseError, match="card must be a path"):
        _dataset(42)


def test_built_in_datasets_carry_their_shipped_cards() -> None:
    from declared import shipped_cards

    from benchbase.plugin.manager import host

    carried = {ds.name: ds.read_card() for ds in host().datasets if ds.card is not None}
    assert set(carried) == set(shipped_cards())
    assert all(carried[name] == shipped_cards()[name] for name in carried)
