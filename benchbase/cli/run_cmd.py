"""``benchbase run``: evaluate every cell of a suite, skipping cells already stored."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from benchbase import progress
from benchbase.cli.common import add_data_root, device_arg, positive_int, subparser
from benchbase.errors import BenchbaseError
from benchbase.extract import compiling
from benchbase.extract.backbones import set_weights_file
from benchbase.leaderboard import render_plain
from benchbase.plugin.manager import host
from benchbase.run import ddp, executors, overrides
from benchbase.run.preflight import fixes_text
from benchbase.run.runner import Runner, RunSummary
from benchbase.run.suites import layout, load_suite
from benchbase.settings import positive_int_env
from benchbase.tools.estimate.report import estimate as report


def add_parser(sub: Any) -> None:
    p = subparser(
        sub,
        "run",
        "Run a suite: datasets × backbones × strategies, results into --out.",
        "  benchbase run --suite demo                 # offline, real data and weights\n"
        "  benchbase run --suite razavian --data-root ~/data --dry-run\n"
        "  benchbase run --suite razavian --dry-run --estimate   # cost: counts, time here and on an H200\n"
        "  benchbase run --suite my_suite.toml --data-root ~/data --out runs/ --device cuda\n\n"
        "A suite file:\n"
        '  name = "mine"\n  datasets = ["voc2007"]\n  backbones = ["timm/resnet50"]\n'
        '  strategies = ["linear-svm"]\n  [params.linear-svm]\n  C = [0.1, 1.0]\n\n'
        "Re-running the same command skips finished cells; Ctrl-C keeps what is done.\n"
        "Scale out: --jobs 4 (local workers), or --executor submitit --jobs 16 --partition gpu\n"
        "--gpus-per-job 1 --time-limit 240 (SLURM array), or several GPUs on one node:\n"
        "  torchrun --nproc_per_node 4 -m benchbase run --suite finetune --data-root ~/data\n"
        "(sharded extraction, data-parallel finetune / transfer-n, then rank 0 runs the rest\n"
        "and prints the summary; docs/SCALING.md).",
    )
    p.add_argument("--suite", required=True, help="registered suite name or a .toml file")
    add_data_root(p)
    p.add_argument("--out", type=Path, default=Path("runs"), help="results folder (default: runs/)")
    p.add_argument(
        "--device", type=device_arg, default="auto", help="auto (GPU when present), cpu or cuda[:N]"
    )
    p.add_argument("--batch-size", type=positive_int, default=None, help="extraction batch size")
    p.add_argument(
        "--compile",
        choices=("auto", "on", "off"),
        default=None,
        help="torch.compile the backbone for extraction: auto (default) times the first CPU "
        "batches and compiles when the rest of the pass would take 5+ minutes, where the ~1 min "
        "warm-up pays for itself (1.2-1.85x faster on 2 cores); on / off force it. Same as "
        "BENCHBASE_COMPILE",
    )
    p.add_argument(
        "--decode",
        choices=("auto", "cpu", "gpu"),
        default=None,
        help="JPEG decoding for extraction: auto (default) decodes and resizes batches on the "
        "GPU (nvJPEG) when running on CUDA and the dataset reads plain files, else PIL on the "
        "CPU; gpu asks for it, cpu never. Non-baseline files fall back to PIL one by one. "
        "Same as BENCHBASE_DECODE",
    )
    p.add_argument(
        "--weights",
        action="append",
        default=[],
        metavar="NAME=PATH",
        help="use a local weights file for backbone NAME (repeatable), e.g. "
        "--weights torchvision/vgg16=~/vgg16-397923af.pth; same as setting "
        "BENCHBASE_WEIGHTS_<NAME> (non-alphanumerics as _, e.g. BENCHBASE_WEIGHTS_TORCHVISION_VGG16)",
    )
    p.add_argument(
        "--skip-bad-images",
        action="store_true",
        help="leave undecodable images out (recorded in each result's provenance) instead "
        "of failing before extraction",
    )
    p.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="DATASET.KEY=VALUE",
        help="override a dataset's protocol option (TOML value, repeatable), e.g. "
        "--option caltech101.train_per_class=15",
    )
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="PATH=VALUE",
        help="override any suite key (TOML value, repeatable), e.g. --set "
        "params.linear-svm.C=[0.1,1] --set input_size=96 --set labels.pool=Pool",
    )
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="print the grid, what is already done, where each backbone's weights come from "
        "and which data is missing",
    )
    p.add_argument(
        "--estimate",
        action="store_true",
        help="with --dry-run: print what the suite costs, per dataset × backbone and in "
        "total: images, decodes, views per split, forwards, classifier fits, and the time "
        "here (from a forward batch, a decode rate and each kind of fit measured in seconds) "
        "and on --profile machines. Counts come from the data under --data-root, else from "
        "each dataset card's [expected] counts, e.g. "
        "benchbase run --suite razavian --dry-run --estimate --profile h200 --nodes 1,4",
    )
    p.add_argument(
        "--profile",
        action="append",
        default=[],
        metavar="NAME|FILE.toml",
        help="with --estimate: a device profile to time the suite on (repeatable; default "
        "h200): a name from benchbase/tools/estimate/profiles.toml (h200, dgx-h200) or a "
        "profile file such as the one benchmarks/device_check.sh measures on a GPU",
    )
    p.add_argument(
        "--nodes",
        type=node_counts,
        default=[1, 4],
        metavar="K[,K...]",
        help="with --estimate: node counts to time each profile on (default 1,4)",
    )
    p.add_argument(
        "--counts-only",
        action="store_true",
        help="with --estimate: the counts alone, nothing measured (no torch import)",
    )
    p.add_argument(
        "--strict",
        action="store_true",
        help="with --dry-run: exit 3 when any weights or data are missing",
    )
    p.add_argument(
        "--no-leaderboard", action="store_true", help="do not print the table at the end"
    )
    p.add_argument(
        "--quiet",
        action="store_true",
        help="no progress output (bars on a terminal, periodic lines in logs); errors, the "
        "weights section and the final summary still print",
    )
    executors.add_arguments(p)
    p.set_defaults(handler=run)


def node_counts(text: str) -> list[int]:
    """``--nodes 1,4,16`` → [1, 4, 16]."""
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        values = []
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(
            f"{text!r}: give node counts of 1 or more separated by commas, e.g. --nodes 1,4"
        )
    return values


def check_estimate_args(args: argparse.Namespace) -> None:
    """``--estimate`` and its options go with ``--dry-run``; say so instead of ignoring them."""

    if args.estimate and not args.dry_run:
        raise BenchbaseError(
            "--estimate prints what a run would cost without running it: add --dry-run, "
            "e.g. benchbase run --suite razavian --dry-run --estimate"
        )
    given = [f for f, on in (("--profile", args.profile), ("--counts-only", args.counts_only)) if on]
    if given and not args.estimate:
        raise BenchbaseError(f"{' and '.join(given)} go(es) with --dry-run --estimate")


def estimate(args: argparse.Namespace, h: Any, suite: Any) -> int:

    device = "cpu"
    if not args.counts_only:
        from benchbase.extract.device import resolve_device

        device = resolve_device(args.device).type
    print(
        report(
            h,
            suite,
            args.data_root,
            device,
            args.profile or ["h200"],
            args.nodes,
            measure=not args.counts_only,
        )
    )
    return 0


def run(args: argparse.Namespace) -> int:

    check_estimate_args(args)

    torchrun = ddp.under_torchrun()  # one of several ranks started by torchrun
    if torchrun:
        ddp.check_args(args)
    positive_int_env("BENCHBASE_THREADS")  # a bad value fails now, not in a worker
    progress.set_quiet(args.quiet)
    set_weights(args.weights)
    if args.compile is not None:  # an environment variable reaches every worker and rank
        os.environ[compiling.ENV] = args.compile
    if args.decode is not None:
        os.environ["BENCHBASE_DECODE"] = args.decode
    h = host()
    sets = overrides.as_sets(args.option, args.set)
    suite = overrides.apply(load_suite(h, args.suite), sets)
    if sets:  # worker processes and torchrun ranks rebuild the suite: they apply them too
        os.environ[overrides.ENV] = json.dumps(sets)
    else:
        os.environ.pop(overrides.ENV, None)
    runner = Runner(
        h,
        suite,
        args.out,
        args.data_root,
        args.device,
        args.batch_size,
        skip_bad_images=args.skip_bad_images,
    )
    if args.dry_run and args.estimate:
        return estimate(args, h, suite) if not torchrun or ddp.rank() == 0 else 0
    if args.dry_run:
        return dry_run(runner, strict=args.strict) if not torchrun or ddp.rank() == 0 else 0
    report = runner.preflight()  # weights and layers, before any data is read
    if not torchrun or ddp.rank() == 0:
        print("\n".join(report.lines()), file=sys.stderr)
    if torchrun:  # every rank extracts and trains; rank 0 runs the rest and reports
        ranked = ddp.run(executors.config_from_args(args), backend=args.dist_backend)
        if ranked is None:
            return 0
        summary = ranked
    elif executors.wanted(args):  # --jobs N / --executor submitit: workers share the store
        summary = RunSummary(**executors.merge(executors.dispatch(args)))
    else:
        summary = runner.run()
    print(
        f"{suite.name}: {summary.done} cells computed, {summary.skipped} already done, "
        + (f"{summary.unavailable} not run (weights missing), " if summary.unavailable else "")
        + f"{summary.forward_images} images through a backbone, {summary.seconds:.1f}s; "
        f"results in {args.out}",
        file=sys.stderr,
    )
    if not args.no_leaderboard:

        print(render_plain(args.out, suite=suite.name, suite_file=suite))
    if summary.warnings_line():
        print(summary.warnings_line(), file=sys.stderr)
    if summary.missing:

        print(fixes_text(summary.missing), file=sys.stderr)
        return INCOMPLETE
    return 0


def set_weights(pairs: list[str]) -> None:
    """``--weights NAME=PATH``: the backbone plugins read these through the environment."""

    for pair in pairs:
        name, sep, path = pair.partition("=")
        if not sep or not name or not path:
            raise BenchbaseError(
                f"--weights {pair!r}: use NAME=PATH, e.g. --weights timm/resnet50=~/resnet50.pth"
            )
        set_weights_file(name.strip(), path.strip())


def shown_layer(runner: Runner, layer: str, strategy: str) -> str:
    """What a cell's rows are called: its layer, or the strategy's own row names."""
    strat = runner.host.strategies.get(strategy)
    if strat.row_layers is None:
        return layer
    return ",".join(strat.row_layers(strat.resolve_params(runner.suite.params.get(strategy))))


#: Exit status of a run that skipped cells (missing weights) or a strict dry run that found
#: missing pieces: distinct from 2 (an error stopped the command).
INCOMPLETE = 3


def dry_run(runner: Runner, strict: bool = False) -> int:
    report = runner.preflight()
    grid, fps, done = runner.plan(allow_missing=True)
    n_done = 0
    for cell in grid.cells:
        state = "done" if fps[repr(cell)] in done else "todo"
        n_done += state == "done"
        layer = shown_layer(runner, cell.layer, cell.strategy)
        print(
            f"{state}  {cell.dataset:<12} {cell.split:<10} {cell.backbone:<36} {layer:<8} {cell.strategy}"
        )
    per_ds = Counter(c.dataset for c in grid.cells)
    where = ", ".join(f"{k}: {v}" for k, v in per_ds.items())
    if not where:
        where = "no dataset (every dataset's data is missing: see below)"
    print(f"\n{len(grid.cells)} cells ({n_done} done) over {where}")

    planned = layout(runner.host, runner.suite)
    for name, why in grid.missing.items():
        print(f"missing dataset {name}: {why}")
        for backbone, layer, strategy in planned:
            layer = shown_layer(runner, layer, strategy)
            print(f"  nodata  {name:<12} {'(splits)':<10} {backbone:<36} {layer:<8} {strategy}")
        print(f"  {len(planned)} cells per split once {name}'s data is present")
    print("\n".join(report.lines()))
    missing = report.missing
    if missing:
        print(f"{len(missing)} backbone(s) without weights here; a run skips their cells.")
    print("what it costs (images, views, forwards, fits, hours here and on a GPU node): add --estimate")
    return INCOMPLETE if strict and (missing or grid.missing) else 0
