"""What a rendered table is made of, independent of the output format."""

from __future__ import annotations

from dataclasses import dataclass, field

from benchbase.plugin import manager

VOC_CLASSES = (
    "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa",
    "train", "tvmonitor",
)  # fmt: skip
#: The papers' column headers, in the papers' (and the devkit's) order.
VOC_ABBREVIATIONS = (
    "aero", "bike", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "table", "dog", "horse", "mbike", "person", "plant", "sheep", "sofa", "train", "tv",
)  # fmt: skip
ABBREVIATION = dict(zip(VOC_CLASSES, VOC_ABBREVIATIONS, strict=True))

def metric_label(metric: str) -> str:
    """What a table or axis calls a registered metric (its ``display_name``), else its name."""
    registry = manager.host().metrics
    return registry.get(metric).label if metric in registry else metric


@dataclass
class Cell:
    """One table entry; ``value``/``std``/``ci`` in percent (None for text-only entries)."""

    text: str = ""
    value: float | None = None
    std: float | None = None
    bold: bool = False
    #: 95% bootstrap interval (low, high) of ``value``, when computed
    ci: tuple[float, float] | None = None
    #: our cells: the metric and the ``fingerprint:layer`` ids behind the value (one number
    #: of the store is the same number in every table that shows it)
    metric: str = ""
    ids: tuple[str, ...] = ()
    #: our cells: backbone, weights, layer, strategy, dataset of the value (CSV columns)
    facts: dict[str, str] = field(default_factory=dict)


@dataclass
class Row:
    method: str
    cells: dict[str, Cell] = field(default_factory=dict)
    published: bool = False
    #: "ours" or the paper and table the numbers come from
    source: str = "ours"
    #: protocol caveats shown beside the row (``test server``, ``bbox``)
    caveats: list[str] = field(default_factory=list)
    #: footnotes: chosen hyper-parameters (ours), remarks (published)
    notes: list[str] = field(default_factory=list)
    #: ``fingerprint:layer`` of each split's cell (ours)
    ids: list[str] = field(default_factory=list)

    @property
    def source_text(self) -> str:
        if not self.published:
            return "ours"
        return "; ".join(["published: " + self.source, *self.caveats])


@dataclass
class Table:
    key: str
    kind: str  # voc | accuracy | layers | grid | summary | transfer
    title: str
    columns: list[str]
    rows: list[Row] = field(default_factory=list)
    caption: list[str] = field(default_factory=list)
    first_header: str = "Method"


def fmt_value(value: float | None, std: float | None = None, digits: int = 1) -> str:
    if value is None:
        return ""
    text = f"{value:.{digits}f}"
    return text if std is None else f"{text} ± {std:.{digits}f}"


def published_cell(value: float, std: float | None, text: str = "") -> Cell:
    """A published number as printed (no re-rounding)."""
    text = text or (f"{value:g}" if std is None else f"{value:g} ± {std:g}")
    return Cell(text, value, std)


def bold_best(table: Table, columns: list[str] | None = None) -> None:
    """Bold the highest value of each column (ties all bold) when two or more rows compete."""
    for col in columns or table.columns:
        cells = [
            r.cells[col] for r in table.rows if col in r.cells and r.cells[col].value is not None
        ]
        if len(cells) < 2:
            continue
        best = max(c.value for c in cells if c.value is not None)
        for c in cells:
            c.bold = c.value is not None and abs(c.value - best) < 1e-9
