"""The cards of voc2007, voc2012, cub200 and sun397 are complete and agree with the plugins."""

from __future__ import annotations

import pytest
from declared import shipped_cards

from benchbase.plugin.manager import host

NAMES = ["voc2007", "voc2012", "cub200", "sun397"]


@pytest.mark.parametrize("name", NAMES)
def test_card_is_complete(name: str) -> None:
    card = shipped_cards()[name]
    assert card["name"] == name
    for key in ("title", "homepage", "size", "licence", "citation", "task"):
        assert isinstance(card[key], str) and card[key], key
    assert card["homepage"].startswith("http")
    for archive in card["archives"]:
        assert archive["filename"] and archive["url"].startswith("http")
        assert "/" not in archive["filename"]
    # The image archives have published checksums.
    assert any(archive.get("md5") or archive.get("sha256") for archive in card["archives"])
    expected = card["expected"]
    assert expected["classes"] > 0 and set(expected["split"]) == {"train", "test"}


@pytest.mark.parametrize("name", NAMES)
def test_card_agrees_with_the_plugin(name: str) -> None:
    card, ds = shipped_cards()[name], host().datasets.get(name)
    assert card["task"] == ds.task
    assert card["protocol"]["metric"] == ds.metric
    assert str(card["protocol"]["version"]) == ds.version
    assert list(card["placements"]) == ds.placements
    for key, value in ds.default_options.items():
        assert card["protocol"][key] == value, key


def test_voc_card_facts() -> None:
    v07, v12 = shipped_cards()["voc2007"], shipped_cards()["voc2012"]
    assert [a["md5"] for a in v07["archives"]] == [
        "c52e279531787c972589f7e41ab4ae64",
        "b6e924de25625d8de591ea690078ad9f",
    ]
    assert v07["expected"]["split"] == {"train": 5011, "test": 4952}
    assert v12["expected"]["split"] == {"train": 5717, "test": 5823}
    assert v07["protocol"]["classes"] == v12["protocol"]["classes"]
    assert len(v07["protocol"]["abbreviations"]) == 20
    assert "server" in v12["caveat"]


def test_load_card_returns_a_copy_and_lists_cards() -> None:
    from benchbase.toolkit import Cards

    cards = Cards("benchbase_cub")
    assert cards.names() == ["cub200"]
    cards.load("cub200")["protocol"]["box_crop"] = True
    assert cards.load("cub200")["protocol"]["box_crop"] is False
    assert set(NAMES) <= set(shipped_cards())
    with pytest.raises(KeyError, match="nope"):
        cards.load("nope")
