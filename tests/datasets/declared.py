"""A shared, declarative layout test (in the manner of VTAB's dataset tests).

A dataset test subclasses :class:`DeclaredLayout` and states the dataset name, the protocol
options to use on its fake layout, the class count and each split's sizes; the class then
checks ``benchbase datasets info NAME --json`` on every placement the plugin declares, that
``datasets check`` passes on the fake, and that a missing root fails naming the path.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import pytest

from benchbase.cli import main
from benchbase.plugin.manager import host
from benchbase.testing import make_fake_dataset


def option_args(options: dict[str, Any]) -> list[str]:
    args: list[str] = []
    for key, value in options.items():
        text = str(value).lower() if isinstance(value, bool) else str(value)
        args += ["--option", f"{key}={text}"]
    return args


def info_json(name: str, root: Path, options: dict[str, Any], capsys: Any) -> dict[str, Any]:
    capsys.readouterr()
    rc = main(["datasets", "info", name, "--data-root", str(root), "--json", *option_args(options)])
    out = capsys.readouterr()
    assert rc == 0, out.err
    return json.loads(out.out)


class DeclaredLayout:
    """Subclass and set the class attributes below."""

    name: ClassVar[str]
    options: ClassVar[dict[str, Any]] = {}
    n_classes: ClassVar[int]
    #: Expected (train, test) size per split name.
    splits: ClassVar[dict[str, tuple[int, int]]]
    task: ClassVar[str] = "multiclass"
    metric: ClassVar[str] = "mean_per_class_accuracy"

    @staticmethod
    def pytest_generate_tests(metafunc: Any) -> None:
        if "placement" in metafunc.fixturenames:
            placements = host().datasets.get(metafunc.cls.name).placements
            metafunc.parametrize("placement", placements, scope="class")

    @pytest.fixture(scope="class")
    @classmethod
    def fake_root(cls, tmp_path_factory: Any, placement: str) -> Path:
        """One fake per placement, shared by the (read-only) tests of the class."""
        return make_fake_dataset(cls.name, tmp_path_factory.mktemp(cls.name), placement)

    def test_info_reports_the_declared_classes_and_splits(
        self, fake_root: Path, capsys: Any
    ) -> None:
        info = info_json(self.name, fake_root, self.options, capsys)
        assert info["name"] == self.name
        assert info["task"] == self.task and info["metric"] == self.metric
        assert len(info["classes"]) == self.n_classes == len(set(info["classes"]))
        assert {s["name"]: (s["train"], s["test"]) for s in info["splits"]} == self.splits

    def test_check_passes_on_the_fake(self, fake_root: Path, capsys: Any) -> None:
        args = ["datasets", "check", self.name, "--data-root", str(fake_root), "--json"]
        rc = main([*args, "--ignore-counts", *option_args(self.options)])
        report = json.loads(capsys.readouterr().out)
        assert rc == 0 and report["ok"] and report["bad"] == []

    def test_missing_root_names_the_path(self, tmp_path: Path, capsys: Any) -> None:
        missing = tmp_path / "nowhere"
        rc = main(["datasets", "info", self.name, "--data-root", str(missing)])
        assert rc != 0
        assert str(missing) in capsys.readouterr().err


def shipped_cards() -> dict[str, dict[str, Any]]:
    """Every card the built-in plugin packages ship beside their readers, by card name."""
    from benchbase.plugin.manager import BUILTIN_PLUGINS
    from benchbase.toolkit import Cards

    return {
        name: cards.load(name)
        for cards in map(Cards, BUILTIN_PLUGINS)
        for name in cards.names()
    }
