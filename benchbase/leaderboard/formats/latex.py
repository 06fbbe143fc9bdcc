"""LaTeX: one booktabs ``table`` float per table, each with its own notes inside it."""

from __future__ import annotations

from benchbase.leaderboard.formats.notes import Notes, page
from benchbase.leaderboard.model import Table

PREAMBLE = "% needs \\usepackage{booktabs,array}; numbers in percent\n"


def render(tables: list[Table], notes: Notes) -> str:
    return PREAMBLE + page(tables, notes, latex_table, lambda new: "")


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
