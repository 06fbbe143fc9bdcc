"""transfer-n's row names (Yosinski et al. 2014): which curve a row is on and at which n.

Rows are ``A<n>B`` (copied from base A, frozen), ``A<n>B+`` (fine-tuned), ``B<n>B`` and
``B<n>B+`` (the selffer controls, copied from base B) and ``baseB``. Stores written before
transfer-n version 5 named the AnB rows ``n=<n>`` and ``n=<n>+``; they read as AnB.
"""

from __future__ import annotations

import re
from typing import NamedTuple

#: Every transfer-n row name, old and new.
TRANSFER_LAYER = re.compile(r"^(?:([AB])(\d+)B(\+?)|n=(\d+)(\+?)|baseB)$")
#: The curves of the paper's Figure 2, in its legend order.
CURVES = ("baseB", "BnB", "BnB+", "AnB", "AnB+")
#: What the rows mean (the transfer table's caption).
PROTOCOL = (
    "Yosinski et al. 2014 protocol: copy layers 1..n of base A (AnB: transfer) or of "
    "base B (BnB: the selffer control), re-initialise the rest, train on B with the "
    "copied layers frozen or fine-tuned (+); baseB is trained on B from scratch."
)


class Point(NamedTuple):
    curve: str  # one of CURVES
    n: int  # layers copied (0 for baseB)


def point(layer: str) -> Point | None:
    """The curve and n of a transfer-n row name; None for any other layer name."""
    match = TRANSFER_LAYER.match(layer)
    if match is None:
        return None
    base, n, plus, old_n, old_plus = match.groups()
    if layer == "baseB":
        return Point("baseB", 0)
    if base is None:  # n=<n>[+]: AnB rows of a store older than transfer-n 5
        return Point("AnB" + old_plus, int(old_n))
    return Point(f"{base}nB{plus}", int(n))


def is_transfer(layer: str) -> bool:
    return TRANSFER_LAYER.match(layer) is not None


def curve_title(curve: str) -> str:
    """``AnB+`` → ``AnB+ (fine-tuned)``: the curve's name with what it means."""
    return {
        "baseB": "baseB (trained on B)",
        "BnB": "BnB (selffer, frozen)",
        "BnB+": "BnB+ (selffer, fine-tuned)",
        "AnB": "AnB (transfer, frozen)",
        "AnB+": "AnB+ (transfer, fine-tuned)",
    }[curve]
