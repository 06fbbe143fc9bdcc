"""Helpers that several layers share: the "first N, and K more" listing, pid liveness."""

from __future__ import annotations

import os
import subprocess
import sys

from benchbase.errors import listing
from benchbase.processes import pid_alive


def test_listing_shows_the_first_items_then_how_many_more() -> None:
    assert listing(range(7), shown=5) == "  0\n  1\n  2\n  3\n  4\n  … and 2 more"
    assert listing(["a", "b"], shown=2, indent="- ") == "- a\n- b"
    assert listing([]) == ""


def test_pid_alive_tells_a_running_process_from_a_finished_one() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert pid_alive(os.getpid())
    assert not pid_alive(child.pid)


def test_registry_orders_the_built_ins_first_then_the_others_by_name() -> None:
    from benchbase.api.metric import Metric
    from benchbase.plugin.registry import Registry

    registry: Registry[Metric] = Registry("metric", Metric)
    for name in ("zeta", "beta", "alpha", "gamma"):
        registry.register(Metric(name, "multiclass", lambda *a: {}), "test")
    assert registry.ordered(["gamma", "missing", "beta", "gamma"]) == [
        "gamma", "beta", "alpha", "zeta",
    ]  # fmt: skip
    assert registry.ordered([]) == ["alpha", "beta", "gamma", "zeta"]


def test_options_and_params_refuse_an_unknown_name_listing_the_known_ones() -> None:
    import pytest

    from benchbase import Dataset, Strategy
    from benchbase.errors import BenchbaseError

    ds = Dataset("toy", load=lambda root, opts: None, default_options={"splits": 3, "seed": 0})
    st = Strategy("toy-st", evaluate=lambda tasks: [], default_params={"C": [1.0]})
    assert ds.resolve_options({"splits": 5}) == {"splits": 5, "seed": 0}
    assert st.resolve_params({"C": [0.1]}) == {"C": [0.1]}
    with pytest.raises(BenchbaseError, match=r"dataset 'toy' has no option 'split' \(its options: seed, splits\)"):
        ds.resolve_options({"split": 5})
    with pytest.raises(BenchbaseError, match=r"strategy 'toy-st' has no parameter 'c' \(its parameters: C\)"):
        st.resolve_params({"c": [0.1]})
    with pytest.raises(BenchbaseError, match="must be list like its default"):
        st.resolve_params({"C": 0.1})
