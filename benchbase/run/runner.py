"""The runner: a suite's grid → features (cached) → strategies → metrics → the store."""

from __future__ import annotations

import os
import sys
import time
import warnings
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from benchbase import metrics
from benchbase.api import contract
from benchbase.api.types import (
    Cell,
    DatasetData,
    FeatureTask,
    ImageTask,
    Result,
    Sample,
    Suite,
    stable_hash,
)
from benchbase.data.identity import ContentKeys, dataset_identity
from benchbase.errors import BenchbaseError, DiskFullError, WeightsUnavailableError, is_disk_full
from benchbase.extract.backbones import BackboneSpec, feature_identity, tap_identity
from benchbase.extract.backbones import resolve as resolve_backbone
from benchbase.extract.cache import FeatureCache
from benchbase.extract.imagecache import ImageCache
from benchbase.progress import phase
from benchbase.run import preflight, provenance
from benchbase.run.store import Store
from benchbase.run.storefile import check_out_dir
from benchbase.run.suites import Grid, check_layers, expand

if TYPE_CHECKING:
    from benchbase.plugin.manager import Host

SEED = 0


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

    # --- the grid -------------------------------------------------------------------

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
                **self._pooling_identity(cell, spec),
            }
        )
        return stable_hash(identity)

    def content_keys(self, ds_name: str) -> ContentKeys:
        """The content keys (relative key + file stamp) of dataset ``ds_name``'s samples."""
        if ds_name not in self._content:
            self._content[ds_name] = ContentKeys(self.data_root)
        return self._content[ds_name]

    @staticmethod
    def _pooling_identity(cell: Cell, spec: BackboneSpec) -> dict[str, Any]:
        """The declared (non-average) pooling of the cell's taps, if any: it changes the
        features, so it changes the fingerprint; cells on average-pooled taps keep theirs."""
        bb = spec.backbone
        if not bb.pooling:
            return {}
        layers = list(bb.taps()) if cell.layer == "*" else [cell.layer]
        declared = {t: bb.tap_pooling(t) for t in layers if bb.tap_pooling(t) != "gap"}
        return {"pooling": declared} if declared else {}

    def plan(self, allow_missing: bool = False) -> tuple[Grid, dict[str, str], set[str]]:
        """The grid, each cell's fingerprint, and the fingerprints already stored."""
        grid = expand(self.host, self.suite, self.data_root, allow_missing=allow_missing)
        self._content = {}  # files may have changed since an earlier plan of this runner
        self.data_identities = {
            name: dataset_identity(grid.data[name], self.content_keys(name))
            for name in sorted({c.dataset for c in grid.cells})
        }
        fps = {
            self._cell_id(c): self.fingerprint(c, self.data_identities[c.dataset])
            for c in grid.cells
        }
        store_path = self.out_dir / "results.sqlite"
        done: set[str] = set()
        if store_path.exists():
            store = Store(self.out_dir)
            done = store.done()
            store.close()
        return grid, fps, done

    @staticmethod
    def _cell_id(cell: Cell) -> str:
        return repr(cell)

    # --- running --------------------------------------------------------------------

    def run(self) -> RunSummary:
        start = time.perf_counter()
        check_out_dir(self.out_dir)  # a file or read-only --out fails before any work
        missing = self.preflight().missing
        grid, fps, done = self.plan()
        summary = RunSummary(cells=len(grid.cells), missing=dict(missing))
        todo = [c for c in grid.cells if fps[self._cell_id(c)] not in done]
        summary.skipped = len(grid.cells) - len(todo)
        runnable = [c for c in todo if c.backbone not in missing]
        summary.unavailable = len(todo) - len(runnable)
        todo = runnable
        check_layers(self.host, todo)  # a missing tap fails before images are read
        self._screen_images(grid, {c.dataset for c in todo})
        self.host.hook.run_started(suite=self.suite, cells=grid.cells, out_dir=str(self.out_dir))
        device = None
        if todo:  # torch is imported only when there is work to do
            from benchbase.extract.device import resolve_device

            device = resolve_device(self.device_name)
        store = Store(self.out_dir)
        groups: dict[tuple[str, str], list[Cell]] = defaultdict(list)
        for cell in todo:
            groups[(cell.dataset, cell.backbone)].append(cell)
        try:
            with phase(f"{self.suite.name}: cells", len(todo), "cell", announce=False) as bar:
                pending = list(groups.items())
                said = ""
                while pending:
                    waiting = []
                    for (ds_name, bb_name), cells in pending:
                        cells = [c for c in cells if fps[self._cell_id(c)] not in store.done()]
                        if not cells or bb_name in summary.missing:  # done meanwhile / no weights
                            continue
                        try:
                            held = self._run_group(
                                grid.data[ds_name],
                                ds_name,
                                bb_name,
                                cells,
                                fps,
                                store,
                                device,
                                summary,
                                bar,
                            )
                        except WeightsUnavailableError as exc:  # found out only when built
                            summary.missing[bb_name] = str(exc)
                            left = [c for c in todo if c.backbone == bb_name]
                            left = [c for c in left if fps[self._cell_id(c)] not in store.done()]
                            summary.unavailable += len(left)
                            bar.update(len(left))
                            continue
                        if held:
                            waiting.append(((ds_name, bb_name), held))
                    if waiting:  # cells another live run is computing: wait for them or their lease
                        said = self._say_waiting(store, waiting, fps, said)
                        time.sleep(self.poll_seconds)
                    pending = waiting
        finally:
            store.release_claims()
            store.close()
            summary.seconds = time.perf_counter() - start
            self.host.hook.run_finished(suite=self.suite, summary=summary.__dict__)
        return summary

    def _say_waiting(
        self,
        store: Store,
        waiting: list[tuple[tuple[str, str], list[Cell]]],
        fps: dict[str, str],
        said: str,
    ) -> str:
        """Tell which cells this run waits for, whose they are and until when (once per
        change): a resumed run must not sit silent behind another host's lease."""
        cells = {fps[self._cell_id(c)]: c for _, held in waiting for c in held}
        holders = store.holders(list(cells))
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

    def _screen_images(self, grid: Grid, names: set[str]) -> None:
        """Fail before any extraction when images are missing or undecodable, or (with
        ``skip_bad_images``) leave them out and record them in ``DatasetData.skipped``."""
        from benchbase.data.imagecheck import screen
        from benchbase.run.suites import check_splits

        for name in sorted(names):
            before = grid.data[name]
            grid.data[name] = screen(
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

    def _run_group(
        self,
        data: DatasetData,
        ds_name: str,
        bb_name: str,
        cells: list[Cell],
        fps: dict[str, str],
        store: Store,
        device: Any,
        summary: RunSummary,
        bar: Any,
    ) -> list[Cell]:
        """Run the cells of one dataset × backbone; returns those another process holds."""
        spec = resolve_backbone(self.host, bb_name)
        mine = [c for c in cells if store.claim(fps[self._cell_id(c)])]
        held = [c for c in cells if c not in mine]
        if not mine:
            return held
        feature_cells = [
            c for c in mine if self.host.strategies.get(c.strategy).inputs == "features"
        ]
        features: dict[str, np.ndarray] = {}
        images: dict[str, int] = {}
        if feature_cells:
            features, images = self._features(ds_name, data, spec, feature_cells, device, summary)
        for cell in mine:
            bar.set_postfix_str(f"{cell.dataset} {cell.split} {cell.strategy} {cell.layer}")
            warned = self._run_cell(
                cell, fps[self._cell_id(cell)], data, spec, features, images, store, device
            )
            for w in warned:
                summary.warnings[w["category"]] = (
                    summary.warnings.get(w["category"], 0) + w["count"]
                )
            summary.warned_cells += bool(warned)
            summary.done += 1
            bar.update(1)
        return held

    @staticmethod
    def _decoder(device: Any, open_image: Any) -> str:
        """ "pil" or "nvjpeg" for ``--decode`` (BENCHBASE_DECODE, default auto) on ``device``;
        "pil" when no device was resolved (every feature cached: nothing is decoded)."""
        choice = os.environ.get("BENCHBASE_DECODE", "auto")
        if device is None:
            return "pil"
        from benchbase.extract.jpegdecode import resolve_decoder

        return resolve_decoder(choice, device, open_image)

    def _layers_for(self, cells: list[Cell], spec: BackboneSpec) -> list[str]:
        layers: list[str] = []
        for cell in cells:
            wanted = list(spec.backbone.taps()) if cell.layer == "*" else [cell.layer]
            layers.extend(layer for layer in wanted if layer not in layers)
        return layers

    def _features(
        self,
        ds_name: str,
        data: DatasetData,
        spec: BackboneSpec,
        cells: list[Cell],
        device: Any,
        summary: RunSummary,
    ) -> tuple[dict[str, np.ndarray], dict[str, int]]:
        """Features of every image any split of ``data`` uses, for every layer ``cells`` need:
        from the cache, or from one forward pass over the images for all missing layers."""
        # every split's images, whichever cells remain: the cache key must not depend on
        # which cells a resumed run still has to do
        ordered = data.images()
        images = {sample.key: row for row, sample in enumerate(ordered)}
        layers = self._layers_for(cells, spec)
        input_size, resize = cells[0].input_size, cells[0].resize
        dataset = self.host.datasets.get(ds_name)
        decoder = self._decoder(device, dataset.open_image)
        if resize != "crop":  # the device decoder knows only shorter side + centre crop
            decoder = "pil"
        base_identity = feature_identity(
            spec.backbone,
            spec.weights_id,
            self.content_keys(ds_name).keys(ordered),
            input_size,
            resize=resize,
        )
        if decoder != "pil":  # other pixels, other features; PIL entries keep their keys
            base_identity["decoder"] = decoder
        tap = {layer: {**base_identity, **tap_identity(spec.backbone, layer)} for layer in layers}
        keys = {layer: self.cache.key(tap[layer]) for layer in layers}
        features: dict[str, np.ndarray] = {}
        for layer in layers:
            cached = self.cache.get(keys[layer])
            if cached is not None:
                features[layer] = cached
        missing = [layer for layer in layers if layer not in features]
        if missing:
            from benchbase.extract.features import ExtractionStats, extract

            model = spec.build()
            writers = {layer: self.cache.writer(keys[layer], tap[layer]) for layer in missing}
            try:
                # a pass killed or interrupted earlier left checkpoints: resume after them
                # (not under torchrun, whose ranks split the image list among themselves)
                done = 0 if _ranks() > 1 else min(w.resume(len(ordered)) for w in writers.values())
                remaining = ordered[done:]
                stats = ExtractionStats(0, 0.0, 0)
                if done:
                    print(
                        f"benchbase: {ds_name} × {spec.spec}: resuming extraction at image "
                        f"{done}/{len(ordered)} (checkpoint of an interrupted pass)",
                        file=sys.stderr,
                    )
                if remaining:
                    stats = extract(
                        spec.backbone,
                        model,
                        missing,
                        remaining,
                        dataset.open_image,
                        {t: _Offset(w, done, len(ordered)) for t, w in writers.items()}
                        if done
                        else writers,
                        device,
                        input_size=input_size,
                        batch_size=self.batch_size,
                        progress=f"{ds_name} × {spec.spec}",
                        # the uint8 cache holds whole image lists: not filled by a resumed pass
                        image_cache=None if done else self.image_cache,
                        decoder=decoder,
                        resize=resize,
                    )
                for layer, writer in writers.items():
                    features[layer] = writer.commit()
            except OSError as exc:  # a full disk in any writer of the pass (images, features)
                if not is_disk_full(exc):
                    raise
                raise DiskFullError(exc.filename or self.out_dir, exc.strerror or exc) from exc
            finally:
                for writer in writers.values():
                    writer.abort()
            summary.forward_images += stats.images
            del model
        return features, images

    def _run_cell(
        self,
        cell: Cell,
        fingerprint: str,
        data: DatasetData,
        spec: BackboneSpec,
        features: dict[str, np.ndarray],
        images: dict[str, int],
        store: Store,
        device: Any,
    ) -> list[dict[str, Any]]:
        """Fit, score and store one cell; returns the library warnings it raised."""
        dataset = self.host.datasets.get(cell.dataset)
        strategy = self.host.strategies.get(cell.strategy)
        split = next(s for s in data.splits if s.name == cell.split)
        params = dict(cell.params)
        params = {k: list(v) if isinstance(v, tuple) else v for k, v in params.items()}
        train_y, test_y = _labels(split.train), _labels(split.test)
        layers = list(spec.backbone.taps()) if cell.layer == "*" else [cell.layer]
        tasks: dict[str, Any]
        if strategy.inputs == "images":
            tasks = {
                layer: ImageTask(
                    backbone=spec.backbone,
                    pretrained=spec.pretrained,
                    build=spec.build,
                    train=split.train,
                    train_y=train_y,
                    test=split.test,
                    test_y=test_y,
                    open_image=dataset.open_image,
                    task=dataset.task,
                    metric=dataset.metric,
                    classes=data.classes,
                    layer=layer,
                    seed=SEED,
                    params=params,
                    device=device,
                    input_size=cell.input_size or spec.backbone.input_size,
                    cache_dir=self.out_dir / "strategy-cache" / cell.strategy,
                    image_cache_dir=self.image_cache.root if self.image_cache else None,
                    shared_cache_dir=self.out_dir / "shared-cache",
                    weights_id=spec.weights_id,
                    resize=cell.resize,
                    source=data.source.splits[split.name] if data.source else None,
                    source_classes=list(data.source.classes) if data.source else [],
                )
                for layer in layers
            }
        else:
            train_rows = np.array([images[s.key] for s in split.train])
            test_rows = np.array([images[s.key] for s in split.test])
            tasks = {
                layer: FeatureTask(
                    train_x=np.asarray(features[layer][train_rows]),
                    train_y=train_y,
                    test_x=np.asarray(features[layer][test_rows]),
                    test_y=test_y,
                    task=dataset.task,
                    metric=dataset.metric,
                    classes=data.classes,
                    layer=layer,
                    seed=SEED,
                    params=params,
                    device=device,
                )
                for layer in layers
            }
        self.host.hook.cell_started(cell=cell, fingerprint=fingerprint)
        started = time.perf_counter()
        try:
            # library warnings (e.g. ConvergenceWarning) belong to the cell: recorded in its
            # provenance, summarised at the end, never printed into a progress bar
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                outcomes = contract.check_outcomes(
                    strategy.evaluate(tasks),
                    layers,
                    len(split.test),
                    len(data.classes),
                    f"strategy {cell.strategy!r} (plugin {self.host.strategies.origin(cell.strategy)!r})",
                )
        except Exception as exc:
            self.host.hook.cell_failed(cell=cell, fingerprint=fingerprint, error=exc)
            if isinstance(exc, BenchbaseError):
                raise
            raise BenchbaseError(
                f"strategy {cell.strategy!r} failed on {cell.dataset}/{cell.split} with "
                f"{cell.backbone} [{cell.layer}]: {type(exc).__name__}: {exc}"
            ) from exc
        fit_seconds = time.perf_counter() - started
        results: list[Result] = []
        for outcome in outcomes:
            values = metrics.evaluate(dataset.metric, test_y, outcome.scores, data.classes)
            for metric, value in values.items():
                results.append(
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
                )
        info = {
            "versions": provenance.versions(),
            "host": provenance.host(),
            "device": str(device),
            "seed": SEED,
            "weights": spec.weights_id,
            "data_root": str(Path(self.data_root).resolve()) if self.data_root else None,
            "data_identity": self.data_identities.get(cell.dataset),
            "dataset_version": dataset.version,
            "strategy_version": strategy.version,
            "options": dict(cell.options),
            "input_size": cell.input_size or spec.backbone.input_size,
            "resize": cell.resize,
            # which published rows the suite's pages show (benchbase.leaderboard.references)
            "reproduces": self.suite.reproduces,
            "n_train": len(split.train),
            "n_test": len(split.test),
            "skipped_files": data.skipped,
            "fit_seconds": round(fit_seconds, 4),
            "ranks": _ranks(),  # > 1: trained data-parallel under torchrun (benchbase.run.ddp)
            "chosen": {o.layer: o.chosen for o in outcomes},
            "sweep": {o.layer: o.sweep for o in outcomes},
            "warnings": (warned := _warning_counts(caught)),
        }
        cell_row = {
            "suite": cell.suite,
            "dataset": cell.dataset,
            "split": cell.split,
            "backbone": cell.backbone,
            "layer": cell.layer,
            "strategy": cell.strategy,
            "params": params,
        }
        store.write_cell(
            fingerprint,
            cell_row,
            results,
            info,
            {o.layer: (o.scores, test_y) for o in outcomes},
        )
        self.host.hook.cell_finished(cell=cell, fingerprint=fingerprint, results=results, info=info)
        return warned


class _Offset:
    """A cache writer seen from a pass over ``rows offset..``: rows land ``offset`` further."""

    def __init__(self, writer: Any, offset: int, total: int) -> None:
        self.writer, self.offset, self.total = writer, offset, total

    def write(self, start: int, rows: np.ndarray, _total: int) -> None:
        self.writer.write(start + self.offset, rows, self.total)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.writer, name)


def _warning_counts(caught: list[warnings.WarningMessage]) -> list[dict[str, Any]]:
    """Caught warnings, one entry per (category, message) with how often it was raised."""
    counts: dict[tuple[str, str], int] = {}
    for w in caught:
        key = (w.category.__name__, (str(w.message).strip().splitlines() or [""])[0][:300])
        counts[key] = counts.get(key, 0) + 1
    return [{"category": c, "message": m, "count": n} for (c, m), n in counts.items()]


def _ranks() -> int:
    """The world size of an initialised torch.distributed process group, else 1."""
    dist = sys.modules.get("torch.distributed")  # never imported here for a plain run
    if dist is not None and dist.is_available() and dist.is_initialized():
        return int(dist.get_world_size())
    return 1


def _labels(samples: list[Sample] | Any) -> np.ndarray:
    labels = [s.label for s in samples]
    if labels and isinstance(labels[0], tuple):
        return np.array(labels, dtype=np.int64).reshape(len(labels), -1)
    return np.array(labels, dtype=np.int64)
