"""Safe extraction of tar and zip archives.

Every member is checked before a single file is written, against a *virtual tree*: the
folders, files and symbolic links the archive has built up to that member, so each path and
link target is resolved the way the filesystem will resolve it (through the archive's own
links, ``..`` after a link included). Lexical checks alone miss a chain of links whose
targets each look inside (the CVE-2025-4517 pattern); tarfile's ``data`` filter is kept as a
second line, never relied on. The extracted size (the members' declared sizes, which is all
tarfile and zipfile write) is capped by the free disk space and by a ratio to the archive's
own size. Extraction goes through a staging folder; a member that would replace a folder of
the data root with a file (or the reverse) is refused by name, nothing is deleted.
"""

from __future__ import annotations

import os
import shutil
import stat
import tarfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from benchbase.errors import BenchbaseError, listing

#: How many unsafe members an error message lists.
SHOWN = 20
#: Symbolic links followed while resolving one path (Linux's own limit is 40).
MAX_HOPS = 40
#: Members one archive may hold (SUN397, the largest official archive, has ~110,000).
MAX_MEMBERS = 5_000_000
#: Declared extracted size allowed per byte of archive: JPEG datasets are ~1x, text ~10x.
MAX_RATIO = 200
#: Disk space left free after an extraction.
RESERVE = 64 << 20


class DownloadError(BenchbaseError):
    """A download, checksum or extraction that failed; nothing half-done is left in place."""


class UnsafeArchiveError(DownloadError):
    """An archive with members that would write outside the target folder."""


class _Refused(Exception):
    """One member's reason to refuse the archive."""


def unsafe_name(name: str) -> str | None:
    """Why a member or card path is not a plain relative path, or None."""
    posix = name.replace("\\", "/")
    if posix.startswith("/") or (len(posix) > 1 and posix[1] == ":"):
        return "absolute path"
    if ".." in PurePosixPath(posix).parts:
        return "'..' path component"
    return None


def _parts(path: str) -> list[str]:
    return [p for p in path.replace("\\", "/").split("/") if p not in ("", ".")]


@dataclass
class VirtualTree:
    """What extraction has created so far: path (tuple of names) → ``"dir"``, ``"file"``
    or ``("link", target)``. Paths never created are taken as folders, as tarfile creates
    missing parents."""

    entries: dict[tuple[str, ...], object] = field(default_factory=dict)

    def resolve(
        self, path: str, base: tuple[str, ...] = (), follow_last: bool = True
    ) -> tuple[str, ...]:
        """``path`` (relative to folder ``base``) resolved through the tree's links; raises
        :class:`_Refused` when it leaves the root, loops or goes through a file."""
        if path.replace("\\", "/").startswith("/") or (len(path) > 1 and path[1] == ":"):
            raise _Refused(f"absolute target {path!r}")
        pending = list(reversed(_parts(path)))
        current = list(base)
        hops = 0
        while pending:
            part = pending.pop()
            if part == "..":
                if not current:
                    raise _Refused("resolves outside the target")
                current.pop()
                continue
            entry = self.entries.get((*current, part))
            if isinstance(entry, tuple) and (pending or follow_last):
                hops += 1
                if hops > MAX_HOPS:
                    raise _Refused("too many levels of symbolic links")
                target = entry[1]
                if target.replace("\\", "/").startswith("/"):
                    raise _Refused(f"goes through a link to the absolute path {target!r}")
                pending.extend(reversed(_parts(target)))
                continue
            if entry == "file" and pending:
                raise _Refused(f"goes through the file {'/'.join((*current, part))!r}")
            current.append(part)
        return tuple(current)

    def add(self, name: str, kind: str, link: str | None = None) -> str | None:
        """Record one member; the reason to refuse it, or None."""
        parts = _parts(name)
        if not parts:
            return None if kind == "dir" else "empty member name"
        try:
            parent = self.resolve("/".join(parts[:-1]))
            if self.entries.get(parent) == "file":
                return f"goes through the file {'/'.join(parent)!r}"
            where = (*parent, parts[-1])
            existing = self.entries.get(where)
            if isinstance(existing, tuple):
                return f"replaces the link {'/'.join(where)!r} (would write through it)"
            if existing == "dir" and kind != "dir":
                return f"a file where the archive has the folder {'/'.join(where)!r}"
            if existing == "file" and kind == "dir":
                return f"a folder where the archive has the file {'/'.join(where)!r}"
            if kind == "symlink":
                self.resolve(link or "", base=parent)
            elif kind == "hardlink" and self.entries.get(self.resolve(link or "")) != "file":
                return f"hard link to {link!r}, not a file extracted before it"
        except _Refused as why:
            if kind == "symlink":
                return f"symbolic link to {link!r} {why}" if "outside" in str(why) else str(why)
            return str(why)
        for i in range(1, len(parent) + 1):
            self.entries.setdefault(parent[:i], "dir")
        self.entries[where] = (
            ("link", link) if kind == "symlink" else ("dir" if kind == "dir" else "file")
        )
        return None

    def escaping_links(self) -> list[str]:
        """Links of the finished tree that resolve outside it (readers would follow them)."""
        bad = []
        for path, entry in self.entries.items():
            if isinstance(entry, tuple):
                try:
                    self.resolve(entry[1], base=path[:-1])
                except _Refused as why:
                    bad.append(f"{'/'.join(path)!r}: symbolic link to {entry[1]!r} {why}")
        return bad


def _check(members: list[tuple[str, str, str | None]]) -> list[str]:
    """Problems of (name, kind, link target) members, in archive order."""
    tree, problems = VirtualTree(), []
    for name, kind, link in members:
        why = unsafe_name(name)
        if why is None and kind == "special":
            why = "device or FIFO"
        if why is None:
            why = tree.add(name, kind, link)
        if why:
            problems.append(f"{name!r}: {why}")
    return problems or tree.escaping_links()


def tar_members(tf: tarfile.TarFile) -> tuple[list[tuple[str, str, str | None]], int]:
    """(name, kind, link) of every member, and the bytes extraction writes."""
    members, size = [], 0
    for m in tf:
        if len(members) >= MAX_MEMBERS:
            raise UnsafeArchiveError(f"more than {MAX_MEMBERS} members: refused")
        if m.issym():
            members.append((m.name, "symlink", m.linkname))
        elif m.islnk():
            members.append((m.name, "hardlink", m.linkname))
        elif m.isdir():
            members.append((m.name, "dir", None))
        elif m.isreg():
            members.append((m.name, "file", None))
            size += m.size
        else:
            members.append((m.name, "special", None))
    return members, size


def zip_members(zf: zipfile.ZipFile) -> tuple[list[tuple[str, str, str | None]], int]:
    members, size = [], 0
    for info in zf.infolist():
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            kind = "zip-link"
        elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISFIFO(mode):
            kind = "special"
        else:
            kind = "dir" if info.is_dir() else "file"
            size += info.file_size
        members.append((info.filename, kind, None))
    return members, size


def tar_problems(tf: tarfile.TarFile) -> list[str]:
    return _check(tar_members(tf)[0])


def zip_problems(zf: zipfile.ZipFile) -> list[str]:
    members = zip_members(zf)[0]
    # zipfile writes a link member as a file holding its target: refused, no dataset has one
    links = [f"{n!r}: symbolic link" for n, kind, _ in members if kind == "zip-link"]
    return links or _check(members)


def _listed(items: list[str]) -> str:
    """The first :data:`SHOWN` items, one per indented line, and how many more."""
    return "\n" + listing(items, SHOWN)


def _refuse(archive: Path, problems: list[str]) -> None:
    if problems:
        raise UnsafeArchiveError(
            f"refusing to extract {archive}: {len(problems)} member(s) would write outside "
            f"the target folder or are not plain files/folders:{_listed(problems)}\n"
            "Nothing was extracted. The archive is damaged or hostile: fetch it again from "
            "the official source."
        )


def _mib(n: int) -> str:
    return f"{n / (1 << 20):,.1f} MiB"


def check_size(archive: Path, target: Path, size: int) -> None:
    """Refuse an extraction whose declared size is a bomb or does not fit on the disk."""
    packed = max(archive.stat().st_size, 1)
    if size > MAX_RATIO * packed + (1 << 20):
        raise UnsafeArchiveError(
            f"refusing to extract {archive}: its members declare {_mib(size)} from a "
            f"{_mib(packed)} archive (more than {MAX_RATIO}x: a decompression bomb). Nothing "
            "was extracted; fetch the archive again from the official source."
        )
    free = shutil.disk_usage(target).free
    if size + RESERVE > free:
        raise DownloadError(
            f"cannot extract {archive}: it needs {_mib(size)} and only {_mib(free)} is free "
            f"under {target} (keeping {_mib(RESERVE)} spare). Nothing was extracted; free some "
            "space or pass a --data-root on a larger disk, then re-run."
        )


def merge_conflicts(src: Path, dst: Path) -> list[str]:
    """Paths of ``dst`` that merging ``src`` would have to delete: a folder the archive
    replaces with a file, or a file it replaces with a folder."""
    out = []
    for entry in src.iterdir():
        target = dst / entry.name
        new_dir = entry.is_dir() and not entry.is_symlink()
        if new_dir and target.is_dir():
            out += merge_conflicts(entry, target)
        elif not new_dir and target.is_dir() and not target.is_symlink():
            out.append(f"{target} is a folder; the archive holds a file of that name")
        elif new_dir and (target.exists() or target.is_symlink()):
            out.append(f"{target} is a file; the archive holds a folder of that name")
    return out


def _merge(src: Path, dst: Path) -> None:
    """Move the tree ``src`` into ``dst`` (folders merged, files replaced); call only once
    :func:`merge_conflicts` is empty."""
    dst.mkdir(parents=True, exist_ok=True)
    for entry in src.iterdir():
        target = dst / entry.name
        if entry.is_dir() and not entry.is_symlink() and target.is_dir():
            _merge(entry, target)
        else:
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
                check_size(archive, target, zip_members(zf)[1])
                staging.mkdir()
                zf.extractall(staging)
        elif tarfile.is_tarfile(archive):
            with tarfile.open(archive, "r:*") as tf:
                members, size = tar_members(tf)
                _refuse(archive, _check(members))
                check_size(archive, target, size)
                staging.mkdir()
                tf.extractall(staging, filter="data")
        else:
            raise DownloadError(f"{archive} is neither a tar nor a zip archive")
        conflicts = merge_conflicts(staging, target)
        if conflicts:
            raise DownloadError(
                f"cannot extract {archive} into {target}: it would replace what is there:"
                f"{_listed(conflicts)}\nNothing was changed. Move those paths aside (or "
                "delete them if they are not yours), then re-run."
            )
        _merge(staging, target)
    except (tarfile.TarError, zipfile.BadZipFile, EOFError) as exc:
        raise DownloadError(f"cannot extract {archive}: {type(exc).__name__}: {exc}") from exc
    except OSError as exc:
        raise DownloadError(
            f"cannot extract {archive} into {target}: {exc.strerror or exc}"
            + (f" ({exc.filename})" if exc.filename else "")
            + ". Nothing half-extracted was kept; fix the cause and re-run."
        ) from exc
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
