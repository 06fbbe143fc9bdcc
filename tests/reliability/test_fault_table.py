"""docs/RELIABILITY.md: at least 25 faults, each backed by a test that exists."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TABLE = REPO / "docs" / "RELIABILITY.md"
TEST_REF = re.compile(r"`(tests/[\w/]+\.py)::(\w+)")


def _rows() -> list[str]:
    return [line for line in TABLE.read_text().splitlines() if re.match(r"\| \d+ \|", line)]


def test_the_table_lists_at_least_25_faults_each_with_a_test():
    rows = _rows()
    assert len(rows) >= 25
    numbers = [int(row.split("|")[1]) for row in rows]
    assert numbers == list(range(1, len(rows) + 1))
    for row in rows:
        assert TEST_REF.search(row.split("|")[-2]) or "same test" in row, row


def test_every_named_test_exists():
    refs = {m.groups() for m in TEST_REF.finditer(TABLE.read_text())}
    assert len(refs) >= 25
    missing = []
    for path, name in sorted(refs):
        source = REPO / path
        if not source.is_file() or not re.search(rf"def {name}\(", source.read_text()):
            missing.append(f"{path}::{name}")
    assert missing == []
