"""A result belongs to the data it came from: cell fingerprints and feature-cache keys carry
the dataset's content identity (sample keys relative to the data root, labels, split
membership, each file's size and mtime); the data root itself is provenance only."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from pathlib import Path

import pytest

from benchbase import load_results
from benchbase.api.types import DatasetData, Sample, Split
from benchbase.data.identity import ContentKeys, dataset_identity
from benchbase.plugin.manager import Host
from benchbase.run.runner import Runner
from benchbase.run.suites import suite_from_toml
from benchbase.testing import make_fake_dataset, save_image, synthetic_image

SUITE = """
name = "ident"
datasets = ["caltech101"]
backbones = ["timm/test_resnet:random"]
strategies = ["logreg"]
input_size = 32
[options.caltech101]
train_per_class = 3
test_per_class = 5
splits = 1
[params.logreg]
C = [1.0]
"""


@pytest.fixture(scope="module")
def host():
    return Host(entry_points=False)


def _run(host, suite_file, root: Path, out: Path, text: str = SUITE):
    return Runner(host, suite_from_toml(suite_file(text)), out, data_root=root, device="cpu").run()


def _images(root: Path) -> list[Path]:
    return sorted(root.rglob("*.jpg"))


def _stored(out: Path) -> list[tuple[str, dict]]:
    with sqlite3.connect(out / "results.sqlite") as conn:
        return [
            (fp, json.loads(info))
            for fp, info in conn.execute("SELECT fingerprint, info FROM cells")
        ]


def test_other_data_recomputes_changed_images_are_re_extracted_and_a_copy_reuses(
    host, suite_file, tmp_path
):
    fake, real, out = tmp_path / "fake", tmp_path / "real", tmp_path / "runs"
    make_fake_dataset("caltech101", fake)
    make_fake_dataset("caltech101", real)
    for i, path in enumerate(_images(real)):  # same layout, other pictures
        save_image(synthetic_image(i % 3, 3, seed=1000 + i, size=(40, 40)), path)

    first = _run(host, suite_file, fake, out)
    assert (first.done, first.skipped) == (1, 0)
    second = _run(host, suite_file, real, out)  # was: "0 cells computed, 1 already done"
    assert (second.done, second.skipped) == (1, 0) and second.forward_images > 0
    newest = load_results(out)  # what tables show: the newest cell of the configuration
    assert len(set(newest["fingerprint"])) == 1
    info = dict(_stored(out))[newest["fingerprint"].iloc[0]]
    assert info["data_root"] == str(real.resolve()) and info["data_identity"]

    # an image the split uses, replaced in place: new content, size and mtime
    runner = Runner(host, suite_from_toml(suite_file(SUITE)), out, data_root=real)
    victim = Path(runner.plan()[0].data["caltech101"].splits[0].train[0].source)
    before = victim.stat()
    save_image(synthetic_image(2, 3, seed=7, size=(64, 48)), victim)
    os.utime(victim, ns=(before.st_atime_ns, before.st_mtime_ns + 10**9))
    third = _run(host, suite_file, real, out)
    assert (third.done, third.skipped) == (1, 0)
    assert third.forward_images == second.forward_images  # features extracted again

    # the same layout elsewhere (times kept, as cp -a / rsync -a do): everything reused
    moved = tmp_path / "moved"
    shutil.copytree(real, moved)
    again = _run(host, suite_file, moved, out)
    assert (again.done, again.skipped, again.forward_images) == (0, 1, 0)
    other_c = _run(host, suite_file, moved, out, SUITE.replace("C = [1.0]", "C = [10.0]"))
    assert (other_c.done, other_c.forward_images) == (1, 0)  # a new cell, cached features


def _data(label: int = 1, test_source: str = "b.jpg") -> DatasetData:
    return DatasetData(
        ["x", "y"],
        [
            Split(
                "s0",
                [Sample("/r/a.jpg", 0), Sample("/r/c.jpg", label)],
                [Sample(f"/r/{test_source}", 1)],
            )
        ],
    )


def test_dataset_identity_follows_labels_membership_and_files_not_the_root(tmp_path):
    base = dataset_identity(_data(), ContentKeys("/r"))
    assert dataset_identity(_data(label=0), ContentKeys("/r")) != base  # a relabelled image
    assert dataset_identity(_data(test_source="d.jpg"), ContentKeys("/r")) != base  # membership
    moved = DatasetData(
        ["x", "y"],
        [
            Split(
                "s0",
                [Sample("/elsewhere/a.jpg", 0), Sample("/elsewhere/c.jpg", 1)],
                [Sample("/elsewhere/b.jpg", 1)],
            )
        ],
    )
    assert dataset_identity(moved, ContentKeys("/elsewhere/")) == base

    image = tmp_path / "a.jpg"
    image.write_bytes(b"one")
    keys = ContentKeys(tmp_path)
    first = keys.key(Sample(str(image), 0))
    assert first.startswith("a.jpg#3:")
    image.write_bytes(b"three")  # same path, new size
    assert ContentKeys(tmp_path).key(Sample(str(image), 0)) != first
