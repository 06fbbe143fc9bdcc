"""The ``benchbase`` command: one small module per subcommand."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from benchbase import __version__
from benchbase.api.command import Command
from benchbase.cli.builtin import BUILTIN_COMMANDS
from benchbase.cli.common import fill_late_positionals
from benchbase.errors import BenchbaseError
from benchbase.plugin import manager
from benchbase.run import signals


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="benchbase",
        description="How well does a pretrained ConvNet transfer, and with which strategy?",
        epilog="Start with:  benchbase run --suite demo   (offline, about a minute on 2 CPU cores)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"benchbase {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in commands():
        try:
            command.add_parser(sub)
        except Exception as exc:
            origin = manager.host().commands.origin(command.name)
            raise BenchbaseError(
                f"command {command.name!r} (plugin {origin!r}) failed to add its parser: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
    return parser


def commands() -> list[Command]:
    """Every registered command: the built-in ones in their order, then the plugins' by name."""
    registry = manager.host().commands
    return [registry.get(n) for n in registry.ordered(c.name for c in BUILTIN_COMMANDS)]


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    try:
        parser = build_parser()
    except BenchbaseError as exc:
        print(f"benchbase: error: {exc}", file=sys.stderr)
        return 2
    words = list(sys.argv[1:] if argv is None else argv)
    if not words:  # a bare `benchbase`: what it can do, not an argparse error
        parser.print_help()
        return 0
    args, extra = parser.parse_known_args(words)
    extra = fill_late_positionals(args, extra)
    if extra:  # the subcommand's usage, not the top-level one
        getattr(args, "_subparser", parser).error(f"unrecognized arguments: {' '.join(extra)}")
    previous = signals.terminate_as_interrupt()
    try:
        return int(args.handler(args) or 0)
    except BenchbaseError as exc:
        print(f"benchbase: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        how = "terminated (SIGTERM)" if isinstance(exc, signals.Terminated) else "interrupted"
        print(
            f"\nbenchbase: {how}; finished cells are saved. Re-run the same command to "
            "resume where it stopped.",
            file=sys.stderr,
        )
        return signals.exit_status(exc)
    except BrokenPipeError:  # `benchbase list backbones --all | head`: the reader left
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    finally:
        signals.restore(previous)


if __name__ == "__main__":
    sys.exit(main())
