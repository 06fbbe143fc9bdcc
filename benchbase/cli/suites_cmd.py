"""``benchbase suites show NAME``: a suite as a complete TOML suite file to copy and edit."""

from __future__ import annotations

import argparse
from typing import Any

from benchbase.cli.common import subparser
from benchbase.leaderboard.references import papers_in
from benchbase.plugin.manager import host
from benchbase.run.suite_toml import complete_data, to_toml
from benchbase.run.suites import load_suite


def add_parser(sub: Any) -> None:
    p = subparser(
        sub,
        "suites",
        "Print a suite (built-in, from a plugin, or a .toml file) as a complete TOML suite file.",
        "  benchbase suites show razavian > my_razavian.toml   # edit, then:\n"
        "  benchbase run --suite my_razavian.toml --data-root ~/data\n\n"
        'Or keep only what changes:  extends = "razavian"  plus the keys to override\n'
        "(lists replace, tables such as [params.linear-svm] merge).",
    )
    p.add_argument("action", choices=["show"])
    p.add_argument("name", help="registered suite name (`benchbase list suites`) or a .toml file")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:

    h = host()
    suite = load_suite(h, args.name)
    papers = papers_in(suite.reproduces)
    header = [
        f"benchbase suite {suite.name!r}"
        + (f" (extends {suite.extends!r})" if suite.extends else "")
        + ": every key spelled out; edit any of them.",
        "Run it:  benchbase run --suite THIS_FILE.toml --data-root DIR",
        "Published rows on its pages: "
        + (", ".join(papers) if papers else "none (reproduces names no published paper)")
        + " (the papers `reproduces` names).",
        "",
    ]
    print(to_toml(complete_data(h, suite), header), end="")
    return 0
