"""No merge left half-done: no file of the project's text holds a conflict marker (one
stood in docs/plugins.md for a session, two versions of a section one after the other)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MARKER = re.compile(r"^(<{7}|={7}|>{7})( |$)", re.MULTILINE)
FOLDERS = ("benchbase", "plugins", "docs", "tests", "benchmarks", "leaderboard", "examples")
SUFFIXES = {".py", ".md", ".toml", ".txt", ".sh", ".cfg", ".yaml", ".yml"}


def project_text_files() -> list[Path]:
    files = [p for p in ROOT.glob("*") if p.is_file() and p.suffix in SUFFIXES]
    for folder in FOLDERS:
        files += [
            p for p in (ROOT / folder).rglob("*")
            if p.is_file() and p.suffix in SUFFIXES and ".venv" not in p.parts
        ]  # fmt: skip
    return files


def test_no_file_holds_a_merge_conflict_marker():
    files = project_text_files()
    assert len(files) > 100  # the walk found the project
    found = [
        f"{p.relative_to(ROOT)}:{text.count(chr(10), 0, m.start()) + 1}"
        for p in files
        for text in [p.read_text(encoding="utf-8", errors="replace")]
        for m in MARKER.finditer(text)
    ]
    assert not found, f"merge conflict markers left in: {found}"
