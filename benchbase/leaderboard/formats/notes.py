"""What every text format shares: footnote numbers for a page, caption lines printed once."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from benchbase.leaderboard.model import Row, Table


class Notes:
    """Footnote numbers for a page: the same text gets the same number."""

    def __init__(self) -> None:
        self.texts: dict[str, int] = {}

    def refs(self, row: Row) -> list[int]:
        return [self.texts.setdefault(t, len(self.texts) + 1) for t in row.notes]


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


def page(
    tables: list[Table],
    notes: Notes,
    one: Callable[[Table, Notes], str],
    footer: Callable[[list[tuple[str, int]]], str],
) -> str:
    """``one(table, notes)`` for each table (caption lines once), then ``footer(new notes)``:
    the (text, number) notes these tables added to the page."""
    start = len(notes.texts)
    body = "\n\n".join(one(t, notes) for t in once(tables))
    return body + footer(list(notes.texts.items())[start:])
