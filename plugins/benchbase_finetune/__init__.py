"""Training the network itself: ``finetune`` (smaller learning rates on lower layers) and
``transfer-n`` (Yosinski et al. 2014: AnB, AnB+, BnB, BnB+)."""

from __future__ import annotations

from benchbase import hookimpl
from benchbase_finetune import finetune, transfer


@hookimpl
def register_strategies(register):  # noqa: ANN001, ANN201
    for family in (finetune, transfer):
        family.register_strategies(register)
