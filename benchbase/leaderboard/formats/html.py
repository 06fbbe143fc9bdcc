"""HTML: tables whose method cells carry their notes in ``title`` (hover), plus a notes list."""

from __future__ import annotations

import html

from benchbase.leaderboard.formats.notes import Notes, page
from benchbase.leaderboard.model import Table


def render(tables: list[Table], notes: Notes) -> str:
    return page(tables, notes, html_table, html_notes)


def _h(text: str) -> str:
    return html.escape(text, quote=True)


def html_table(table: Table, notes: Notes) -> str:
    out = [f'<table class="lb {table.kind}" id="{_h(table.key)}">']
    out.append(f"<caption><strong>{_h(table.title)}</strong>")
    out += [f"<br><small>{_h(c)}</small>" for c in table.caption]
    out.append("</caption>")
    heads = "".join(f"<th>{_h(h)}</th>" for h in [table.first_header, *table.columns, "Source"])
    out.append(f"<thead><tr>{heads}</tr></thead><tbody>")
    for row in table.rows:
        numbers = notes.refs(row)
        marks = "".join(f'<sup><a href="#note-{n}">{n}</a></sup>' for n in numbers)
        title = " | ".join(row.notes + ([" ".join(row.ids)] if row.ids else []))
        cls = "published" if row.published else "ours"
        tds = [f'<td class="method" title="{_h(title)}">{_h(row.method)}{marks}</td>']
        for col in table.columns:
            cell = row.cells.get(col)
            text = _h(cell.text) if cell else ""
            tds.append(
                f"<td><strong>{text}</strong></td>" if cell and cell.bold else f"<td>{text}</td>"
            )
        tds.append(f'<td class="source">{_h(row.source_text)}</td>')
        out.append(f'<tr class="{cls}">' + "".join(tds) + "</tr>")
    out.append("</tbody></table>")
    return "\n".join(out)


def html_notes(new: list[tuple[str, int]]) -> str:
    if not new:
        return ""
    items = "\n".join(f'<li id="note-{n}" value="{n}">{_h(text)}</li>' for text, n in new)
    return f'\n<ol class="notes">\n{items}\n</ol>'
