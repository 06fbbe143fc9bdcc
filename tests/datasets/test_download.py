"""Downloads against a local HTTP server on 127.0.0.1: progress-free fetch, resume with
Range, checksum before extraction, nested archives, hostile archives refused whole."""

from __future__ import annotations

import hashlib
import io
import tarfile
import threading
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from benchbase.cli import main
from benchbase.data.download import (
    DownloadError,
    UnsafeArchiveError,
    download_dataset,
    fetch,
    safe_extract,
)
from benchbase.testing import make_fake_dataset


class Server:
    """Serves ``files`` (name → bytes) with HTTP Range support and scripted faults."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.requests: list[tuple[str, str | None]] = []
        self.cut_next: set[str] = set()  # send half of the body, then drop the connection
        self.ignore_range = False
        self.endless: set[str] = set()  # names whose body never ends (no Content-Length)
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                name = self.path.lstrip("/")
                rng = self.headers.get("Range")
                outer.requests.append((name, rng))
                if name in outer.endless:
                    self.send_response(200)
                    self.end_headers()
                    try:
                        while True:
                            self.wfile.write(b"\0" * 65536)
                    except OSError:  # the client hung up
                        return
                if name not in outer.files:
                    self.send_error(404)
                    return
                body = outer.files[name]
                start = 0
                if rng and not outer.ignore_range:
                    start = int(rng.removeprefix("bytes=").split("-")[0])
                    if start >= len(body):
                        self.send_error(416)
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(len(body) - start))
                self.end_headers()
                payload = body[start:]
                if name in outer.cut_next:
                    outer.cut_next.discard(name)
                    payload = payload[: len(payload) // 2]
                    self.close_connection = True
                self.wfile.write(payload)
                self.wfile.flush()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[Server]:
    s = Server()
    yield s
    s.close()


def tar_of(folder: Path, arcname: str, mode: str = "w") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as tf:
        tf.add(folder, arcname=arcname)
    return buf.getvalue()


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


@pytest.fixture(scope="module")
def caltech256_tar(tmp_path_factory: Any) -> bytes:
    """A tiny 256_ObjectCategories.tar made from the fake layout."""
    src = make_fake_dataset("caltech256", tmp_path_factory.mktemp("src"), "extracted")
    return tar_of(src / "256_ObjectCategories", "256_ObjectCategories")


def card_for(server: Server, filename: str, data: bytes, **extra: Any) -> dict[str, Any]:
    entry = {"filename": filename, "url": f"{server.url}/{filename}", "md5": md5(data), **extra}
    return {"name": "test", "homepage": "http://example.invalid", "archives": [entry]}


def test_download_verifies_and_extracts_into_the_placement(
    server: Server, caltech256_tar: bytes, tmp_path: Path, capsys
) -> None:
    server.files["256_ObjectCategories.tar"] = caltech256_tar
    card = card_for(server, "256_ObjectCategories.tar", caltech256_tar, extract_to="caltech256")
    card_file = tmp_path / "card.toml"
    import json

    # a TOML card written through JSON-compatible inline values
    lines = ["[[archives]]"] + [f"{k} = {json.dumps(v)}" for k, v in card["archives"][0].items()]
    card_file.write_text("\n".join(lines) + "\n")
    root = tmp_path / "data"
    args = ["datasets", "download", "caltech256", "--data-root", str(root), "--no-progress"]
    assert main([*args, "--card", str(card_file)]) == 0
    assert (root / "caltech256" / "256_ObjectCategories" / "001.ak47").is_dir()
    assert not (root / "caltech256" / "256_ObjectCategories.tar").exists()  # archive removed
    capsys.readouterr()
    info_args = ["datasets", "info", "caltech256", "--data-root", str(root), "--json"]
    assert main([*info_args, "--option", "train_per_class=3"]) == 0
    assert '"seed2"' in capsys.readouterr().out
    # a second run finds the extraction marker and fetches nothing
    n = len(server.requests)
    assert main([*args, "--card", str(card_file)]) == 0
    assert len(server.requests) == n


def test_interrupted_download_resumes_with_a_range_request(server: Server, tmp_path: Path) -> None:
    data = bytes(range(256)) * 400
    server.files["big.bin"] = data
    server.cut_next.add("big.bin")
    dest = tmp_path / "big.bin"
    with pytest.raises(DownloadError, match="re-run to resume"):
        fetch(f"{server.url}/big.bin", dest, progress=False)
    part = tmp_path / "big.bin.part"
    assert not dest.exists() and 0 < part.stat().st_size < len(data)
    fetch(f"{server.url}/big.bin", dest, progress=False)
    assert dest.read_bytes() == data and not part.exists()
    assert server.requests[-1] == ("big.bin", f"bytes={len(data) // 2}-")


def test_a_server_ignoring_range_restarts_from_zero(server: Server, tmp_path: Path) -> None:
    data = b"0123456789" * 1000
    server.files["f.bin"] = data
    server.ignore_range = True
    (tmp_path / "f.bin.part").write_bytes(b"garbage-prefix")
    fetch(f"{server.url}/f.bin", tmp_path / "f.bin", progress=False)
    assert (tmp_path / "f.bin").read_bytes() == data


def test_checksum_mismatch_extracts_nothing(server: Server, caltech256_tar: bytes, tmp_path: Path):
    server.files["256_ObjectCategories.tar"] = caltech256_tar
    card = card_for(server, "256_ObjectCategories.tar", caltech256_tar)
    card["archives"][0]["md5"] = "0" * 32
    with pytest.raises(DownloadError, match="checksum mismatch") as err:
        download_dataset("caltech256", tmp_path, card=card, progress=False, log=lambda m: None)
    assert "256_ObjectCategories.tar" in str(err.value)
    assert not (tmp_path / "256_ObjectCategories").exists()
    assert (tmp_path / "256_ObjectCategories.tar.corrupt").exists()


def test_nested_archive_like_caltech101_zip(server: Server, tmp_path: Path) -> None:
    src = make_fake_dataset("caltech101", tmp_path / "src", "extracted")
    inner = tar_of(src / "101_ObjectCategories", "101_ObjectCategories", mode="w:gz")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("caltech-101/101_ObjectCategories.tar.gz", inner)
        zf.writestr("caltech-101/show_annotation.m", "% matlab\n")
    server.files["caltech-101.zip"] = buf.getvalue()
    card = card_for(
        server,
        "caltech-101.zip",
        buf.getvalue(),
        extract_to="caltech101",
        then_extract=["caltech-101/101_ObjectCategories.tar.gz"],
    )
    root = tmp_path / "data"
    assert download_dataset("caltech101", root, card=card, progress=False, log=print) == []
    assert (root / "caltech101" / "101_ObjectCategories" / "BACKGROUND_Google").is_dir()


def test_mirror_replaces_the_card_urls(server: Server, tmp_path: Path) -> None:
    server.files["TrainImages.txt"] = b"kitchen/a.jpg\r\n"
    card = {
        "archives": [
            {"filename": "TrainImages.txt", "url": "http://example.invalid/x", "extract": False}
        ]
    }
    download_dataset("mit67", tmp_path, card=card, mirror=server.url, progress=False, log=print)
    assert (tmp_path / "TrainImages.txt").read_bytes() == b"kitchen/a.jpg\r\n"


def test_manual_entries_print_what_to_fetch_and_where(tmp_path: Path, capsys) -> None:
    card_file = tmp_path / "card.toml"
    card_file.write_text(
        'homepage = "https://example.org/ds"\n[[archives]]\nfilename = "data.tar"\n'
        'manual = "log in and accept the terms"\n'
    )
    root = tmp_path / "data"
    rc = main(["datasets", "download", "mit67", "--data-root", str(root), "--card", str(card_file)])
    err = capsys.readouterr().err
    assert rc == 1 and "https://example.org/ds" in err and str(root / "data.tar") in err


def test_unreachable_host_says_what_to_fetch_by_hand(tmp_path: Path) -> None:
    card = {"archives": [{"filename": "x.tar", "url": "http://127.0.0.1:9/x.tar"}]}
    with pytest.raises(DownloadError, match=r"Fetch x.tar by hand and put it at"):
        download_dataset("x", tmp_path, card=card, progress=False, log=lambda m: None)


# --- hostile archives -----------------------------------------------------------------


def _hostile_tar(path: Path) -> None:
    with tarfile.open(path, "w") as tf:
        for name, data in [
            ("ok/fine.txt", b"fine"),
            ("../evil.txt", b"x"),
            ("/tmp/abs-evil.txt", b"x"),
        ]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("ok/link")
        link.type = tarfile.SYMTYPE
        link.linkname = "../../outside"
        tf.addfile(link)


def test_hostile_tar_is_refused_whole_and_writes_nothing(tmp_path: Path) -> None:
    archive = tmp_path / "hostile.tar"
    _hostile_tar(archive)
    target = tmp_path / "a" / "target"
    with pytest.raises(UnsafeArchiveError) as err:
        safe_extract(archive, target)
    msg = str(err.value)
    assert str(archive) in msg
    assert "'../evil.txt': '..' path component" in msg
    assert "'/tmp/abs-evil.txt': absolute path" in msg
    assert "ok/link" in msg and "outside the target" in msg
    assert list(target.iterdir()) == []  # not even the harmless member
    assert not (tmp_path / "a" / "evil.txt").exists() and not Path("/tmp/abs-evil.txt").exists()


def test_hostile_tar_through_the_download_command(server: Server, tmp_path: Path, capsys) -> None:
    archive = tmp_path / "hostile.tar"
    _hostile_tar(archive)
    data = archive.read_bytes()
    server.files["hostile.tar"] = data
    card_file = tmp_path / "card.toml"
    card_file.write_text(
        f'[[archives]]\nfilename = "hostile.tar"\nurl = "{server.url}/hostile.tar"\n'
        f'md5 = "{md5(data)}"\nextract_to = "sub"\n'
    )
    root = tmp_path / "data"
    args = ["datasets", "download", "caltech256", "--data-root", str(root), "--no-progress"]
    assert main([*args, "--card", str(card_file)]) == 2
    assert "refusing to extract" in capsys.readouterr().err
    written = [p for p in root.rglob("*") if p.is_file()]
    assert written == [root / "sub" / "hostile.tar"]  # the verified archive only
    assert not (root / "evil.txt").exists()


@pytest.mark.parametrize("name", ["../evil.txt", "/abs.txt", "a/../../evil.txt", "C:/win.txt"])
def test_hostile_zip_is_refused(tmp_path: Path, name: str) -> None:
    archive = tmp_path / "hostile.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("fine.txt", "ok")
        zf.writestr(name, "x")
    target = tmp_path / "t"
    with pytest.raises(UnsafeArchiveError, match="refusing to extract"):
        safe_extract(archive, target)
    assert list(target.iterdir()) == [] and not (tmp_path / "evil.txt").exists()


def test_zip_symlink_member_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "link.zip"
    info = zipfile.ZipInfo("link")
    info.external_attr = 0o120777 << 16
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(info, "../../etc/passwd")
    with pytest.raises(UnsafeArchiveError, match="symbolic link"):
        safe_extract(archive, tmp_path / "t")


def test_truncated_archive_is_an_error_not_a_partial_tree(tmp_path: Path, caltech256_tar: bytes):
    archive = tmp_path / "cut.tar"
    archive.write_bytes(caltech256_tar[: len(caltech256_tar) // 2])
    with pytest.raises(DownloadError):
        safe_extract(archive, tmp_path / "t")
    assert not (tmp_path / "t" / "256_ObjectCategories").exists()


def test_a_complete_part_file_answered_416_is_kept(server: Server, tmp_path: Path) -> None:
    data = b"x" * 5000
    server.files["done.bin"] = data
    (tmp_path / "done.bin.part").write_bytes(data)
    fetch(f"{server.url}/done.bin", tmp_path / "done.bin", progress=False)
    assert (tmp_path / "done.bin").read_bytes() == data
    assert server.requests[-1] == ("done.bin", "bytes=5000-")


# --- links resolved through the archive's own tree, sizes, and the data root's folders ---


def _tar_with(path: Path, members: list[tuple[str, str]]) -> None:
    """Members as (name, "dir" | "link:TARGET" | "hard:TARGET" | file content)."""
    with tarfile.open(path, "w") as tf:
        for name, kind in members:
            info = tarfile.TarInfo(name)
            if kind == "dir":
                info.type = tarfile.DIRTYPE
                tf.addfile(info)
            elif kind.startswith(("link:", "hard:")):
                info.type = tarfile.SYMTYPE if kind.startswith("link:") else tarfile.LNKTYPE
                info.linkname = kind[5:]
                tf.addfile(info)
            else:
                info.size = len(kind)
                tf.addfile(info, io.BytesIO(kind.encode()))


CHAINS = {
    # each link target is inside when read lexically ("sub/up/.." is "sub"); through the
    # links already extracted it is the target's parent
    "up-then-dotdot": [
        ("sub", "dir"),
        ("sub/up", "link:.."),
        ("esc", "link:sub/up/.."),
        ("esc/evil.txt", "pwned"),
    ],
    "chain-of-links": [
        ("a/b/c", "dir"),
        ("a/b/c/l1", "link:../.."),
        ("a/l2", "link:b/c/l1/.."),
        ("a/l3", "link:l2/.."),
        ("a/l3/evil.txt", "pwned"),
    ],
    "hard-link-through-a-link": [
        ("sub", "dir"),
        ("sub/up", "link:.."),
        ("h", "hard:sub/up/../etc/passwd"),
    ],
    "link-loop": [("a", "link:b"), ("b", "link:a"), ("a/evil.txt", "pwned")],
    "file-through-a-link-member": [
        ("sub", "dir"),
        ("sub/up", "link:.."),
        ("sub/up/../evil.txt", "pwned"),
    ],
}


@pytest.mark.parametrize("chain", sorted(CHAINS))
def test_symlink_chains_resolving_outside_are_refused(
    server: Server, tmp_path: Path, chain: str
) -> None:
    archive = tmp_path / "chain.tar"
    _tar_with(archive, CHAINS[chain])
    server.files["chain.tar"] = archive.read_bytes()
    # --card without a checksum: nothing but the member check stands in the way
    card = {"archives": [{"filename": "chain.tar", "url": f"{server.url}/chain.tar"}]}
    root = tmp_path / "outside" / "data"
    with pytest.raises(UnsafeArchiveError, match="refusing to extract") as err:
        download_dataset("x", root, card=card, progress=False, log=lambda m: None)
    assert "outside the target" in str(err.value) or "evil.txt" in str(err.value)
    written = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    assert written == [Path("chain.tar"), Path("outside/data/chain.tar")]


def test_links_that_stay_inside_are_extracted(tmp_path: Path) -> None:
    archive = tmp_path / "ok.tar"
    _tar_with(archive, [("d/f.txt", "hi"), ("d/l", "link:f.txt"), ("e", "link:d/../d")])
    safe_extract(archive, tmp_path / "t")
    assert (tmp_path / "t" / "e" / "l").read_text() == "hi"


def test_a_file_member_over_a_folder_of_the_data_root_is_refused_by_name(tmp_path: Path):
    target = tmp_path / "data"
    (target / "JPEGImages").mkdir(parents=True)
    (target / "JPEGImages" / "mine.jpg").write_bytes(b"user data")
    archive = tmp_path / "a.tar"
    _tar_with(archive, [("JPEGImages", "a file now"), ("other.txt", "x")])
    with pytest.raises(DownloadError, match="would replace what is there") as err:
        safe_extract(archive, target)
    assert f"{target / 'JPEGImages'} is a folder" in str(err.value)
    assert (target / "JPEGImages" / "mine.jpg").read_bytes() == b"user data"
    assert sorted(p.name for p in target.iterdir()) == ["JPEGImages"]  # nothing else moved


def test_a_zip_bomb_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("zeros.bin", bytes(20 << 20))
    assert archive.stat().st_size < 100_000
    with pytest.raises(UnsafeArchiveError, match="decompression bomb"):
        safe_extract(archive, tmp_path / "t")
    assert list((tmp_path / "t").iterdir()) == []


def test_an_extraction_larger_than_the_free_space_is_refused(
    tmp_path: Path, caltech256_tar: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    from benchbase.data import archives

    archive = tmp_path / "c.tar"
    archive.write_bytes(caltech256_tar)
    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(
        archives.shutil, "disk_usage", lambda p: usage._replace(free=archives.RESERVE + 1000)
    )
    with pytest.raises(DownloadError, match="only 64.0 MiB is free under") as err:
        safe_extract(archive, tmp_path / "t")
    assert "Traceback" not in str(err.value) and "larger disk" in str(err.value)
    assert list((tmp_path / "t").iterdir()) == []


def test_an_endless_body_stops_at_the_cards_size_and_is_not_kept(
    server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server.endless.add("forever.tar")
    card_file = tmp_path / "card.toml"
    card_file.write_text(
        f'[[archives]]\nfilename = "forever.tar"\nurl = "{server.url}/forever.tar"\n'
        "size_bytes = 100000\n"
    )
    root = tmp_path / "data"
    args = ["datasets", "download", "x", "--data-root", str(root), "--no-progress"]
    assert main([*args, "--card", str(card_file)]) == 2
    err = capsys.readouterr().err
    assert "more than the card's size" in err and "re-run to resume" not in err
    assert "Traceback" not in err
    assert [p for p in root.rglob("*") if p.is_file()] == []


def test_an_endless_body_stops_at_the_free_space(
    server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    from benchbase.data import download

    server.endless.add("forever.bin")
    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(
        download.shutil, "disk_usage", lambda p: usage._replace(free=download.RESERVE + 300_000)
    )
    with pytest.raises(DownloadError, match="more than the free space under") as err:
        fetch(f"{server.url}/forever.bin", tmp_path / "forever.bin", progress=False)
    assert "re-run to resume" not in str(err.value)
    assert list(tmp_path.iterdir()) == []


def test_an_announced_length_over_the_cards_size_is_refused_unread(
    server: Server, tmp_path: Path
) -> None:
    server.files["big.bin"] = b"x" * 3_000_000
    with pytest.raises(DownloadError, match="announces 3,000,000 bytes"):
        fetch(f"{server.url}/big.bin", tmp_path / "big.bin", progress=False, max_bytes=2_000_000)
    assert list(tmp_path.iterdir()) == []


def test_a_disk_that_fills_during_the_download_is_named_and_resumable(
    server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os
    import shutil
    import subprocess

    from benchbase.data import download

    if os.geteuid() != 0:
        pytest.skip("needs root to mount a small tmpfs (a real full disk)")
    disk = tmp_path / "disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(disk)]).returncode:
        pytest.skip("cannot mount a tmpfs here")
    try:
        usage = shutil.disk_usage(disk)  # free space reported as plenty: filled meanwhile
        monkeypatch.setattr(download.shutil, "disk_usage", lambda p: usage._replace(free=1 << 40))
        server.files["big.bin"] = b"x" * (3 << 20)
        with pytest.raises(DownloadError, match="no space left under") as err:
            fetch(f"{server.url}/big.bin", disk / "big.bin", progress=False)
        assert "re-run to resume" in str(err.value)
        assert (disk / "big.bin.part").stat().st_size > 0  # kept for the resume
    finally:
        subprocess.run(["umount", str(disk)], check=False)
