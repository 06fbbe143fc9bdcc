"""``benchbase leaderboard``: paper-style tables; ``benchbase leaderboard publish``: pages."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from benchbase.api.types import Suite
from benchbase.cli.common import subparser
from benchbase.leaderboard import formats, render
from benchbase.leaderboard.publish import publish
from benchbase.run.suites import suite_from_toml


def add_parser(sub: Any) -> None:
    p = subparser(
        sub,
        "leaderboard",
        "Render stored results as paper-style tables beside the published numbers, in percent.",
        "  benchbase leaderboard --out runs/ --suite demo\n"
        "  benchbase leaderboard --out runs/ --dataset voc2007 --format latex\n"
        "  benchbase leaderboard --out runs/ --suite demo --format html --to report.html\n"
        "  benchbase leaderboard publish --out runs/ --suite demo      # → leaderboard/demo.md\n"
        "  benchbase leaderboard publish --suite razavian               # published rows only\n"
        "  benchbase leaderboard publish --out runs/ --format html      # + <suite>.html reports\n\n"
        "Tables: VOC per-class AP + mAP, Method | mean Accuracy (± std over splits, 95%\n"
        "bootstrap CI over test images), classifier per layer, classifier × layer grid,\n"
        "cross-dataset summary (best in bold, mean rank). Published rows are marked with\n"
        "their source and caveats (test server, bbox).",
    )
    p.add_argument(
        "action",
        nargs="?",
        choices=["publish"],
        help="publish: write leaderboard/<suite>.md pages and the README.md index",
    )
    p.add_argument("--out", type=Path, default=Path("runs"), help="results folder")
    p.add_argument("--suite", help="a suite name, or the suite file it was run from (its labels)")
    p.add_argument("--dataset")
    p.add_argument(
        "--format",
        choices=formats.names(),
        default="markdown",
        help="any registered output format (plugins add more through register_formats)",
    )
    p.add_argument(
        "--to",
        type=Path,
        default=None,
        help="write to this file (tables) or folder (publish; default leaderboard/)",
    )
    p.add_argument("--resamples", type=int, default=500, help="bootstrap resamples for the 95%% CI")
    p.add_argument("--no-ci", action="store_true", help="skip the bootstrap confidence intervals")
    p.set_defaults(handler=run)


def _suite(ref: str | None) -> tuple[str | None, Suite | None]:
    """A suite name as stored, plus the suite itself when given a suite file (its labels,
    tables and published tables shape the pages)."""
    if ref is None or not (ref.endswith(".toml") or Path(ref).is_file()):
        return ref, None
    suite = suite_from_toml(Path(ref))
    return suite.name, suite


def run(args: argparse.Namespace) -> int:
    args.suite, suite_file = _suite(args.suite)
    if args.action == "publish":

        out = args.out if (args.out / "results.sqlite").exists() else None
        if out is None:
            print(
                f"benchbase: no results in {args.out}: publishing published rows only",
                file=sys.stderr,
            )
        to = args.to or Path("leaderboard")
        html = args.format == "html"
        written = publish(out, to, args.suite, args.resamples, html=html, suite_file=suite_file)
        for path in written:
            print(path)
        return 0
    text = render(
        args.out,
        suite=args.suite,
        dataset=args.dataset,
        fmt=args.format,
        resamples=args.resamples,
        ci=not args.no_ci,
        suite_file=suite_file,
    )
    if args.to:
        args.to.parent.mkdir(parents=True, exist_ok=True)
        args.to.write_text(text + ("" if text.endswith("\n") else "\n"))
        print(args.to)
    else:
        print(text)
    return 0
