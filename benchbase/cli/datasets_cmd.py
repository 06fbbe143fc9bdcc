"""``benchbase datasets info|check|fake|download``: inspect, verify, fake and fetch datasets."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from benchbase.api.tomlfile import read_toml
from benchbase.cli.common import add_data_root, parse_options, print_json, subparser
from benchbase.data.download import download_dataset
from benchbase.data.imagecheck import describe, find_bad_images
from benchbase.errors import BenchbaseError
from benchbase.plugin.manager import host
from benchbase.run import halves
from benchbase.run.suites import call_load, load_suite


def _option_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="protocol option (TOML value), e.g. --option splits=3 --option background=false",
    )


def add_parser(sub: Any) -> None:
    p = subparser(
        sub,
        "datasets",
        "Inspect, check, fake and download datasets.",
        "  benchbase datasets info voc2007 --data-root ~/data --json\n"
        "  benchbase datasets check mit67 --data-root ~/data\n"
        "  benchbase datasets fake caltech256 --out /tmp/fake\n"
        "  benchbase datasets download caltech101 --data-root ~/data",
    )
    dsub = p.add_subparsers(dest="action", metavar="ACTION", required=True)

    info = subparser(
        dsub,
        "info",
        "Classes, task, metric and split sizes read from the layout.",
        "  benchbase datasets info caltech101 --data-root ~/data --json\n"
        "  benchbase datasets info caltech256 --data-root ~/data --option train_per_class=30",
    )
    info.add_argument("name")
    add_data_root(info)
    _option_arg(info)
    info.add_argument("--json", action="store_true")
    info.set_defaults(handler=run_info)

    check = subparser(
        dsub,
        "check",
        "Verify that every image the protocol uses exists and decodes, and compare the "
        "counts with the dataset card's. Exits 1 listing bad files or wrong counts.",
        "  benchbase datasets check sun397 --data-root ~/data\n"
        "  benchbase datasets check caltech101 --data-root /tmp/fake "
        "--option train_per_class=3 --ignore-counts",
    )
    check.add_argument("name")
    add_data_root(check)
    _option_arg(check)
    check.add_argument(
        "--ignore-counts",
        action="store_true",
        help="do not fail when class or split counts differ from the card (e.g. on fakes)",
    )
    check.add_argument("--json", action="store_true")
    check.set_defaults(handler=run_check)

    fake = subparser(
        dsub,
        "fake",
        "Write a miniature copy of a dataset in its official layout (synthetic images whose "
        "class is visible), for tests and trying a suite end to end.",
        "  benchbase datasets fake mit67 --out /tmp/fake\n"
        "  benchbase datasets fake caltech101 --out /tmp/fake --placement extracted\n"
        "  benchbase datasets fake --suite razavian --out /tmp/fake   # every dataset it needs",
    )
    fake.add_argument("name", nargs="?", help="the dataset (or --suite)")
    fake.add_argument(
        "--suite",
        default=None,
        help="write the fake of every dataset the suite reads, and print the run command "
        "with the options the fakes need",
    )
    fake.add_argument("--out", type=Path, required=True, help="data root to write")
    fake.add_argument("--placement", default="", help="one of the dataset's placements")
    fake.set_defaults(handler=run_fake)

    download = subparser(
        dsub,
        "download",
        "Fetch the official archives listed in the dataset card (progress, resumable), "
        "verify their checksums, and extract them safely into the expected placement.",
        "  benchbase datasets download caltech256 --data-root ~/data\n"
        "  benchbase datasets download mit67 --data-root ~/data --mirror http://mirror.lan/mit67",
    )
    download.add_argument("name", nargs="+", help="one or more dataset names")
    add_data_root(download, required=True)
    download.add_argument(
        "--mirror", default=None, help="base URL to fetch <mirror>/<archive filename> from"
    )
    download.add_argument(
        "--card", type=Path, default=None, help="a card TOML file to use instead of the dataset's own"
    )
    download.add_argument(
        "--keep-archives", action="store_true", help="keep the archives after extraction"
    )
    download.add_argument("--no-progress", action="store_true", help="no progress bars")
    download.set_defaults(handler=run_download)


def _load(name: str, data_root: Path | None, options: dict[str, Any]) -> tuple[Any, Any, dict]:
    ds = host().datasets.get(name)
    if ds.needs_data_root and data_root is None:
        raise BenchbaseError(f"dataset {name!r} reads files: pass --data-root DIR")

    own, halved = halves.take_options(options)  # class halves: what a run's cells see
    resolved = ds.resolve_options(own)
    return ds, halves.apply(name, call_load(ds, data_root, resolved), halved), resolved


def dataset_info(name: str, data_root: Path | None, options: dict[str, Any]) -> dict[str, Any]:
    ds, data, _ = _load(name, data_root, options)
    card = ds.read_card()
    return {
        "name": ds.name,
        "classes": data.classes,
        "task": ds.task,
        "metric": ds.metric,
        "version": ds.version,
        "options": data.options,
        "splits": [
            {"name": s.name, "train": len(s.train), "test": len(s.test)} for s in data.splits
        ],
        "skipped": data.skipped,
        # from the dataset's own card ("" without one)
        "title": str(card.get("title", "")),
        "homepage": str(card.get("homepage", "")),
    }


def run_info(args: argparse.Namespace) -> int:
    info = dataset_info(args.name, args.data_root, parse_options(args.option))
    if args.json:
        print_json(info)
        return 0
    print(
        f"{info['name']}: {len(info['classes'])} classes, {info['task']}, metric {info['metric']}"
    )
    for s in info["splits"]:
        print(f"  {s['name']}: train {s['train']}, test {s['test']}")
    if info["skipped"]:
        print(f"  skipped {len(info['skipped'])} non-image entries")
    if info["homepage"]:
        print(f"  {info['title'] or 'homepage'}: {info['homepage']}")
    return 0


# --- check ----------------------------------------------------------------------------


def compare_counts(
    card: dict[str, Any], data: Any, options: dict[str, Any], defaults: dict[str, Any]
) -> tuple[list[dict[str, Any]], str]:
    """Rows (what, found, expected, ok) comparing ``data`` with the card's ``[expected]``:
    ``classes`` and ``[expected.split]`` ``train``/``test`` (sizes of every split of the
    protocol with its default options). Compared only under the default options."""
    expected = card.get("expected") or {}
    if not expected:
        return [], "the dataset card records no expected counts"
    if options != defaults:
        return [], "counts not compared: protocol options differ from the defaults"
    rows = []
    if "classes" in expected:
        found = len(data.classes)
        rows.append(
            {
                "what": "classes",
                "found": found,
                "expected": expected["classes"],
                "ok": found == expected["classes"],
            }
        )
    per_split = expected.get("split") or {}
    for split in data.splits:
        for part in ("train", "test"):
            if part in per_split:
                found = len(getattr(split, part))
                rows.append(
                    {
                        "what": f"{split.name} {part}",
                        "found": found,
                        "expected": per_split[part],
                        "ok": found == per_split[part],
                    }
                )
    return rows, ""


def run_check(args: argparse.Namespace) -> int:

    ds, data, options = _load(args.name, args.data_root, parse_options(args.option))
    samples = [s for split in data.splits for s in (*split.train, *split.test)]
    n_images = len({str(s.source) for s in samples})
    bad = find_bad_images(samples, ds.open_image, progress=f"{ds.name}: decoding")
    rows, note = compare_counts(ds.read_card(), data, options, ds.resolve_options())
    counts_ok = all(r["ok"] for r in rows) or args.ignore_counts
    ok = not bad and counts_ok
    if args.json:
        print_json(
            {
                "name": ds.name,
                "ok": ok,
                "images": n_images,
                "bad": [{"source": b.source, "reason": b.reason} for b in bad],
                "counts": rows,
                "counts_note": note,
                "skipped": data.skipped,
            }
        )
        return 0 if ok else 1
    print(f"{ds.name}: {n_images} images used by {len(data.splits)} split(s), {len(bad)} bad")
    for r in rows:
        mark = "ok" if r["ok"] else "differs (ignored)" if args.ignore_counts else "MISMATCH"
        print(f"  {r['what']}: {r['found']} (card: {r['expected']}) {mark}")
    if note:
        print(f"  {note}")
    if data.skipped:
        print(f"  {len(data.skipped)} non-image entries skipped (e.g. {data.skipped[0]})")
    if bad:
        print(
            f"bad images (missing or undecodable):\n{describe(bad)}\n"
            "Remove or replace them, or run with --skip-bad-images to leave them out.",
            file=sys.stderr,
        )
    if not counts_ok:
        print(
            "counts differ from the dataset card: the download or extraction is incomplete "
            "(use --ignore-counts on fakes or subsets)",
            file=sys.stderr,
        )
    return 0 if ok else 1


# --- fake, download -------------------------------------------------------------------


def fake_text(fake: Any) -> str:
    """The fake's own docstring (through ``functools.partial``), on one line."""
    import functools

    while isinstance(fake, functools.partial):
        fake = fake.func
    return " ".join((getattr(fake, "__doc__", None) or "").split())


def run_fake(args: argparse.Namespace) -> int:
    from benchbase.testing import make_fake_dataset

    if (args.name is None) == (args.suite is None):
        raise BenchbaseError(
            "datasets fake: name one dataset or pass --suite NAME, e.g. `benchbase datasets "
            "fake mit67 --out /tmp/fake` or `benchbase datasets fake --suite razavian --out /tmp/fake`"
        )
    if args.suite is not None:
        return fake_suite(args.suite, args.out)
    ds = host().datasets.get(args.name)
    root = make_fake_dataset(args.name, args.out, args.placement)
    placement = args.placement or ds.placements[0]
    print(f"wrote a miniature {ds.name} ({placement} placement) under {root}")
    if fake_text(ds.fake):
        print("  " + fake_text(ds.fake))
    options = " ".join(f"--option {k}={_toml(v)}" for k, v in ds.fake_options.items())
    print(f"try: benchbase datasets info {ds.name} --data-root {root} {options}".rstrip())
    return 0


def _toml(value: Any) -> str:
    return json.dumps(value) if not isinstance(value, bool) else str(value).lower()


def fake_suite(ref: str, out: Path) -> int:
    """Every fake the suite's datasets need under ``out``; prints the run command with the
    ``--option`` overrides those fakes need (shipped datasets are left alone)."""
    from benchbase.testing import make_fake_dataset

    h = host()
    suite = load_suite(h, ref)
    flags = []
    for name in suite.datasets:
        ds = h.datasets.get(name)
        if not ds.needs_data_root:
            print(f"{name}: ships its data, no fake needed")
            continue
        if ds.fake is None:
            raise BenchbaseError(
                f"dataset {name!r} offers no fake layout; suite {suite.name!r} needs it"
            )
        make_fake_dataset(name, out)
        print(f"{name}: wrote a miniature copy under {out}")
        flags += [f"--option {name}.{k}={_toml(v)}" for k, v in ds.fake_options.items()]
    command = f"benchbase run --suite {ref} --data-root {out} " + " ".join(flags)
    print(f"try: {command.rstrip()} --dry-run")
    return 0


def run_download(args: argparse.Namespace) -> int:
    """Each named dataset in turn; exit 1 when any needs files fetched by hand."""
    if args.card is not None and len(args.name) > 1:
        raise BenchbaseError("--card describes one dataset: name one dataset with it")

    if args.card is not None:
        cards = {args.name[0]: read_toml(args.card, "dataset card")}
    else:  # unknown names fail before anything is fetched
        cards = {name: host().datasets.get(name).read_card() for name in args.name}
    return max(download_one(args, name, card) for name, card in cards.items())


def download_one(args: argparse.Namespace, name: str, card: dict[str, Any]) -> int:

    manual = download_dataset(
        name,
        args.data_root,
        card=card,
        mirror=args.mirror,
        keep_archives=args.keep_archives,
        progress=not args.no_progress,
    )
    if manual:
        print(
            "These files cannot be fetched by a script; do it by hand, then re-run:\n  "
            + "\n  ".join(manual),
            file=sys.stderr,
        )
        return 1
    print(
        f"{name}: downloaded and extracted under {args.data_root}; verify with: "
        f"benchbase datasets check {name} --data-root {args.data_root}"
    )
    return 0
