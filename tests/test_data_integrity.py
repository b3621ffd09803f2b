"""Nothing damaged is used: every MovieLens file is checked, downloads are bounded, zips are unpacked safely.

Damage to a copy of the real ml-100k folder (a flipped byte, a cut, an edit) must be caught by
the reader of that file with a CorruptDataError naming it; crafted zips and misbehaving servers
(on 127.0.0.1) must end in CorruptDataError or DownloadError, quickly, with nothing left behind.
"""

from __future__ import annotations

import hashlib
import http.server
import io
import os
import shutil
import stat
import threading
import time
import warnings
import zipfile
from pathlib import Path

import pytest

from coursekit import movielens
from coursekit.movielens import (
    ML100K_SHA256,
    CorruptDataError,
    DownloadError,
    ensure_movielens,
    read_movielens_df,
    read_movielens_df_item,
    read_movielens_df_user,
    verify_movielens,
    verify_movielens_file,
)
from tests.test_movielens import FAKE_CHECKSUMS, FAKE_FILES, FAKE_ZIP

READERS = {"u.data": read_movielens_df, "u.item": read_movielens_df_item, "u.user": read_movielens_df_user}


@pytest.fixture
def copy_root(ml100k_path, tmp_path) -> Path:
    """A private copy of the real ml-100k folder (the files coursekit checks), to damage."""
    folder = tmp_path / "ml-100k"
    folder.mkdir()
    for name in ML100K_SHA256:
        shutil.copyfile(ml100k_path / name, folder / name)
    return tmp_path


def _read(root: Path, name: str):
    """Read ``name`` the way the library does: with its reader, else the whole-folder check."""
    reader = READERS.get(name)
    return reader(data_path=root) if reader else verify_movielens(root)


def _assert_named(info, path: Path) -> None:
    message = str(info.value)
    assert str(path) in message, message
    assert "Delete the folder" in message and str(path.parent) in message, message


def test_the_intact_copy_reads(copy_root):
    assert verify_movielens(copy_root) == copy_root / "ml-100k"
    for name in READERS:
        assert len(_read(copy_root, name)) > 0


DAMAGES = {
    "flip-first-byte": lambda data: bytes([data[0] ^ 0x01]) + data[1:],
    "flip-middle-byte": lambda data: (
        data[: len(data) // 2] + bytes([data[len(data) // 2] ^ 0x80]) + data[len(data) // 2 + 1 :]
    ),
    "flip-last-byte": lambda data: data[:-1] + bytes([data[-1] ^ 0x04]),
    "truncate-half": lambda data: data[: len(data) // 2],
    "truncate-last-byte": lambda data: data[:-1],
    "empty": lambda data: b"",
}


@pytest.mark.parametrize("damage", DAMAGES)
@pytest.mark.parametrize("name", list(ML100K_SHA256))
def test_every_file_damaged_is_detected_and_named(copy_root, name, damage):
    path = copy_root / "ml-100k" / name
    path.write_bytes(DAMAGES[damage](path.read_bytes()))
    with pytest.raises(CorruptDataError) as info:
        _read(copy_root, name)
    _assert_named(info, path)
    with pytest.raises(CorruptDataError):  # and by the whole-folder check
        verify_movielens(copy_root)


def _edit(old: bytes, new: bytes, count: int = 1):
    def edit(data: bytes) -> bytes:
        assert old in data
        return data.replace(old, new, count)

    return edit


EDITS = {  # the damage reported in issue 11, each once silently served
    "u.item-star-wars-1978": ("u.item", _edit(b"Star Wars (1977)", b"Star Wars (1978)")),
    "u.item-cut-to-100kB": ("u.item", lambda data: data[:100_000]),
    "u.item-cut-at-a-line": ("u.item", lambda data: data[: data.index(b"\n705|")]),
    "u.item-pipe-to-comma": ("u.item", _edit(b"|", b",")),
    "u.user-cut": ("u.user", lambda data: data[: data.index(b"\n211|") + 1]),
    "u.user-pipe-to-comma": ("u.user", _edit(b"|", b",")),
    "u.data-rating-edited": ("u.data", _edit(b"196\t242\t3", b"196\t242\t5")),
    "u.data-crlf": ("u.data", lambda data: data.replace(b"\n", b"\r\n")),
}


@pytest.mark.parametrize("case", EDITS)
def test_edited_files_are_rejected(copy_root, case):
    name, edit = EDITS[case]
    path = copy_root / "ml-100k" / name
    path.write_bytes(edit(path.read_bytes()))
    with pytest.raises(CorruptDataError) as info:
        _read(copy_root, name)
    _assert_named(info, path)


def test_missing_file_is_named(copy_root):
    (copy_root / "ml-100k" / "u.user").unlink()
    with pytest.raises(CorruptDataError, match="is missing") as info:
        read_movielens_df_user(data_path=copy_root)
    _assert_named(info, copy_root / "ml-100k" / "u.user")


# The offline copy's u.item is GroupLens's with the accents of nine titles dropped.
GROUPLENS_ACCENTS = {
    b"Miserables, Les": b"Mis\xe9rables, Les",
    b"vie de Veronique": b"vie de V\xe9ronique",
    b"C'est arrive pres": b"C'est arriv\xe9 pr\xe8s",
    b"Nenette et Boni": b"N\xe9nette et Boni",
    b"(Mepris, Le)": b"(M\xe9pris, Le)",
    b"(Cafe au Lait)": b"(Caf\xe9 au Lait)",
    b"de decembre": b"de d\xe9cembre",
    b"Ceremonie, La": b"C\xe9r\xe9monie, La",
    b"|A kaldum klaka": b"|\xc1 k\xf6ldum klaka",
}


def test_the_grouplens_u_item_with_accents_is_accepted_too(copy_root):
    path = copy_root / "ml-100k" / "u.item"
    data = path.read_bytes()
    for ascii_title, latin1_title in GROUPLENS_ACCENTS.items():
        assert data.count(ascii_title) == 1
        data = data.replace(ascii_title, latin1_title)
    path.write_bytes(data)
    titles = read_movielens_df_item(data_path=copy_root).set_index("item_id")["movie_title"]
    assert titles[543] == "Misérables, Les (1995)" and titles[1633].startswith("Á köldum klaka")


def test_verification_is_cached_per_path_size_and_mtime(copy_root, monkeypatch):
    calls = []
    real = movielens._sha256
    monkeypatch.setattr(movielens, "_sha256", lambda path: calls.append(path.name) or real(path))
    for _ in range(3):
        read_movielens_df_item(data_path=copy_root)
    assert calls.count("u.item") == 1 and calls.count("u.data") == 1
    path = copy_root / "ml-100k" / "u.item"
    data = path.read_bytes()
    mtime_ns = path.stat().st_mtime_ns
    path.write_bytes(data.replace(b"Star Wars (1977)", b"Star Wars (1978)"))  # same size
    os.utime(path, ns=(mtime_ns + 10**9, mtime_ns + 10**9))
    with pytest.raises(CorruptDataError):
        read_movielens_df_item(data_path=copy_root)
    assert calls.count("u.item") == 2


def test_verify_file_needs_a_known_name(tmp_path):
    (tmp_path / "u1.base").write_text("x")
    with pytest.raises(ValueError, match="no known SHA-256 for 'u1.base'"):
        verify_movielens_file(tmp_path / "u1.base")


# --- downloads: size cap, total deadline, unpacking -------------------------------------------


class _Handler(http.server.BaseHTTPRequestHandler):
    """Serve ``server.body``: announced or not, all at once or a few bytes at a time."""

    def do_GET(self):
        server = self.server
        self.send_response(200)
        if server.announce is not None:
            self.send_header("Content-Length", str(server.announce))
        self.end_headers()
        try:
            if server.drip is None:
                self.wfile.write(server.body)
            else:
                for start in range(0, len(server.body), 4):
                    self.wfile.write(server.body[start : start + 4])
                    self.wfile.flush()
                    if server.done.wait(server.drip):
                        return
        except OSError:  # the client gave up: expected in these tests
            pass

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    httpd.body, httpd.announce, httpd.drip, httpd.done = FAKE_ZIP, len(FAKE_ZIP), None, threading.Event()
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}/ml-100k.zip"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    yield httpd
    httpd.done.set()
    httpd.shutdown()
    httpd.server_close()


def _download(root: Path, url: str, body: bytes = FAKE_ZIP, **limits):
    md5 = hashlib.md5(body).hexdigest()
    return ensure_movielens(root, url=url, md5=md5, checksums=FAKE_CHECKSUMS, **{"timeout": 5, **limits})


def _nothing_left(root: Path) -> None:
    assert os.listdir(root) == []


def test_default_cap_is_a_little_above_the_real_zip():
    assert 4_900_000 < movielens.ML100K_MAX_ZIP_BYTES < 8_000_000


def test_announced_size_above_the_cap_is_refused_before_reading(server, tmp_path):
    with pytest.raises(CorruptDataError, match="offers"):
        _download(tmp_path, server.url, max_bytes=len(FAKE_ZIP) - 1)
    _nothing_left(tmp_path)


@pytest.mark.parametrize("announce", [None, 100], ids=["no-length", "lying-length"])
def test_streamed_bytes_are_capped(server, tmp_path, announce, monkeypatch):
    server.body, server.announce = b"\0" * (4 << 20), announce
    written = []
    real_fetch = movielens._fetch

    def spy(url, out, destination, limits):
        try:
            return real_fetch(url, out, destination, limits)
        finally:
            written.append(out.tell())

    monkeypatch.setattr(movielens, "_fetch", spy)
    with pytest.raises((CorruptDataError, DownloadError)) as info:
        _download(tmp_path, server.url, max_bytes=100_000)
    if announce is None:
        assert info.type is CorruptDataError and "sent more than 100000 bytes" in str(info.value)
    assert written[0] <= 100_000  # it stopped at the cap, long before the 4 MiB the server had
    _nothing_left(tmp_path)


def test_a_dripping_server_hits_the_total_deadline(server, tmp_path):
    server.drip = 0.05  # 4 bytes every 50 ms: each read succeeds well within the per-read timeout
    start = time.monotonic()
    with pytest.raises(DownloadError, match="deadline"):
        _download(tmp_path, server.url, timeout=2, deadline=0.5)
    assert time.monotonic() - start < 3
    _nothing_left(tmp_path)


def _zip(members: list[tuple[str, bytes | None, int | None]]) -> bytes:
    """A zip of ``(name, data, unix mode)``; ``data=None`` makes a folder entry."""
    buffer = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(buffer, "w") as archive:
        warnings.simplefilter("ignore", UserWarning)  # "Duplicate name": wanted here
        for name, data, mode in members:
            info = zipfile.ZipInfo(name)
            if mode is not None:
                info.external_attr = mode << 16
            archive.writestr(info, data if data is not None else b"")
    return buffer.getvalue()


GOOD = [(f"ml-100k/{name}", text.encode(), None) for name, text in FAKE_FILES.items()]


def _bad_crc() -> bytes:
    data = bytearray(_zip([("ml-100k/u.data", b"x" * 200, None), *GOOD[1:]]))
    data[data.index(b"x" * 200) + 100] ^= 0x01  # stored (uncompressed): the CRC no longer matches
    return bytes(data)


BAD_ZIPS = {
    "not-a-zip": lambda: b"PK\x03\x04 this is not a zip at all" * 10,
    "cut-zip": lambda: FAKE_ZIP[: len(FAKE_ZIP) - 30],
    "bad-crc": _bad_crc,
    "symlink-member": lambda: _zip([*GOOD, ("ml-100k/link", b"/etc", stat.S_IFLNK | 0o777)]),
    "member-through-symlink": lambda: _zip(
        [("ml-100k/link", b"/tmp", stat.S_IFLNK | 0o777), ("ml-100k/link/u.data", b"1\t1\t1\t1\n", None), *GOOD]
    ),
    "member-under-a-file": lambda: _zip([*GOOD, ("ml-100k/u.data/x", b"x", None)]),
    "duplicate-member": lambda: _zip([*GOOD, GOOD[0]]),
    "zip-slip-dotdot": lambda: _zip([*GOOD, ("ml-100k/../../evil.txt", b"owned", None)]),
    "zip-slip-absolute": lambda: _zip([*GOOD, ("/tmp/evil.txt", b"owned", None)]),
    "zip-slip-backslash": lambda: _zip([*GOOD, ("ml-100k\\..\\..\\evil.txt", b"owned", None)]),
}


@pytest.mark.parametrize("case", BAD_ZIPS)
def test_every_unpacking_failure_is_corrupt_data(server, tmp_path, case):
    root = tmp_path / "data"
    server.body = BAD_ZIPS[case]()
    server.announce = len(server.body)
    with pytest.raises(CorruptDataError) as info:
        _download(root, server.url, body=server.body)
    assert server.url in str(info.value)
    _nothing_left(root)
    assert not list(tmp_path.rglob("evil.txt"))
    server.body, server.announce = FAKE_ZIP, len(FAKE_ZIP)  # and a good zip still installs afterwards
    assert (_download(root, server.url) / "u.data").read_text() == FAKE_FILES["u.data"]


def test_a_zip_missing_a_checked_file_is_refused(server, tmp_path):
    server.body = _zip(GOOD[:2])  # no u.user
    server.announce = len(server.body)
    with pytest.raises(CorruptDataError, match="missing or corrupted ml-100k/u.user"):
        _download(tmp_path, server.url, body=server.body)
    _nothing_left(tmp_path)
