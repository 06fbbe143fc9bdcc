"""Markdown: GitHub tables, hyper-parameters and remarks as numbered footnotes."""

from __future__ import annotations

from benchbase.leaderboard.formats.notes import Notes, page
from benchbase.leaderboard.model import Table


def render(tables: list[Table], notes: Notes) -> str:
    return page(tables, notes, markdown_table, markdown_notes)


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown_table(table: Table, notes: Notes) -> str:
    header = [table.first_header, *table.columns, "Source"]
    lines = [f"### {table.title}", ""]
    lines.append("| " + " | ".join(_md(h) for h in header) + " |")
    lines.append("|" + "|".join([" --- "] + [" ---: "] * len(table.columns) + [" --- "]) + "|")
    for row in table.rows:
        marks = "".join(f"[^{n}]" for n in notes.refs(row))
        method = _md(row.method) + marks
        if row.published:
            method = f"*{method}*"
        cells = []
        for col in table.columns:
            cell = row.cells.get(col)
            text = _md(cell.text) if cell else ""
            cells.append(f"**{text}**" if cell and cell.bold and text else text)
        source = _md(row.source_text) if row.published else "ours"
        lines.append("| " + " | ".join([method, *cells, source]) + " |")
    if table.caption:
        lines += ["", *(_md(c) + "  " for c in table.caption)]
        lines[-1] = lines[-1].rstrip()
    return "\n".join(lines)


def markdown_notes(new: list[tuple[str, int]]) -> str:
    if not new:
        return ""
    return "\n\n" + "\n".join(f"[^{n}]: {_md(text)}" for text, n in new)
