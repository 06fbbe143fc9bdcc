"""The self-contained HTML report: tables, figures (base64 PNG) and provenance in one file."""

from __future__ import annotations

import base64
import html

from benchbase.leaderboard import formats, plots
from benchbase.leaderboard import provenance as prov_mod
from benchbase.leaderboard.model import Table
from benchbase.leaderboard.tables import Context

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; background: #fff; }
table.lb { border-collapse: collapse; margin: 1.5em 0; font-size: 13px; }
table.lb caption { text-align: left; padding-bottom: .4em; max-width: 70em; }
table.lb th, table.lb td { border: 1px solid #ccc; padding: 3px 7px; text-align: right; }
table.lb td.method, table.lb td.source, table.lb th:first-child { text-align: left; }
table.lb tr.published { color: #555; font-style: italic; background: #f6f6f6; }
table.lb tr.ours td.method { cursor: help; }
table.lb th { background: #e8eef7; }
ol.notes { font-size: 12px; color: #444; }
img.plot { max-width: 100%; border: 1px solid #ddd; margin: 1em 0; }
"""


def page(title: str, ctx: Context, tables: list[Table]) -> str:
    body = formats.render(tables, "html") if tables else "<p>No table.</p>"
    figures = []
    for name, fig in (
        ("Per-layer curves", plots.layers_figure(ctx.methods, ctx.layer_key)),
        ("Transferability", plots.transfer_figure(ctx.methods)),
    ):
        if fig is not None:
            data = base64.b64encode(plots.png_bytes(fig)).decode()
            figures.append(
                f'<h2>{html.escape(name)}</h2>\n<img class="plot" alt="{html.escape(name)}" '
                f'src="data:image/png;base64,{data}">'
            )
    prov = prov_mod.gather(ctx.methods)
    prov_items = [
        f"<li>{len(prov.cells)} result cells, finished {html.escape(prov.first)} – "
        f"{html.escape(prov.last)} UTC</li>",
        "<li>versions: "
        + html.escape(", ".join(f"{k} {'/'.join(v)}" for k, v in prov.versions.items()))
        + "</li>",
        "<li>hardware: " + html.escape("; ".join(prov.hardware)) + "</li>",
        "<li>fingerprints: " + html.escape(", ".join(sorted(prov.cells))) + "</li>",
    ]
    if not prov.cells:
        prov_items = ["<li>No results of ours: published rows only.</li>"]
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f"<title>{html.escape(title)}</title>",
            f"<style>{STYLE}</style></head><body>",
            f"<h1>{html.escape(title)}</h1>",
            "<p>Numbers in %. Published rows (grey, italic) are quoted from the papers with "
            "their source and caveats; hover over one of our rows for its hyper-parameters.</p>",
            body,
            *figures,
            "<h2>Provenance</h2>",
            "<ul>",
            *prov_items,
            "</ul>",
            "</body></html>",
            "",
        ]
    )
