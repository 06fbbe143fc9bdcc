"""The ``benchbase`` command: one small module per subcommand."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from benchbase import __version__
from benchbase.cli import (
    advise_cmd,
    backbones_cmd,
    compare_cmd,
    datasets_cmd,
    leaderboard_cmd,
    list_cmd,
    plot_cmd,
    plugins_cmd,
    results_cmd,
    run_cmd,
    suites_cmd,
)
from benchbase.cli.common import fill_late_positionals
from benchbase.errors import BenchbaseError

COMMANDS = (
    list_cmd,
    suites_cmd,
    plugins_cmd,
    datasets_cmd,
    backbones_cmd,
    run_cmd,
    results_cmd,
    leaderboard_cmd,
    compare_cmd,
    plot_cmd,
    advise_cmd,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="benchbase",
        description="How well does a pretrained ConvNet transfer, and with which strategy?",
        epilog="Start with:  benchbase run --suite demo   (offline, about a minute on 2 CPU cores)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"benchbase {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMANDS:
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    extra = fill_late_positionals(args, extra)
    if extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        return int(args.handler(args) or 0)
    except BenchbaseError as exc:
        print(f"benchbase: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            "\nbenchbase: interrupted; finished cells are saved. Re-run the same command to "
            "resume where it stopped.",
            file=sys.stderr,
        )
        return 130
    except BrokenPipeError:  # `benchbase list backbones --all | head`: the reader left
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(main())
