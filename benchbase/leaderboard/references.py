"""The papers' published numbers (committed data with their sources), as reference rows.

``leaderboard/references/published.csv`` in the repository is the source; a byte-identical
copy ships inside the package (``benchbase/leaderboard/data/published.csv``) so that an
installed benchbase renders the same tables. Long format, one number per line:
``paper, table, dataset, protocol, method, metric, column, value, std, note`` (percent).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from functools import cache
from importlib import resources

from benchbase.leaderboard.declared import registered

#: Notes that change what a number means: shown beside the row, not in a footnote.
CAVEATS = ("test server", "bbox")


@dataclass(frozen=True)
class Reference:
    """One published number."""

    paper: str
    table: str
    dataset: str
    protocol: str
    method: str
    metric: str
    column: str
    value: float
    std: float | None
    note: str
    #: the numbers as printed in the paper (trailing zeros kept)
    text: str = ""


@dataclass
class RefRow:
    """One published table row: a method's numbers in one (paper, table, dataset)."""

    paper: str
    table: str
    dataset: str
    protocol: str
    method: str
    #: column → (value, std, text as printed)
    values: dict[str, tuple[float, float | None, str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def source(self) -> str:
        short = self.paper.split(" (")[0]
        return short if self.table in short else f"{short}, {self.table}"

    @property
    def caveats(self) -> list[str]:
        return [c for c in CAVEATS if any(c in n for n in self.notes)]

    @property
    def remarks(self) -> list[str]:
        """Notes other than the caveat tokens (footnotes)."""
        return [n for n in self.notes if n not in CAVEATS]


def _parse(text: str) -> list[Reference]:
    out = []
    for row in csv.DictReader(io.StringIO(text)):
        out.append(
            Reference(
                paper=row["paper"],
                table=row["table"],
                dataset=row["dataset"],
                protocol=row["protocol"],
                method=row["method"],
                metric=row["metric"],
                column=row["column"],
                value=float(row["value"]),
                std=float(row["std"]) if row["std"] else None,
                note=row["note"],
                text=row["value"] + (f" ± {row['std']}" if row["std"] else ""),
            )
        )
    return out


def csv_text() -> str:
    return resources.files("benchbase.leaderboard").joinpath("data/published.csv").read_text()


@cache
def load() -> tuple[Reference, ...]:
    """Every published number, in file order."""
    return tuple(_parse(csv_text()))


def rows(datasets: set[str] | None = None, papers: tuple[str, ...] | None = None) -> list[RefRow]:
    """Published rows grouped per (paper, table, dataset, method), in file order."""
    grouped: dict[tuple[str, str, str, str], RefRow] = {}
    for ref in load():
        if datasets is not None and ref.dataset not in datasets:
            continue
        if papers is not None and not ref.paper.startswith(papers):
            continue
        key = (ref.paper, ref.table, ref.dataset, ref.method)
        row = grouped.setdefault(key, RefRow(*key[:3], ref.protocol, ref.method))
        row.values[ref.column if ref.metric != "mAP" else "mAP"] = (ref.value, ref.std, ref.text)
        if ref.note and ref.note not in row.notes:
            row.notes.append(ref.note)
    return list(grouped.values())


def short_name(paper: str) -> str:
    """``"Razavian et al. 2014 (CNN features off-the-shelf)"`` → ``"Razavian et al. 2014"``."""
    return paper.split(" (")[0].strip()


def papers_in(reproduces: str) -> tuple[str, ...]:
    """The published papers a suite's ``reproduces`` text names, by their short names as in
    ``published.csv`` (``"Razavian et al. 2014"``, ``"Oquab et al. 2014"``), in file order.
    A text naming none (a toy suite, a paper with no numeric table) selects no rows."""
    names: list[str] = []
    for ref in load():
        name = short_name(ref.paper)
        if name not in names and name in reproduces:
            names.append(name)
    return tuple(names)


def papers_for(suite: str | None, reproduces: str | None = None) -> tuple[str, ...] | None:
    """The papers whose rows a suite's page shows (None: any paper's).

    ``reproduces`` (the suite's own text, e.g. as stored with its results) decides when
    given; else the registered suite of that name's; else any paper's rows."""
    if reproduces:
        return papers_in(reproduces)
    own = registered(suite) if suite is not None else None
    return papers_in(own.reproduces) if own is not None and own.reproduces else None


def datasets_of(papers: tuple[str, ...] | None) -> list[str]:
    seen: list[str] = []
    for ref in load():
        if (papers is None or ref.paper.startswith(papers)) and ref.dataset not in seen:
            seen.append(ref.dataset)
    return seen
