"""Reading a user's TOML file (a suite, a dataset card): every way it can be unreadable
becomes one :class:`BenchbaseError` naming the file and the fix, never a traceback."""

from __future__ import annotations

import codecs
import tomllib
from pathlib import Path
from typing import Any

from benchbase.errors import BenchbaseError

#: UTF-32 first: its little-endian BOM starts with UTF-16's.
_BOMS = {
    codecs.BOM_UTF32_LE: "UTF-32",
    codecs.BOM_UTF32_BE: "UTF-32",
    codecs.BOM_UTF16_LE: "UTF-16",
    codecs.BOM_UTF16_BE: "UTF-16",
}


def read_toml(path: Path, what: str = "suite file") -> dict[str, Any]:
    """The table in ``path``; ``what`` names the file's role in messages."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise BenchbaseError(f"{what} {path} does not exist") from None
    except IsADirectoryError:
        raise BenchbaseError(
            f"{what} {path} is a folder, not a file: pass the .toml file itself"
        ) from None
    except OSError as exc:
        raise BenchbaseError(
            f"cannot read {what} {path}: {exc.strerror or exc}; check the path and its permissions"
        ) from None
    text = _decode(raw, path, what)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise BenchbaseError(f"{what} {path} is not valid TOML: {exc}") from None
    except RecursionError:
        raise BenchbaseError(
            f"{what} {path} nests arrays or tables too deeply to read; no benchbase file "
            "needs more than a few levels: flatten it"
        ) from None


def _decode(raw: bytes, path: Path, what: str) -> str:
    for bom, name in _BOMS.items():
        if raw.startswith(bom):
            raise BenchbaseError(
                f"{what} {path} is {name}-encoded; TOML files are UTF-8: re-save it as UTF-8 "
                f"(e.g. iconv -f {name} -t UTF-8 {path.name} > fixed.toml)"
            )
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise BenchbaseError(
            f"{what} {path} is not UTF-8 (byte 0x{raw[exc.start]:02x} on line {line}); TOML "
            "files are UTF-8: re-save it as UTF-8 (e.g. iconv -f latin1 -t UTF-8 "
            f"{path.name} > fixed.toml)"
        ) from None
