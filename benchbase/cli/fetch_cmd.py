"""``benchbase fetch``: prefetch every dataset and weight a suite needs."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from benchbase.cli.common import add_data_root, subparser
from benchbase.plugin.manager import host
from benchbase.run.suites import load_suite
from benchbase.tools.prefetch import prefetch


def add_parser(sub: Any) -> None:
    p = subparser(
        sub,
        "fetch",
        "Download every dataset and pretrained weight a suite needs (on a machine with a "
        "network), so that `run` works offline afterwards.",
        "  benchbase fetch --suite razavian --data-root ~/data\n"
        "  benchbase fetch --suite my_suite.toml --data-root /shared/data --mirror http://mirror.lan\n\n"
        "Then, offline:  HF_HUB_OFFLINE=1 benchbase run --suite razavian --data-root ~/data",
    )
    p.add_argument("--suite", required=True, help="registered suite name or a .toml file")
    add_data_root(p)
    p.add_argument("--mirror", default=None, help="base URL to fetch dataset archives from")
    p.add_argument("--no-progress", action="store_true", help="no download progress bars")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:

    h = host()
    suite = load_suite(h, args.suite)
    report = prefetch(
        h,
        suite,
        args.data_root,
        mirror=args.mirror,
        progress=not args.no_progress,
        say=lambda msg: print(msg, file=sys.stderr),
    )
    for line in report.done:
        print(f"ok       {line}")
    for line in report.todo:
        print(f"MISSING  {line}")
    if report.todo:
        print(
            f"{len(report.todo)} item(s) still missing; fix them as shown, then re-run "
            "`benchbase fetch` (what is there is kept)",
            file=sys.stderr,
        )
        return 1
    return 0
