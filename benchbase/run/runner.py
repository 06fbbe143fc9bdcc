"""The runner: a suite's grid → features (cached) → strategies → metrics → the store.

A run is five public phases, each usable on its own (the torchrun driver,
:mod:`benchbase.run.ddp`, composes them differently):

1. :meth:`Runner.plan`: the grid of cells, each cell's fingerprint, those already stored;
2. :meth:`Runner.screen`: every image of the datasets still to run exists and decodes;
3. :meth:`Runner.features`: one dataset × backbone group's features, from the feature cache
   or one extraction pass (:func:`benchbase.extract.cached.cached_features`);
4. :meth:`Runner.evaluate`: the strategy fits and scores one cell;
5. :meth:`Runner.record`: its metrics and provenance written to the results store.

:meth:`Runner.run` composes them, with the claims that let several runs share one ``--out``.
"""

from __future__ import annotations

import os
import sys
import time
import warnings
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from benchbase import metrics
from benchbase.api.outcomes import check_outcomes
from benchbase.api.types import Cell, DatasetData, Outcome, Result, Suite, stable_hash
from benchbase.data import imagecheck
from benchbase.data.identity import ContentKeys, dataset_identity
from benchbase.errors import BenchbaseError, CellFailedError, WeightsUnavailableError
from benchbase.extract.backbones import BackboneSpec, feature_identity, tap_identity
from benchbase.extract.backbones import resolve as resolve_backbone
from benchbase.extract.cache import FeatureCache
from benchbase.extract.cached import Extractor, cached_features, image_pass
from benchbase.extract.imagecache import ImageCache
from benchbase.progress import phase
from benchbase.run import preflight, provenance
from benchbase.run.store import Store
from benchbase.run.storefile import check_out_dir
from benchbase.run.suites import Grid, check_layers, check_splits, expand
from benchbase.run.tasks import SEED, GroupFeatures, cell_tasks, labels, plain_params, split_of

if TYPE_CHECKING:
    from benchbase.plugin.manager import Host

__all__ = ["SEED", "Evaluation", "GroupFeatures", "Plan", "RunSummary", "Runner", "cell_id"]


@dataclass
class RunSummary:
    cells: int = 0
    done: int = 0
    skipped: int = 0
    forward_images: int = 0
    seconds: float = 0.0
    #: Backbone spec → how to supply its weights, for backbones whose cells were not run.
    missing: dict[str, str] = field(default_factory=dict)
    #: Cells not run because their backbone's weights are missing.
    unavailable: int = 0
    #: Library warnings raised while fitting (category → count), and in how many cells;
    #: each cell's own are in its provenance (``warnings``).
    warnings: dict[str, int] = field(default_factory=dict)
    warned_cells: int = 0

    def warnings_line(self) -> str:
        """One line for the end of a run, or "" when no cell warned."""
        if not self.warnings:
            return ""
        counts = ", ".join(f"{k} ×{n}" for k, n in sorted(self.warnings.items()))
        return (
            f"library warnings: {counts} in {self.warned_cells} cell(s); each cell's are in its "
            "provenance (benchbase results --json, key 'warnings')"
        )

    def add_warnings(self, warned: list[dict[str, Any]]) -> None:
        """Count one cell's library warnings (:attr:`Evaluation.warnings`)."""
        for w in warned:
            self.warnings[w["category"]] = self.warnings.get(w["category"], 0) + w["count"]
        self.warned_cells += bool(warned)


def cell_id(cell: Cell) -> str:
    """The key of ``cell`` in :attr:`Plan.fingerprints`."""
    return repr(cell)


class Plan(NamedTuple):
    """What :meth:`Runner.plan` found: the grid, each cell's fingerprint (by
    :func:`cell_id`), and the fingerprints the store already holds."""

    grid: Grid
    fingerprints: dict[str, str]
    done: set[str]

    def fingerprint(self, cell: Cell) -> str:
        return self.fingerprints[cell_id(cell)]

    def todo(self, done: set[str] | None = None) -> list[Cell]:
        """The cells whose fingerprint is not in ``done`` (default: the planned ``done``)."""
        stored = self.done if done is None else done
        return [c for c in self.grid.cells if self.fingerprint(c) not in stored]


@dataclass
class Evaluation:
    """One cell's outcome from its strategy (:meth:`Runner.evaluate`), before it is recorded."""

    cell: Cell
    outcomes: list[Outcome]
    #: the test labels the scores are measured against
    test_y: np.ndarray
    n_train: int
    n_test: int
    #: the parameters the strategy was given
    params: dict[str, Any]
    fit_seconds: float
    #: library warnings raised while fitting, one entry per (category, message)
    warnings: list[dict[str, Any]]


class Runner:
    """Runs one suite into one output folder."""

    def __init__(
        self,
        host: Host,
        suite: Suite,
        out_dir: Path,
        data_root: Path | None = None,
        device: str = "auto",
        batch_size: int | None = None,
        skip_bad_images: bool = False,
    ) -> None:
        self.host = host
        self.suite = suite
        self.out_dir = Path(out_dir)
        self.data_root = data_root
        self.device_name = device
        self.batch_size = batch_size
        #: Leave undecodable images out (recorded in provenance) instead of failing the run.
        self.skip_bad_images = skip_bad_images
        self.cache = FeatureCache(self.out_dir / "features")
        #: Decoded, resized uint8 images shared by every backbone and run (None: decode each time).
        self.image_cache: ImageCache | None = ImageCache(self.out_dir / "images")
        self.poll_seconds = 2.0
        self._content: dict[str, ContentKeys] = {}
        #: dataset → its content identity, set by :meth:`plan`
        self.data_identities: dict[str, str] = {}
        self._preflight: preflight.Preflight | None = None

    def preflight(self) -> preflight.Preflight:
        """Each backbone's weights and each layer name, resolved once before any work."""
        if self._preflight is None:
            self._preflight = preflight.check(self.host, self.suite)
        return self._preflight

    # --- plan -----------------------------------------------------------------------

    def fingerprint(self, cell: Cell, data_identity: str) -> str:
        """The cell's identity hashed: with ``data_identity`` (:mod:`benchbase.data.identity`),
        so a result is reused only for the same data, wherever its root is."""
        spec = resolve_backbone(self.host, cell.backbone)
        identity = cell.identity(
            {
                "suite": cell.suite,
                "dataset_version": self.host.datasets.get(cell.dataset).version,
                "strategy_version": self.host.strategies.get(cell.strategy).version,
                "weights": spec.weights_id,
                "transform": spec.backbone.transform_id(cell.input_size, cell.resize),
                "data": data_identity,
                **pooling_identity(cell, spec),
            }
        )
        return stable_hash(identity)

    def content_keys(self, ds_name: str) -> ContentKeys:
        """The content keys (relative key + file stamp) of dataset ``ds_name``'s samples."""
        if ds_name not in self._content:
            self._content[ds_name] = ContentKeys(self.data_root)
        return self._content[ds_name]

    def plan(self, allow_missing: bool = False) -> Plan:
        """Phase 1: the grid, each cell's fingerprint, and the fingerprints already stored."""
        grid = expand(self.host, self.suite, self.data_root, allow_missing=allow_missing)
        self._content = {}  # files may have changed since an earlier plan of this runner
        self.data_identities = {
            name: dataset_identity(grid.data[name], self.content_keys(name))
            for name in sorted({c.dataset for c in grid.cells})
        }
        fps = {cell_id(c): self.fingerprint(c, self.data_identities[c.dataset]) for c in grid.cells}
        done: set[str] = set()
        if (self.out_dir / "results.sqlite").exists():
            store = Store(self.out_dir)
            done = store.done()
            store.close()
        return Plan(grid, fps, done)

    # --- screen ---------------------------------------------------------------------

    def screen(self, grid: Grid, names: set[str]) -> None:
        """Phase 2: fail before any extraction when images of datasets ``names`` are missing
        or undecodable, or (with ``skip_bad_images``) leave them out of ``grid.data`` and
        record them in ``DatasetData.skipped``. Results are cached under ``out/imagecheck``."""
        for name in sorted(names):
            before = grid.data[name]
            grid.data[name] = imagecheck.screen(
                name,
                before,
                self.host.datasets.get(name).open_image,
                skip_bad=self.skip_bad_images,
                cache_file=self.out_dir / "imagecheck" / f"{name}.json",
            )
            if grid.data[name] is not before:  # a class may have lost its only images
                check_splits(
                    name, grid.data[name], "once --skip-bad-images left the bad images out"
                )

    # --- features -------------------------------------------------------------------

    def features(
        self,
        ds_name: str,
        data: DatasetData,
        spec: BackboneSpec,
        cells: list[Cell],
        device: Any,
        through: Callable[[Extractor], Extractor] | None = None,
    ) -> GroupFeatures:
        """Phase 3: features of every image any split of ``data`` uses, for every layer
        ``cells`` need: from the cache, or from one forward pass over the images for all
        missing layers. ``through`` wraps the pass (the torchrun driver shards it over
        ranks); a wrapped pass does not resume from checkpoints."""
        # every split's images, whichever cells remain: the cache key must not depend on
        # which cells a resumed run still has to do
        ordered = data.images()
        layers = layers_for(cells, spec)
        input_size, resize = cells[0].input_size, cells[0].resize
        dataset = self.host.datasets.get(ds_name)
        decoder = decoder_for(device, dataset.open_image, resize)
        identity = feature_identity(
            spec.backbone,
            spec.weights_id,
            self.content_keys(ds_name).keys(ordered),
            input_size,
            resize=resize,
        )
        if decoder != "pil":  # other pixels, other features; PIL entries keep their keys
            identity["decoder"] = decoder
        label = f"{ds_name} × {spec.spec}"
        extract = image_pass(
            spec.backbone,
            spec.build,
            ordered,
            dataset.open_image,
            device,
            input_size=input_size,
            batch_size=self.batch_size,
            image_cache=self.image_cache,
            resize=resize,
            decoder=decoder,
            progress=label,
        )
        got = cached_features(
            self.cache,
            {layer: {**identity, **tap_identity(spec.backbone, layer)} for layer in layers},
            through(extract) if through else extract,
            len(ordered),
            resume=through is None,
            label=label,
        )
        rows = {sample.key: row for row, sample in enumerate(ordered)}
        return GroupFeatures(got.features, rows, got.forwarded)

    # --- evaluate and record --------------------------------------------------------

    def evaluate(
        self,
        cell: Cell,
        fingerprint: str,
        data: DatasetData,
        spec: BackboneSpec,
        device: Any,
        features: GroupFeatures | None = None,
    ) -> Evaluation:
        """Phase 4: the cell's strategy fitted and scored (``features``: its group's, for a
        feature strategy). Announces the cell (``cell_started``); a failure is announced
        (``cell_failed``) and raised as a :class:`BenchbaseError` naming the cell."""
        dataset = self.host.datasets.get(cell.dataset)
        strategy = self.host.strategies.get(cell.strategy)
        split = split_of(cell, data)
        tasks = cell_tasks(
            cell,
            dataset,
            strategy.inputs,
            data,
            spec,
            device,
            features,
            self.out_dir / "strategy-cache" / cell.strategy,
            image_cache_dir=self.image_cache.root if self.image_cache else None,
            shared_cache_dir=self.out_dir / "shared-cache",
        )
        self.host.hook.cell_started(cell=cell, fingerprint=fingerprint)
        started = time.perf_counter()
        try:
            # library warnings (e.g. ConvergenceWarning) belong to the cell: recorded in its
            # provenance, summarised at the end, never printed into a progress bar
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                outcomes = check_outcomes(
                    strategy.evaluate(dict(tasks)),
                    list(tasks),
                    len(split.test),
                    len(data.classes),
                    f"strategy {cell.strategy!r} (plugin {self.host.strategies.origin(cell.strategy)!r})",
                )
        except Exception as exc:
            self.host.hook.cell_failed(cell=cell, fingerprint=fingerprint, error=exc)
            if isinstance(exc, BenchbaseError):
                raise
            raise CellFailedError(
                f"strategy {cell.strategy!r}",
                f"{cell.dataset}/{cell.split} with {cell.backbone} [{cell.layer}]",
                f"{type(exc).__name__}: {exc}",
            ) from exc
        return Evaluation(
            cell=cell,
            outcomes=outcomes,
            test_y=labels(split.test),
            n_train=len(split.train),
            n_test=len(split.test),
            params=plain_params(cell),
            fit_seconds=time.perf_counter() - started,
            warnings=warning_counts(caught),
        )

    def record(
        self,
        evaluation: Evaluation,
        fingerprint: str,
        data: DatasetData,
        spec: BackboneSpec,
        store: Any,
        device: Any,
    ) -> list[Result]:
        """Phase 5: the evaluation's metrics, provenance and scores written to ``store`` (a
        :class:`Store`, or anything with its ``write_cell``) as one cell; announces it
        (``cell_finished``) and returns its result rows."""
        cell = evaluation.cell
        dataset = self.host.datasets.get(cell.dataset)
        results = [
            Result(
                cell.suite,
                cell.dataset,
                cell.split,
                cell.backbone,
                outcome.layer,
                cell.strategy,
                metric,
                value,
                fingerprint,
            )
            for outcome in evaluation.outcomes
            for metric, value in metrics.evaluate(
                dataset.metric, evaluation.test_y, outcome.scores, data.classes
            ).items()
        ]
        info = self.provenance(evaluation, data, spec, device)
        cell_row = {
            "suite": cell.suite,
            "dataset": cell.dataset,
            "split": cell.split,
            "backbone": cell.backbone,
            "layer": cell.layer,
            "strategy": cell.strategy,
            "params": evaluation.params,
        }
        store.write_cell(
            fingerprint,
            cell_row,
            results,
            info,
            {o.layer: (o.scores, evaluation.test_y) for o in evaluation.outcomes},
        )
        self.host.hook.cell_finished(cell=cell, fingerprint=fingerprint, results=results, info=info)
        return results

    def provenance(
        self, evaluation: Evaluation, data: DatasetData, spec: BackboneSpec, device: Any
    ) -> dict[str, Any]:
        """What produced the evaluation, as stored with its cell (``results --json``)."""
        cell, outcomes = evaluation.cell, evaluation.outcomes
        return {
            "versions": provenance.versions(),
            "host": provenance.host(),
            "device": str(device),
            "seed": SEED,
            "weights": spec.weights_id,
            "data_root": str(Path(self.data_root).resolve()) if self.data_root else None,
            "data_identity": self.data_identities.get(cell.dataset),
            "dataset_version": self.host.datasets.get(cell.dataset).version,
            "strategy_version": self.host.strategies.get(cell.strategy).version,
            "options": dict(cell.options),
            "input_size": cell.input_size or spec.backbone.input_size,
            "resize": cell.resize,
            # which published rows the suite's pages show (benchbase.leaderboard.references)
            "reproduces": self.suite.reproduces,
            "n_train": evaluation.n_train,
            "n_test": evaluation.n_test,
            "skipped_files": data.skipped,
            "fit_seconds": round(evaluation.fit_seconds, 4),
            "ranks": ranks(),  # > 1: trained data-parallel under torchrun (benchbase.run.ddp)
            "chosen": {o.layer: o.chosen for o in outcomes},
            "sweep": {o.layer: o.sweep for o in outcomes},
            "warnings": evaluation.warnings,
        }

    def run_cell(
        self,
        cell: Cell,
        fingerprint: str,
        data: DatasetData,
        spec: BackboneSpec,
        store: Any,
        device: Any,
        features: GroupFeatures | None = None,
    ) -> Evaluation:
        """:meth:`evaluate` then :meth:`record` one cell."""
        evaluation = self.evaluate(cell, fingerprint, data, spec, device, features)
        self.record(evaluation, fingerprint, data, spec, store, device)
        return evaluation

    # --- the whole run --------------------------------------------------------------

    def run(self) -> RunSummary:
        """Every cell of the suite not yet stored: plan, screen, then per dataset × backbone
        group its features and its cells, claimed so that concurrent runs share the work."""
        start = time.perf_counter()
        check_out_dir(self.out_dir)  # a file or read-only --out fails before any work
        missing = self.preflight().missing
        plan = self.plan()
        grid = plan.grid
        summary = RunSummary(cells=len(grid.cells), missing=dict(missing))
        todo = plan.todo()
        summary.skipped = len(grid.cells) - len(todo)
        runnable = [c for c in todo if c.backbone not in missing]
        summary.unavailable = len(todo) - len(runnable)
        todo = runnable
        check_layers(self.host, todo)  # a missing tap fails before images are read
        self.screen(grid, {c.dataset for c in todo})
        self.host.hook.run_started(suite=self.suite, cells=grid.cells, out_dir=str(self.out_dir))
        device = None
        if todo:  # torch is imported only when there is work to do
            from benchbase.extract.device import resolve_device

            device = resolve_device(self.device_name)
        store = Store(self.out_dir)
        try:
            with phase(f"{self.suite.name}: cells", len(todo), "cell", announce=False) as bar:
                self._run_groups(todo, plan, store, device, summary, bar)
        finally:
            store.claims.release()
            store.close()
            summary.seconds = time.perf_counter() - start
            self.host.hook.run_finished(suite=self.suite, summary=summary.__dict__)
        return summary

    def _run_groups(
        self,
        todo: list[Cell],
        plan: Plan,
        store: Store,
        device: Any,
        summary: RunSummary,
        bar: Any,
    ) -> None:
        """Each dataset × backbone group of ``todo`` in turn; the cells another live run
        holds are waited for (their result, or their lease lapsing) and taken over."""
        groups: dict[tuple[str, str], list[Cell]] = defaultdict(list)
        for cell in todo:
            groups[(cell.dataset, cell.backbone)].append(cell)
        pending = list(groups.items())
        said = ""
        while pending:
            waiting = []
            for (ds_name, bb_name), cells in pending:
                cells = [c for c in cells if plan.fingerprint(c) not in store.done()]
                if not cells or bb_name in summary.missing:  # done meanwhile / no weights
                    continue
                try:
                    held = self._run_group(
                        plan.grid.data[ds_name], cells, plan, store, device, summary, bar
                    )
                except WeightsUnavailableError as exc:  # found out only when built
                    summary.missing[bb_name] = str(exc)
                    left = [c for c in todo if c.backbone == bb_name]
                    left = [c for c in left if plan.fingerprint(c) not in store.done()]
                    summary.unavailable += len(left)
                    bar.update(len(left))
                    continue
                if held:
                    waiting.append(((ds_name, bb_name), held))
            if waiting:  # cells another live run is computing: wait for them or their lease
                said = self._say_waiting(store, waiting, plan, said)
                time.sleep(self.poll_seconds)
            pending = waiting

    def _say_waiting(
        self,
        store: Store,
        waiting: list[tuple[tuple[str, str], list[Cell]]],
        plan: Plan,
        said: str,
    ) -> str:
        """Tell which cells this run waits for, whose they are and until when (once per
        change): a resumed run must not sit silent behind another host's lease."""
        cells = {plan.fingerprint(c): c for _, held in waiting for c in held}
        holders = store.claims.holders(list(cells))
        lines = []
        for fp, (who, expires) in sorted(holders.items(), key=lambda kv: kv[1][1]):
            c = cells[fp]
            until = time.strftime("%H:%M:%S", time.localtime(expires))
            lines.append(
                f"  {c.dataset}/{c.split} {c.backbone} [{c.layer}] {c.strategy}: held by "
                f"{who}, lease until {until}"
            )
        text = "\n".join(lines)
        if text and text != said:
            print(
                f"benchbase: waiting for {len(lines)} cell(s) that another run is computing "
                "(taken over when its process is gone from this machine or its lease lapses):\n"
                + text,
                file=sys.stderr,
                flush=True,
            )
        return text

    def _run_group(
        self,
        data: DatasetData,
        cells: list[Cell],
        plan: Plan,
        store: Store,
        device: Any,
        summary: RunSummary,
        bar: Any,
    ) -> list[Cell]:
        """Claim and run the cells of one dataset × backbone; returns those another process
        holds."""
        spec = resolve_backbone(self.host, cells[0].backbone)
        mine = [c for c in cells if store.claims.claim(plan.fingerprint(c))]
        held = [c for c in cells if c not in mine]
        if not mine:
            return held
        feature_cells = [
            c for c in mine if self.host.strategies.get(c.strategy).inputs == "features"
        ]
        features = None
        if feature_cells:
            features = self.features(cells[0].dataset, data, spec, feature_cells, device)
            summary.forward_images += features.forwarded
        for cell in mine:
            bar.set_postfix_str(f"{cell.dataset} {cell.split} {cell.strategy} {cell.layer}")
            evaluation = self.run_cell(
                cell, plan.fingerprint(cell), data, spec, store, device, features
            )
            summary.add_warnings(evaluation.warnings)
            summary.done += 1
            bar.update(1)
        return held


def pooling_identity(cell: Cell, spec: BackboneSpec) -> dict[str, Any]:
    """The declared (non-average) pooling of the cell's taps, if any: it changes the
    features, so it changes the fingerprint; cells on average-pooled taps keep theirs."""
    bb = spec.backbone
    if not bb.pooling:
        return {}
    layers = list(bb.taps()) if cell.layer == "*" else [cell.layer]
    declared = {t: bb.tap_pooling(t) for t in layers if bb.tap_pooling(t) != "gap"}
    return {"pooling": declared} if declared else {}


def layers_for(cells: list[Cell], spec: BackboneSpec) -> list[str]:
    """Every layer ``cells`` need, in order of first need (``"*"``: every tap)."""
    layers: list[str] = []
    for cell in cells:
        wanted = list(spec.backbone.taps()) if cell.layer == "*" else [cell.layer]
        layers.extend(layer for layer in wanted if layer not in layers)
    return layers


def decoder_for(device: Any, open_image: Any, resize: str) -> str:
    """ "pil" or "nvjpeg" for ``--decode`` (BENCHBASE_DECODE, default auto) on ``device``;
    "pil" when no device was resolved (every feature cached: nothing is decoded) and for any
    resize but "crop" (the device decoder knows only shorter side + centre crop)."""
    if device is None or resize != "crop":
        return "pil"
    from benchbase.extract.jpegdecode import resolve_decoder  # imports torch

    return resolve_decoder(os.environ.get("BENCHBASE_DECODE", "auto"), device, open_image)


def warning_counts(caught: list[warnings.WarningMessage]) -> list[dict[str, Any]]:
    """Caught warnings, one entry per (category, message) with how often it was raised."""
    counts: dict[tuple[str, str], int] = {}
    for w in caught:
        key = (w.category.__name__, (str(w.message).strip().splitlines() or [""])[0][:300])
        counts[key] = counts.get(key, 0) + 1
    return [{"category": c, "message": m, "count": n} for (c, m), n in counts.items()]


def ranks() -> int:
    """The world size of an initialised torch.distributed process group, else 1."""
    dist = sys.modules.get("torch.distributed")  # never imported here for a plain run
    if dist is not None and dist.is_available() and dist.is_initialized():
        return int(dist.get_world_size())
    return 1
