"""Fetch a dataset's official archives (listed in its card), verify, and extract them safely.

``benchbase datasets download NAME --data-root DIR`` runs :func:`download_dataset`:

1. each ``[[archives]]`` entry of the card is fetched into ``<root>/<extract_to>/<filename>``
   through a ``.part`` file; an interrupted download resumes with an HTTP ``Range`` request
   (a server that ignores it restarts the file from zero);
2. the checksum in the card (``md5``, ``sha1`` or ``sha256``) is verified *before* anything
   is extracted; a mismatch deletes the file and stops; the body is capped by the card's
   ``size_bytes`` and the free disk space (an endless body is cut off, not resumed);
3. archives are extracted into ``<root>/<extract_to>`` by :mod:`benchbase.data.archives`
   (every member checked against the tree the archive builds, sizes capped, nothing of
   the data root replaced); nested archives named in ``then_extract`` follow; a marker
   file records a finished extraction;
4. entries without a ``url`` (hosts that need a login or a click-through) are reported with
   exactly what to fetch and where to put it.
"""

from __future__ import annotations

import errno
import hashlib
import http.client
import os
import shutil
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchbase.data.archives import (
    DownloadError,
    UnsafeArchiveError,
    safe_extract,
    tar_problems,
    unsafe_name,
    zip_problems,
)

CHUNK = 1 << 20
#: Disk space a download leaves free.
RESERVE = 64 << 20
HASHES = ("sha256", "sha1", "md5")
__all__ = [
    "DownloadError",
    "UnsafeArchiveError",
    "download_dataset",
    "fetch",
    "safe_extract",
    "tar_problems",
    "zip_problems",
]


@dataclass
class Archive:
    """One ``[[archives]]`` entry of a dataset card."""

    filename: str
    url: str | None = None
    mirrors: list[str] = field(default_factory=list)
    checksums: dict[str, str] = field(default_factory=dict)
    size_bytes: int | None = None
    extract: bool = True
    extract_to: str = "."
    then_extract: list[str] = field(default_factory=list)
    manual: str = ""

    @classmethod
    def from_card(cls, entry: Mapping[str, Any]) -> Archive:
        name = entry.get("filename")
        if not name or "/" in name or "\\" in name or name in (".", ".."):
            raise DownloadError(f"card archive entry needs a plain 'filename', got {name!r}")
        return cls(
            filename=name,
            url=entry.get("url"),
            mirrors=list(entry.get("mirrors", [])),
            checksums={h: str(entry[h]).lower() for h in HASHES if entry.get(h)},
            size_bytes=entry.get("size_bytes"),
            extract=bool(entry.get("extract", True)),
            extract_to=str(entry.get("extract_to", ".")),
            then_extract=list(entry.get("then_extract", [])),
            manual=str(entry.get("manual", "")),
        )

    def urls(self, mirror: str | None) -> list[str]:
        if mirror:
            return [f"{mirror.rstrip('/')}/{self.filename}"]
        return [u for u in (self.url, *self.mirrors) if u]


# --- fetching -------------------------------------------------------------------------


class TooLargeError(DownloadError):
    """A body longer than the card's size or the free disk space: not resumable."""


def card_limit(size_bytes: Any) -> int | None:
    """The most bytes a download of a card entry may have: its ``size_bytes`` plus 1%
    (the cards call it informational) and 1 MiB."""
    if isinstance(size_bytes, bool) or not isinstance(size_bytes, int) or size_bytes <= 0:
        return None
    return size_bytes + max(size_bytes // 100, 1 << 20)


def _body_limit(
    url: str, dest: Path, start: int, announced: int | None, cap: int | None
) -> tuple[int, str]:
    """How many more bytes may be written to ``dest``'s ``.part``, and which limit that is;
    refuses an announced length that is already over the card's size or the free space."""
    free = shutil.disk_usage(dest.parent).free - RESERVE
    if cap is not None and announced is not None and start + announced > cap:
        raise TooLargeError(
            f"{url} announces {start + announced:,} bytes but the card says about "
            f"{cap:,} at most: not the file the card describes. Nothing was downloaded; check "
            "the URL (or the card's size_bytes)."
        )
    if announced is not None and announced > free:
        raise TooLargeError(
            f"{url} is {announced:,} bytes but only {max(free, 0):,} are free under "
            f"{dest.parent} (keeping {RESERVE >> 20} MiB spare). Free some space or pass a "
            "--data-root on a larger disk."
        )
    if cap is not None and cap - start <= free:
        return cap - start, f"more than the card's size ({cap:,} bytes at most)"
    return free, f"more than the free space under {dest.parent}"


def fetch(
    url: str,
    dest: Path,
    progress: bool = True,
    timeout: float = 60.0,
    max_bytes: int | None = None,
) -> Path:
    """Download ``url`` to ``dest`` through ``dest.part``, resuming a partial ``.part``.

    The body is capped by ``max_bytes`` (from the card) and by the free disk space: a
    server sending more (an endless body) is cut off and its partial file removed."""
    from tqdm.auto import tqdm

    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    start = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": "benchbase-download"}
    if start:
        headers["Range"] = f"bytes={start}-"
    request = urllib.request.Request(url, headers=headers)
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and start:
            # The .part already holds the whole file; the checksum decides.
            os.replace(part, dest)
            return dest
        raise DownloadError(f"cannot fetch {url}: HTTP {exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        raise DownloadError(f"cannot fetch {url}: {exc}") from exc
    with response:
        resuming = start > 0 and response.status == 206
        if start and not resuming:
            start = 0  # the server ignored Range: start again from zero
        content_range = response.headers.get("Content-Range", "")
        if resuming and not content_range.startswith(f"bytes {start}-"):
            part.unlink()
            raise DownloadError(
                f"{url} answered the resume request with range {content_range!r} instead of "
                f"bytes {start}-; the partial file was removed: re-run to download again"
            )
        length = response.headers.get("Content-Length")
        announced = int(length) if length is not None and length.isdigit() else None
        total = announced + start if announced is not None else None
        if not resuming and part.exists():
            part.unlink()  # the free space counts the whole body again
        try:
            left, limit = _body_limit(url, dest, start if resuming else 0, announced, max_bytes)
        except TooLargeError:
            part.unlink(missing_ok=True)
            raise
        with (
            open(part, "ab" if resuming else "wb") as out,
            tqdm(
                total=total,
                initial=start,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                desc=dest.name,
                disable=not progress,
                file=sys.stderr,
            ) as bar,
        ):
            try:
                # read1: whatever arrived, so an interrupted transfer keeps every byte received
                while chunk := response.read1(CHUNK):
                    if len(chunk) > left:
                        raise TooLargeError(_endless(url, out.tell() + len(chunk), limit))
                    left -= len(chunk)
                    out.write(chunk)
                    bar.update(len(chunk))
            except TooLargeError:
                out.close()
                part.unlink(missing_ok=True)
                raise
            except (OSError, http.client.HTTPException) as exc:
                if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
                    raise DownloadError(
                        f"no space left under {dest.parent} after {out.tell():,} bytes of "
                        f"{url} (another program filled the disk meanwhile?). The partial file "
                        f"{part} is kept: free some space, then re-run to resume."
                    ) from None
                raise DownloadError(
                    f"download of {url} interrupted after {out.tell()} bytes ({exc}); re-run "
                    f"to resume from {part}"
                ) from exc
    if total is not None and part.stat().st_size != total:
        raise DownloadError(
            f"download of {url} stopped at {part.stat().st_size} of {total} bytes; re-run to "
            f"resume from {part}"
        )
    os.replace(part, dest)
    return dest


def _endless(url: str, got: int, why: str) -> str:
    return (
        f"{url} sent {got:,} bytes, {why}: stopped. The partial file was removed (re-running "
        "would fetch the same body again); check the URL, or the card's size_bytes, or free "
        "some space."
    )


def file_hashes(path: Path, names: Sequence[str]) -> dict[str, str]:
    digests = {n: hashlib.new(n) for n in names}
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            for d in digests.values():
                d.update(chunk)
    return {n: d.hexdigest() for n, d in digests.items()}


def verify(path: Path, archive: Archive) -> str:
    """Raise (and delete ``path``) when a checksum in the card does not match; return a
    one-line account of what was verified."""
    if not archive.checksums:
        digest = file_hashes(path, ["sha256"])["sha256"]
        return f"{path.name}: no checksum in the card to verify (sha256 {digest})"
    got = file_hashes(path, list(archive.checksums))
    for algo, want in archive.checksums.items():
        if got[algo] != want:
            bad = path.with_name(path.name + ".corrupt")
            os.replace(path, bad)
            raise DownloadError(
                f"{path}: {algo} checksum mismatch (expected {want}, got {got[algo]}); the "
                f"file was moved to {bad} and nothing was extracted. Re-run to download it "
                "again (a mirror may serve a different file: try another with --mirror)."
            )
    return f"{path.name}: {', '.join(archive.checksums)} verified"


# --- the command ----------------------------------------------------------------------


def _inside(root: Path, rel: str, what: str) -> Path:
    if unsafe_name(rel):
        raise DownloadError(f"card field {what} = {rel!r} must be a relative path inside the root")
    return root / rel


def download_dataset(
    name: str,
    root: Path,
    card: Mapping[str, Any],
    mirror: str | None = None,
    keep_archives: bool = False,
    progress: bool = True,
    log: Any = None,
) -> list[str]:
    """Fetch, verify and extract every archive of ``name``'s card under ``root``.

    Returns the instructions for archives that must be fetched by hand (empty when all
    were fetched). ``card`` is the dataset's card (``Dataset.read_card()``, or a file the
    user passed); ``mirror`` is a base URL tried instead of the card's URLs
    (``<mirror>/<filename>``).
    """
    if not card:
        raise DownloadError(
            f"dataset {name!r} carries no card (benchbase.Dataset(card=...)), so nothing to "
            "download; pass one with --card FILE.toml"
        )
    say = log or (lambda msg: print(msg, file=sys.stderr))
    root = Path(root)
    if root.exists() and not root.is_dir():
        raise DownloadError(f"data root {root} is a file, not a folder")
    entries = card.get("archives") or []
    if not entries:
        raise DownloadError(f"the card of {name!r} lists no archives to download")
    manual: list[str] = []
    for entry in entries:
        arc = Archive.from_card(entry)
        where = _inside(root, arc.extract_to, "extract_to")
        path = where / arc.filename
        marker = where / f".{arc.filename}.extracted"
        if arc.extract and marker.is_file():
            say(f"{arc.filename}: already extracted in {where} (delete {marker} to redo)")
            continue
        if not arc.extract and path.is_file() and not arc.checksums:
            say(f"{arc.filename}: already at {path}")
            continue
        if path.is_file():
            say(verify(path, arc) + " (already downloaded)")
        else:
            urls = arc.urls(mirror)
            if not urls:
                homepage = card.get("homepage", "the dataset's homepage")
                manual.append(
                    f"fetch {arc.filename} from {homepage}"
                    + (f" ({arc.manual})" if arc.manual else "")
                    + f" and put it at {path}"
                )
                continue
            errors = []
            for url in urls:
                say(f"{arc.filename}: fetching {url}")
                try:
                    fetch(url, path, progress=progress, max_bytes=card_limit(arc.size_bytes))
                    break
                except DownloadError as exc:
                    errors.append(str(exc))
            else:
                raise DownloadError(
                    "; ".join(errors)
                    + f". Fetch {arc.filename} by hand and put it at {path}, then re-run."
                )
            say(verify(path, arc))
        if not arc.extract:
            continue
        say(f"{arc.filename}: extracting into {where}")
        safe_extract(path, where)
        for inner in arc.then_extract:
            inner_path = _inside(where, inner, "then_extract")
            if not inner_path.is_file():
                raise DownloadError(
                    f"{arc.filename} did not contain {inner} (expected at {inner_path})"
                )
            say(f"{inner}: extracting into {where}")
            safe_extract(inner_path, where)
            if not keep_archives:
                inner_path.unlink()
        marker.write_text(f"{arc.filename}\n")
        if not keep_archives:
            path.unlink()
    return manual
