"""Helpers shared by subcommands."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from benchbase.errors import BenchbaseError


def subparser(sub: Any, name: str, help_: str, example: str) -> argparse.ArgumentParser:
    """A subcommand parser whose ``--help`` ends with a worked example."""
    p = sub.add_parser(
        name,
        help=help_,
        description=help_,
        epilog=f"example:\n{example}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.set_defaults(_subparser=p)
    return p


def fill_late_positionals(args: argparse.Namespace, extra: list[str]) -> list[str]:
    """Give optional positionals (``nargs="?"``) still unset the words argparse left over
    because they came after an option: argparse (before Python 3.13) matches ``kind
    [pattern]`` in one go, so ``list backbones --json 'timm/*'`` would leave the pattern
    unrecognised. Returns what is still left over."""
    sub = getattr(args, "_subparser", None)
    if sub is None:
        return extra
    words = [w for w in extra if not w.startswith("-")]
    if len(words) != len(extra):
        return extra
    for action in sub._actions:
        unset = not action.option_strings and action.nargs == "?"
        if words and unset and getattr(args, action.dest) == action.default:
            setattr(args, action.dest, words.pop(0))
    return words


def positive_int(text: str) -> int:
    """argparse ``type`` for counts (``--batch-size``, ``--jobs``): integers >= 1 only."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive integer (e.g. 4)")
    return value


DATA_ROOT_ENV = "BENCHBASE_DATA_ROOT"


def add_data_root(p: argparse.ArgumentParser, required: bool = False) -> None:
    """``--data-root DIR``, defaulting to ``$BENCHBASE_DATA_ROOT`` when that is set."""
    import os
    from pathlib import Path

    env = os.environ.get(DATA_ROOT_ENV)
    p.add_argument(
        "--data-root",
        type=Path,
        default=Path(env).expanduser() if env else None,
        required=required and not env,
        help=f"folder holding the datasets (default: ${DATA_ROOT_ENV}"
        + (f", now {env})" if env else ", unset)"),
    )


def device_arg(text: str) -> str:
    """argparse ``type`` for ``--device``: auto, cpu, cuda or cuda:N (checked at parse time;
    whether a GPU is there is checked when the run starts)."""
    import re

    if text in ("auto", "cpu", "cuda") or re.fullmatch(r"cuda:\d+", text):
        return text
    raise argparse.ArgumentTypeError(f"{text!r} is not a device: use auto, cpu, cuda or cuda:N")


def print_json(obj: Any) -> None:
    json.dump(obj, sys.stdout, indent=2, default=str, ensure_ascii=False)
    sys.stdout.write("\n")


def parse_options(items: list[str]) -> dict[str, Any]:
    """``--option KEY=VALUE`` pairs → typed values, read as TOML like a suite's
    ``[options.<dataset>]`` table (``30``, ``false``, ``[1, 2]``); anything else stays a string."""
    import tomllib


    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise BenchbaseError(
                f"--option {item!r} must look like KEY=VALUE, e.g. train_per_class=30"
            )
        try:
            out[key.strip()] = tomllib.loads(f"v = {value}")["v"]
        except tomllib.TOMLDecodeError:
            out[key.strip()] = value
    return out
