"""Fetch a dataset's official archives (listed in its card), verify, and extract them safely.

``benchbase datasets download NAME --data-root DIR`` runs :func:`download_dataset`:

1. each ``[[archives]]`` entry of the card is fetched into ``<root>/<extract_to>/<filename>``
   through a ``.part`` file; an interrupted download resumes with an HTTP ``Range`` request
   (a server that ignores it restarts the file from zero);
2. the checksum in the card (``md5``, ``sha1`` or ``sha256``) is verified *before* anything
   is extracted; a mismatch deletes the file and stops;
3. archives are extracted into ``<root>/<extract_to>`` via a staging folder, after every
   member has been checked: absolute paths, ``..`` components, links pointing outside the
   target and device files refuse the whole archive before a single file is written (tar
   extraction also runs under tarfile's ``data`` filter); nested archives named in
   ``then_extract`` follow; a marker file records a finished extraction;
4. entries without a ``url`` (hosts that need a login or a click-through) are reported with
   exactly what to fetch and where to put it.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import stat
import sys
import tarfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from benchbase.errors import BenchbaseError

CHUNK = 1 << 20
HASHES = ("sha256", "sha1", "md5")
#: How many unsafe members an error message lists.
SHOWN = 20


class DownloadError(BenchbaseError):
    """A download, checksum or extraction that failed; nothing half-done is left in place."""


class UnsafeArchiveError(DownloadError):
    """An archive with members that would write outside the target folder."""


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


def fetch(url: str, dest: Path, progress: bool = True, timeout: float = 60.0) -> Path:
    """Download ``url`` to ``dest`` through ``dest.part``, resuming a partial ``.part``."""
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
        total = int(length) + start if length is not None else None
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
                    out.write(chunk)
                    bar.update(len(chunk))
            except (OSError, http.client.HTTPException) as exc:
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


# --- safe extraction ------------------------------------------------------------------


def _unsafe_name(name: str) -> str | None:
    posix = name.replace("\\", "/")
    if posix.startswith("/") or (len(posix) > 1 and posix[1] == ":"):
        return "absolute path"
    if ".." in PurePosixPath(posix).parts:
        return "'..' path component"
    return None


def _escapes(base: str, target: str) -> bool:
    """Whether ``target`` (relative to the archive folder ``base``) leaves the archive root."""
    if target.startswith("/") or (len(target) > 1 and target[1] == ":"):
        return True
    depth = 0
    for part in PurePosixPath(base, target).parts:
        if part == "..":
            depth -= 1
            if depth < 0:
                return True
        elif part != ".":
            depth += 1
    return False


def tar_problems(tf: tarfile.TarFile) -> list[str]:
    problems = []
    for m in tf.getmembers():
        why = _unsafe_name(m.name)
        if why is None and m.issym() and _escapes(str(PurePosixPath(m.name).parent), m.linkname):
            why = f"symbolic link to {m.linkname!r} outside the target"
        if why is None and m.islnk() and _escapes("", m.linkname):
            why = f"hard link to {m.linkname!r} outside the target"
        if why is None and (m.ischr() or m.isblk() or m.isfifo()):
            why = "device or FIFO"
        if why:
            problems.append(f"{m.name!r}: {why}")
    return problems


def zip_problems(zf: zipfile.ZipFile) -> list[str]:
    problems = []
    for info in zf.infolist():
        why = _unsafe_name(info.filename)
        mode = info.external_attr >> 16
        if why is None and stat.S_ISLNK(mode):
            why = "symbolic link"
        if why is None and (stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISFIFO(mode)):
            why = "device or FIFO"
        if why:
            problems.append(f"{info.filename!r}: {why}")
    return problems


def _refuse(archive: Path, problems: list[str]) -> None:
    if problems:
        listed = "\n  ".join(problems[:SHOWN])
        more = f"\n  … and {len(problems) - SHOWN} more" if len(problems) > SHOWN else ""
        raise UnsafeArchiveError(
            f"refusing to extract {archive}: {len(problems)} member(s) would write outside "
            f"the target folder or are not plain files/folders:\n  {listed}{more}\n"
            "Nothing was extracted. The archive is damaged or hostile: fetch it again from "
            "the official source."
        )


def _merge(src: Path, dst: Path) -> None:
    """Move the tree ``src`` into ``dst`` (existing folders merged, files replaced)."""
    dst.mkdir(parents=True, exist_ok=True)
    for entry in src.iterdir():
        target = dst / entry.name
        if entry.is_dir() and not entry.is_symlink() and target.is_dir():
            _merge(entry, target)
        else:
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            os.replace(entry, target)


def safe_extract(archive: Path, target: Path) -> None:
    """Extract a tar (any compression) or zip ``archive`` into ``target``, refusing it
    whole when any member is unsafe. Files appear in ``target`` only once every member
    has been extracted (into a staging folder inside ``target``)."""
    archive, target = Path(archive), Path(target)
    target.mkdir(parents=True, exist_ok=True)
    staging = target / f".extracting-{archive.name}"
    if staging.exists():
        shutil.rmtree(staging)
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                _refuse(archive, zip_problems(zf))
                staging.mkdir()
                zf.extractall(staging)
        elif tarfile.is_tarfile(archive):
            with tarfile.open(archive, "r:*") as tf:
                _refuse(archive, tar_problems(tf))
                staging.mkdir()
                tf.extractall(staging, filter="data")
        else:
            raise DownloadError(f"{archive} is neither a tar nor a zip archive")
        _merge(staging, target)
    except (tarfile.TarError, zipfile.BadZipFile, EOFError) as exc:
        raise DownloadError(f"cannot extract {archive}: {type(exc).__name__}: {exc}") from exc
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


# --- the command ----------------------------------------------------------------------


def _inside(root: Path, rel: str, what: str) -> Path:
    if _unsafe_name(rel):
        raise DownloadError(f"card field {what} = {rel!r} must be a relative path inside the root")
    return root / rel


def download_dataset(
    name: str,
    root: Path,
    card: Mapping[str, Any] | None = None,
    mirror: str | None = None,
    keep_archives: bool = False,
    progress: bool = True,
    log: Any = None,
) -> list[str]:
    """Fetch, verify and extract every archive of ``name``'s card under ``root``.

    Returns the instructions for archives that must be fetched by hand (empty when all
    were fetched). ``card`` replaces the shipped card; ``mirror`` is a base URL tried
    instead of the card's URLs (``<mirror>/<filename>``).
    """
    if card is None:
        from benchbase_cards import load_card

        try:
            card = load_card(name)
        except KeyError as exc:
            raise DownloadError(f"no dataset card for {name!r}, so nothing to download") from exc
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
                    fetch(url, path, progress=progress)
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
