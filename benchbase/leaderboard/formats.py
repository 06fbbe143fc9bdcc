"""Tables → markdown, CSV, LaTeX or HTML.

Markdown and LaTeX give hyper-parameters and remarks as numbered footnotes (one number per
distinct text on a page; LaTeX lists each table's notes inside its ``table``); HTML puts them
in the ``title`` attribute of the row's method cell (hover) and in a notes list. A caption
line already printed above on the page is not repeated. CSV is long format, one number per
line, for analysis.
"""

from __future__ import annotations

import csv
import dataclasses
import html
import io

from benchbase.leaderboard.model import Row, Table

FORMATS = ("markdown", "csv", "latex", "html")


class Notes:
    """Footnote numbers for a page: the same text gets the same number."""

    def __init__(self) -> None:
        self.texts: dict[str, int] = {}

    def refs(self, row: Row) -> list[int]:
        return [self.texts.setdefault(t, len(self.texts) + 1) for t in row.notes]


def render(tables: list[Table], fmt: str, notes: Notes | None = None) -> str:
    if fmt == "csv":
        return to_csv(tables)
    if fmt == "latex":
        notes = notes or Notes()
        preamble = "% needs \\usepackage{booktabs,array}; numbers in percent\n"
        return preamble + _render(tables, fmt, notes)
    return _render(tables, fmt, notes)


AS_ABOVE = "Networks and protocol as above."


def once(tables: list[Table]) -> list[Table]:
    """The tables with each caption line printed only the first time on the page."""
    seen: set[str] = set()
    out = []
    for t in tables:
        caption = [c for c in t.caption if c not in seen]
        if len(caption) < len(t.caption):
            caption.append(AS_ABOVE)
        seen.update(t.caption)
        out.append(dataclasses.replace(t, caption=caption))
    return out


def _render(tables: list[Table], fmt: str, notes: Notes | None) -> str:
    notes = notes or Notes()
    render_one = {"markdown": markdown_table, "latex": latex_table, "html": html_table}[fmt]
    start = len(notes.texts)
    body = "\n\n".join(render_one(t, notes) for t in once(tables))
    new = list(notes.texts.items())[start:]
    return body + {"markdown": markdown_notes, "latex": lambda _: "", "html": html_notes}[fmt](new)


# --- markdown --------------------------------------------------------------------------


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


# --- CSV -------------------------------------------------------------------------------

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


def to_csv(tables: list[Table]) -> str:
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


# --- LaTeX -----------------------------------------------------------------------------

_LATEX = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "±": r"$\pm$",
    "·": r"/",
    "×": r"$\times$",
    "∈": r"$\in$",
    "…": r"\ldots{}",
    "–": "--",
    "—": "---",
    "→": r"$\to$",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "≥": r"$\geq$",
    "≤": r"$\leq$",
}


def tex(text: str) -> str:
    return "".join(_LATEX.get(ch, ch) for ch in text.replace("->", "→"))


#: the method column wraps at this width instead of pushing the numbers off the page
LABEL_WIDTH = r"4.5cm"


def latex_table(table: Table, notes: Notes) -> str:
    spec = r">{\raggedright\arraybackslash}p{" + LABEL_WIDTH + "}" + "r" * len(table.columns) + "l"
    header = " & ".join(tex(h) for h in [table.first_header, *table.columns, "Source"])
    lines = [
        r"\begin{table}[ht]",
        r"\centering",
        r"\caption{" + tex(table.title) + "}",
        r"\label{tab:" + tex(table.key) + "}",
        r"\scriptsize",
        r"\begin{tabular}{" + spec + "}",
        r"\toprule",
        header + r" \\",
        r"\midrule",
    ]
    for row in table.rows:
        marks = "".join(f"$^{{{n}}}$" for n in notes.refs(row))
        method = tex(row.method) + marks
        if row.published:
            method = r"\textit{" + method + "}"
        cells = []
        for col in table.columns:
            cell = row.cells.get(col)
            text = tex(cell.text) if cell else ""
            cells.append(r"\textbf{" + text + "}" if cell and cell.bold and text else text)
        source = tex(row.source_text)
        lines.append(" & ".join([method, *cells, source]) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    if table.caption:
        lines.append(
            r"\par\smallskip\parbox{\linewidth}{\footnotesize " + tex(" ".join(table.caption)) + "}"
        )
    own = {n: t for t, n in notes.texts.items() if any(t in r.notes for r in table.rows)}
    if own:  # this table's notes inside its float, so it can be moved on its own
        items = [r"$^{" + str(n) + "}$ " + tex(own[n]) for n in sorted(own)]
        lines.append(r"\par\parbox{\linewidth}{\footnotesize " + r"\\ ".join(items) + "}")
    lines.append(r"\end{table}")
    return "\n".join(lines)


# --- HTML ------------------------------------------------------------------------------


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
