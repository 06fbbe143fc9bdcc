"""The built-in suites: the offline demo and the papers' studies."""

from __future__ import annotations

from benchbase import hookimpl
from benchbase_suites import builtin, papers


@hookimpl
def register_suites(register):  # noqa: ANN001, ANN201
    for family in (builtin, papers):
        family.register_suites(register)
