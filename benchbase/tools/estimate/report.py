"""The estimate as printed by ``benchbase run --dry-run --estimate``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchbase.errors import BenchbaseError
from benchbase.extract.backbones import resolve as resolve_backbone
from benchbase.extract.tapdims import tap_dims
from benchbase.tools.estimate.counts import SuiteCount, count_suite
from benchbase.tools.estimate.rates import (
    PROFILES,
    eval_repr,
    load_profiles,
    measure_here,
    profile_machine,
)
from benchbase.tools.estimate.timing import group_time, human, wall

if TYPE_CHECKING:
    from benchbase.api.types import Suite
    from benchbase.plugin.manager import Host
    from benchbase.tools.estimate.rates import FitKind, Machine


def resolve_profiles(names: list[str]) -> dict[str, dict[str, Any]]:
    """``--profile`` values: names in the repository's table or ``.toml`` files of the same
    shape (``benchmarks/device_check.sh`` writes a measured one)."""

    known = load_profiles()
    out: dict[str, dict[str, Any]] = {}
    for name in names:
        if name.endswith(".toml") or Path(name).is_file():
            out.update(load_profiles(Path(name)))
        elif name in known:
            out[name] = known[name]
        else:
            raise BenchbaseError(
                f"--profile {name!r}: no such device profile; known: {', '.join(known)} "
                f"(in {PROFILES}), or a .toml file of the same shape"
            )
    return out


def params_of(host: Host, suite: Suite) -> dict[str, dict[str, Any]]:
    return {s: host.strategies.get(s).resolve_params(suite.params.get(s)) for s in suite.strategies}


def counts_lines(count: SuiteCount) -> list[str]:
    """Per dataset × backbone and in total: images, decodes, forwards, fits; views per
    split for strategies that forward images themselves; where the sizes come from."""
    lines = [f"estimate for suite {count.suite!r}"]
    for name, size in count.datasets.items():
        where = "the data on disk" if size.source == "data" else "its card's [expected] counts"
        splits = ", ".join(sorted({f"{s.train:,} train + {s.test:,} test" for s in size.splits}))
        lines.append(
            f"  {name}: {len(size.splits)} split(s) of {splits}, {size.images:,} images in all, "
            f"{len(size.classes)} classes, from {where}" + "".join(f"; {b}" for b in size.bounds)
        )
    for name, why in count.unknown.items():
        lines.append(f"  {name}: not counted: {why}")
    return lines


def table_lines(count: SuiteCount, times: dict[str, list[float]]) -> list[str]:
    head = f"{'dataset':<12} {'backbone':<34} {'images':>8} {'decodes':>9} {'forwards':>10} {'fits':>10}"
    head += "".join(f" {name[:12]:>12}" for name in times)
    lines = [head]
    for i, g in enumerate(count.groups):
        row = f"{g.dataset:<12} {g.backbone:<34} {g.images:>8,} {g.decodes:>9,} {g.forwards:>10,} {g.fits:>10,}"
        row += "".join(f" {human(t[i]):>12}" for t in times.values())
        lines.append(row)
    total = (
        f"{'total':<12} {'':<34} {sum(g.images for g in count.groups):>8,} "
        f"{sum(g.decodes for g in count.groups):>9,} {sum(g.forwards for g in count.groups):>10,} "
        f"{sum(g.fits for g in count.groups):>10,}"
    )
    total += "".join(f" {human(sum(t)):>12}" for t in times.values())
    lines.append(total)
    return lines


def views_lines(count: SuiteCount) -> list[str]:
    """Views per image and forwards per split of the strategies that forward images
    themselves (forward-equivalents: a training step counts 3)."""
    lines, seen = [], set()
    for g in count.groups:
        for strategy, _layer, _split, cost in g.cells:
            if cost.forwards and (g.dataset, strategy) not in seen:
                seen.add((g.dataset, strategy))
                n = len(count.datasets[g.dataset].splits)
                per = (
                    f"{cost.forwards:,} forwards for all {n} split(s) (kept per image)"
                    if cost.per_image
                    else f"{cost.forwards:,} forwards per split × {n} split(s)"
                )
                lines.append(
                    f"  views {g.dataset} {strategy}: {cost.train_views} per training image, "
                    f"{cost.test_views} per test image; {per}, per backbone"
                )
    return lines


def kind_label(host: Host, kind: FitKind) -> str:
    """``linear-svm (sklearn, multiclass, multiclass=ovo)``: a fit kind with the parameters
    that differ from its strategy's defaults."""

    name, frozen, solver, task, _kernel = kind
    defaults = host.strategies.get(name).default_params
    changed = [
        f"{k}={eval_repr(v)}"
        for k, v in frozen
        if k != "solver" and k in defaults and eval_repr(v) != defaults[k]
    ]
    return f"{name} ({', '.join([solver, task, *changed])})"


def notes_lines(count: SuiteCount) -> list[str]:
    notes = sorted({c.note for g in count.groups for *_, c in g.cells if c.note})
    return [f"  note: {n}" for n in notes]


def estimate(
    host: Host,
    suite: Suite,
    data_root: Path | None,
    device: str,
    profiles: list[str],
    nodes: list[int],
    measure: bool = True,
) -> str:
    """The whole estimate as text; ``measure=False`` prints the counts alone (no torch)."""
    chosen = resolve_profiles(profiles) if measure else {}
    params = params_of(host, suite)
    count = count_suite(host, suite, data_root, device)
    lines = counts_lines(count)
    if not count.groups:
        return "\n".join([*lines, "nothing to estimate: no dataset could be counted"])
    if not measure:
        return "\n".join(
            [*lines, *table_lines(count, {}), *views_lines(count), *notes_lines(count)]
        )

    widths = {
        b: tap_dims(resolve_backbone(host, b).backbone) for b in {g.backbone for g in count.groups}
    }
    here_count = count_suite(host, suite, data_root, device, widths.get)
    gpu_count = count_suite(host, suite, data_root, "cuda", widths.get)
    here = measure_here(host, [here_count, gpu_count], params, device, suite.input_size)
    machines: list[tuple[Machine, SuiteCount]] = [(here.machine, here_count)]
    for name, table in chosen.items():
        machines.append((profile_machine(name, table, here), gpu_count))
    times: dict[str, list[float]] = {}
    for machine, c in machines:
        times[machine.name] = [
            group_time(g, c, machine, params, widths[g.backbone]).total for g in c.groups
        ]
    lines += table_lines(count, times)
    lines += views_lines(count)
    lines.append("wall time (groups are the unit of parallelism; longest-first schedule):")
    for machine, _ in machines:
        t = times[machine.name]
        if machine.name == "here":
            lines.append(f"  here: {human(wall(t, 1))} ({machine.description})")
            continue
        per = ", ".join(
            f"{k} node{'s' if k > 1 else ''} {human(wall(t, k * machine.workers))}" for k in nodes
        )
        lines.append(f"  {machine.name}: {per} ({machine.description})")
    longest = max(range(len(count.groups)), key=lambda i: times[machines[-1][0].name][i])
    g = count.groups[longest]
    lines.append(f"  longest group ({machines[-1][0].name}): {g.dataset} × {g.backbone}")
    lines.append(f"figures (measured here in {here.seconds:.1f} s):")
    for spec, rate in sorted(here.machine.forward.items()):
        lines.append(
            f"  forward {spec}: {rate:,.1f} img/s here, {here.flops[spec] / 1e9:.2f} GFLOP/img"
            + "".join(f"; {m.name} {m.forward[spec]:,.0f} img/s" for m, _ in machines[1:])
        )
    lines.append(
        f"  decode: {here.machine.decode:,.0f} img/s here"
        + "".join(f"; {m.name} {m.decode:,.0f} img/s per GPU worker" for m, _ in machines[1:])
    )
    for kind in sorted(here.machine.fit):
        lines.append(
            f"  fits {kind_label(host, kind)}: "
            + "; ".join(
                f"{m.name} a={m.fit[kind][0]:.3g} s, b={m.fit[kind][1]:.3g} s" for m, _ in machines
            )
        )
    for machine, _ in machines:
        for key, source in machine.sources.items():
            lines.append(f"  {machine.name} {key}: {source}")
    lines += notes_lines(count)
    return "\n".join(lines)
