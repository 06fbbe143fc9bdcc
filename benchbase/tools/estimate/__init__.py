"""``benchbase run --dry-run --estimate``: what a suite costs, counted from what its cells
really do and timed with figures measured here or taken from device profiles.

:mod:`.counts` counts (no torch), :mod:`.rates` measures and reads profiles, :mod:`.timing`
turns counts into hours, :mod:`.report` prints them.
"""

from __future__ import annotations

from benchbase.tools.estimate.counts import GroupCount, SuiteCount, count_suite

__all__ = ["GroupCount", "SuiteCount", "count_suite"]
