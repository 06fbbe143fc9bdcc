"""Oquab et al. 2014: frozen layers plus two adaptation layers, on whole images
(``adaptation``) or on multi-scale patches labelled from the VOC boxes with a background
class (``adaptation-patches``)."""

from __future__ import annotations

from benchbase import hookimpl
from benchbase_adaptation import adaptation, adaptation_patches


@hookimpl
def register_strategies(register):  # noqa: ANN001, ANN201
    for family in (adaptation, adaptation_patches):
        family.register_strategies(register)
