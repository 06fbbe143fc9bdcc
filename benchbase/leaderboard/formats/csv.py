"""CSV: long format, one number per line, for analysis."""

from __future__ import annotations

import csv
import io

from benchbase.leaderboard.formats.notes import Notes
from benchbase.leaderboard.model import Table

#: value, std, ci_lo, ci_hi in percent; dataset … strategy filled for our rows; ids: the
#: ``fingerprint:layer`` of each split behind the value (what ``benchbase compare`` takes)
CSV_HEADER = (
    "table",
    "method",
    "kind",
    "source",
    "caveats",
    "dataset",
    "backbone",
    "weights",
    "layer",
    "strategy",
    "column",
    "text",
    "value",
    "std",
    "ci_lo",
    "ci_hi",
    "ids",
)


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def render(tables: list[Table], notes: Notes | None = None) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for table in tables:
        for row in table.rows:
            for col in table.columns:
                cell = row.cells.get(col)
                if cell is None or not cell.text:
                    continue
                facts = [cell.facts.get(k, "") for k in CSV_HEADER[5:10]]
                low, high = cell.ci or (None, None)
                writer.writerow(
                    (
                        table.key,
                        row.method,
                        "published" if row.published else "ours",
                        row.source,
                        "; ".join(row.caveats),
                        *facts,
                        col,
                        cell.text,
                        _num(cell.value),
                        _num(cell.std),
                        _num(low),
                        _num(high),
                        ",".join(cell.ids),
                    )
                )
    return buf.getvalue().rstrip("\n")
