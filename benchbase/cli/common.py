"""Helpers shared by subcommands."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def subparser(sub: Any, name: str, help_: str, example: str) -> argparse.ArgumentParser:
    """A subcommand parser whose ``--help`` ends with a worked example."""
    return sub.add_parser(
        name,
        help=help_,
        description=help_,
        epilog=f"example:\n{example}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def print_json(obj: Any) -> None:
    json.dump(obj, sys.stdout, indent=2, default=str, ensure_ascii=False)
    sys.stdout.write("\n")
