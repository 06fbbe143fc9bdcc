"""What the dataset plugins say when ``--data-root`` holds no layout.

A data root one level too deep (the ``VOC2007``, ``Images`` or ``101_ObjectCategories``
folder itself, a class folder) or too shallow (the folder above the data root) is the most
common mistake after an incomplete extraction. "Download it into <that folder>" is the
wrong fix there: :func:`nearby_root` looks a few levels up and down for a folder where the
plugin finds its layout, and the error message names it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

#: How far up (ancestors) and down (sub-folders) to look, and how many folders to try.
LEVELS_UP = 3
LEVELS_DOWN = 2
MAX_FOLDERS = 400


def _subfolders(folder: Path) -> list[Path]:
    try:
        return sorted(
            p for p in folder.iterdir() if p.is_dir() and not p.name.startswith((".", "__"))
        )
    except OSError:
        return []


def _candidates(root: Path) -> Iterable[Path]:
    absolute = Path(root).absolute()
    yield from list(absolute.parents)[:LEVELS_UP]
    level, tried = [absolute], 0
    for _ in range(LEVELS_DOWN):
        below = []
        for folder in level:
            for sub in _subfolders(folder):
                tried += 1
                if tried > MAX_FOLDERS:
                    return
                yield sub
                below.append(sub)
        level = below


def nearby_root(root: Path, found: Callable[[Path], bool]) -> Path | None:
    """The closest folder above or below ``root`` for which ``found`` is true (ancestors
    first, then sub-folders breadth first), or None. ``found`` must only test paths."""
    for candidate in _candidates(root):
        try:
            if found(candidate):
                return candidate
        except OSError:
            continue
    return None


def layout_fix(name: str, root: Path, found: Callable[[Path], bool], default_fix: str) -> str:
    """The "Fix: ..." sentence of a no-layout error: pass the nearby folder that holds the
    layout as ``--data-root`` when there is one (``--data-root`` off by a level), else
    ``default_fix``; prefixed by a note when ``root`` does not exist."""
    root = Path(root)
    note = f"The data root {root} does not exist. " if not root.exists() else ""
    near = nearby_root(root, found)
    if near is None:
        return note + default_fix
    where = "above" if near in root.absolute().parents else "inside"
    return (
        f"{note}Fix: the {name} layout is in {near} ({where} the data root): "
        f"pass --data-root {near}"
    )
