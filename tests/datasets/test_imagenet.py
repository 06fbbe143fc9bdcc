"""The ``imagenet`` dataset on fake ILSVRC-2012 layouts (every placement, the Kaggle flat
val with LOC_val_solution.csv), the authors' natural / man-made halves, and a missing
layout's error naming where to put it."""

from __future__ import annotations

import json

import benchbase_imagenet as imagenet
import pytest

from benchbase.cli import main
from benchbase.errors import DataLayoutError
from benchbase.plugin.manager import host
from benchbase.run import halves


def _load(root, **options):
    ds = host().datasets.get("imagenet")
    return ds.load(root, ds.resolve_options(options))


@pytest.mark.parametrize("placement", ["torchvision", "extracted", "kaggle"])
def test_fake_layouts_load_with_sorted_wnids(tmp_path, placement):
    assert (
        main(["datasets", "fake", "imagenet", "--out", str(tmp_path), "--placement", placement])
        == 0
    )
    data = _load(tmp_path)
    assert data.classes == sorted(data.classes) and len(data.classes) == 6
    (split,) = data.splits
    assert len(split.train) == 36 and len(split.test) == 18
    # every validation image carries the class it was written for (its wnid folder or CSV row)
    for sample in split.test:
        number = int(sample.source.rsplit("_", 1)[1].split(".")[0])
        assert sample.label == (number - 1) // 3


def test_info_json_and_train_per_class(tmp_path, capsys):
    main(["datasets", "fake", "imagenet", "--out", str(tmp_path)])
    capsys.readouterr()
    assert main(["datasets", "info", "imagenet", "--data-root", str(tmp_path), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["metric"] == "top1" and info["splits"][0]["test"] == 18
    assert len(_load(tmp_path, train_per_class=2).splits[0].train) == 12


def test_natural_man_made_halves_are_the_authors(tmp_path):
    main(["datasets", "fake", "imagenet", "--out", str(tmp_path)])
    synsets = imagenet.synsets()
    assert len(synsets) == 1000 and len(imagenet.MAN_MADE) == 551
    data = _load(tmp_path, halves="natman")
    natural, made = data.halves
    assert all(synsets.index(c) not in imagenet.MAN_MADE for c in natural)
    assert all(synsets.index(c) in imagenet.MAN_MADE for c in made)
    assert len(natural) == 3 and len(made) == 3
    # the runner's halves: B (man-made) is the target, A (natural) the source
    halved = halves.apply("imagenet", data, {})
    assert halved.classes == made and halved.source.classes == natural
    assert len(halved.splits[0].test) == 9 and len(halved.source.splits["official"].train) == 18
    assert _load(tmp_path, halves="mannat").halves == (made, natural)


def test_missing_layout_says_where_to_put_it(tmp_path):
    with pytest.raises(DataLayoutError, match=r"imagenet.*train/<wnid>.*image-net.org"):
        _load(tmp_path)
    (tmp_path / "imagenet" / "train" / "n01440764").mkdir(parents=True)
    (tmp_path / "imagenet" / "val").mkdir()
    (tmp_path / "imagenet" / "val" / "x.JPEG").write_bytes(b"")
    with pytest.raises(DataLayoutError, match="LOC_val_solution.csv"):
        _load(tmp_path)


def test_info_shows_the_half_a_run_evaluates_on(tmp_path, capsys):
    main(["datasets", "fake", "imagenet", "--out", str(tmp_path)])
    capsys.readouterr()
    argv = ["datasets", "info", "imagenet", "--data-root", str(tmp_path), "--json"]
    assert main([*argv, "--option", 'halves="natman"']) == 0
    natman = json.loads(capsys.readouterr().out)
    synsets = imagenet.synsets()
    assert [synsets.index(c) for c in natman["classes"]] == [398, 500, 999]  # B: man-made
    assert natman["splits"][0]["test"] == 9
    assert main([*argv, "--option", "halves_seed=1"]) == 0
    seeded = json.loads(capsys.readouterr().out)
    assert len(seeded["classes"]) == 3 and seeded["options"]["halves_seed"] == 1
