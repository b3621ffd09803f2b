import hashlib
import http.server
import io
import os
import socket
import threading
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from coursekit import movielens
from coursekit.movielens import (
    GENRES,
    MOVIELENS_100K_URL,
    CorruptDataError,
    DownloadError,
    ensure_movielens,
    get_data_path,
    read_movielens_df,
    read_movielens_df_item,
    read_movielens_df_user,
)

# --- the real data (the DATA_PATH cache) -------------------------------------------------


def test_ratings_shape_values_and_dtypes(ml100k_path):
    df = read_movielens_df()
    assert list(df.columns) == ["user_id", "item_id", "rating", "timestamp"]
    assert len(df) == 100_000
    assert (df.dtypes == "int64").all()
    assert df["user_id"].nunique() == 943 and df["item_id"].nunique() == 1682
    assert df["user_id"].min() == 0 and df["user_id"].max() == 942
    assert df["item_id"].min() == 0 and df["item_id"].max() == 1681
    assert df.iloc[0].tolist() == [195, 241, 3, 881250949]  # u.data's first line: 196 242 3 881250949


def test_ratings_without_decrement_keep_file_ids(ml100k_path):
    df = read_movielens_df(decrement_ids=False)
    assert df.iloc[0].tolist() == [196, 242, 3, 881250949]
    assert df["user_id"].min() == 1 and df["item_id"].max() == 1682


def test_items(ml100k_path):
    items = read_movielens_df_item()
    assert len(items) == 1682
    assert list(items.columns) == ["item_id", "movie_title", "release_date", "IMDb_URL", *GENRES]
    star_wars = items.set_index("item_id").loc[50]
    assert star_wars["movie_title"] == "Star Wars (1977)"
    assert star_wars["release_date"] == pd.Timestamp("1977-01-01")
    assert [g for g in GENRES if star_wars[g] == 1] == ["Action", "Adventure", "Romance", "Sci-Fi", "War"]
    assert items["release_date"].isna().sum() == 1  # item 267, "unknown"
    assert pd.api.types.is_datetime64_any_dtype(items["release_date"])


def test_genre_names_match_u_genre(ml100k_path):
    names = [line.split("|")[0] for line in (ml100k_path / "u.genre").read_text().splitlines() if line]
    assert names == GENRES


def test_users(ml100k_path):
    users = read_movielens_df_user()
    assert list(users.columns) == ["user_id", "age", "gender", "occupation", "zip_code"]
    assert len(users) == 943
    assert users.iloc[0].tolist() == [1, 24, "M", "technician", "85711"]
    assert users.set_index("user_id").loc[74, "zip_code"] == "T8H1N"


# --- the data path -----------------------------------------------------------------------


def test_data_path_is_read_at_call_time(monkeypatch, tmp_path):
    monkeypatch.setenv("DATA_PATH", str(tmp_path / "a"))
    assert get_data_path() == tmp_path / "a"
    monkeypatch.setenv("DATA_PATH", str(tmp_path / "b"))
    assert get_data_path() == tmp_path / "b"
    _write_fake_folder(tmp_path / "b")
    assert ensure_movielens(sha256=FAKE_SHA256) == tmp_path / "b" / "ml-100k"
    monkeypatch.delenv("DATA_PATH")
    assert get_data_path() == Path("data")


# --- download and verification, against a real local HTTP server ------------------------

FAKE_FILES = {
    "u.data": "3\t10\t5\t881250949\n1\t20\t2\t881250950\n",
    "u.item": "1|Toy Story (1995)|01-Jan-1995||http://x|" + "|".join("0" * 18) + "|1\n",
    "u.user": "1|24|M|technician|01002\n",
}
FAKE_CHECKSUMS = {name: hashlib.sha256(text.encode()).hexdigest() for name, text in FAKE_FILES.items()}
FAKE_SHA256 = FAKE_CHECKSUMS["u.data"]


def _fake_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in FAKE_FILES.items():
            archive.writestr(f"ml-100k/{name}", text)
    return buffer.getvalue()


FAKE_ZIP = _fake_zip()
FAKE_MD5 = hashlib.md5(FAKE_ZIP).hexdigest()


def _write_fake_folder(root: Path) -> Path:
    folder = root / "ml-100k"
    folder.mkdir(parents=True)
    for name, text in FAKE_FILES.items():
        (folder / name).write_text(text)
    return folder


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body, length = self.server.body, self.server.length
        self.send_response(200)
        self.send_header("Content-Length", str(length if length is not None else len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    """Serve ``server.body`` (claiming ``server.length`` bytes when set) at ``server.url``."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.body, httpd.length = FAKE_ZIP, None
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}/ml-100k.zip"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def _download(root, url, **checksums):
    expected = {"md5": FAKE_MD5, "checksums": FAKE_CHECKSUMS, **checksums}
    return ensure_movielens(root, url=url, **expected, timeout=5)


def test_download_good_zip(server, tmp_path):
    folder = _download(tmp_path, server.url)
    assert folder == tmp_path / "ml-100k"
    assert os.listdir(tmp_path) == ["ml-100k"]  # no temp file or folder left behind
    assert sorted(os.listdir(folder)) == sorted(FAKE_FILES)
    assert (folder / "u.data").read_text() == FAKE_FILES["u.data"]


def test_readers_download_from_env_url(server, tmp_path, monkeypatch):
    monkeypatch.setenv("COURSEKIT_ML100K_URL", server.url)
    monkeypatch.setattr(movielens, "ML100K_ZIP_MD5", FAKE_MD5)
    monkeypatch.setattr(movielens, "ML100K_SHA256", FAKE_CHECKSUMS)
    df = read_movielens_df(data_path=tmp_path)
    assert df.values.tolist() == [[2, 9, 5, 881250949], [0, 19, 2, 881250950]]
    item = read_movielens_df_item(data_path=tmp_path).iloc[0]
    assert item["movie_title"] == "Toy Story (1995)" and item["Western"] == 1 and item["Action"] == 0
    assert read_movielens_df_user(data_path=tmp_path)["zip_code"].tolist() == ["01002"]


@pytest.mark.parametrize(
    "claimed_length, error",
    [(None, CorruptDataError), (len(FAKE_ZIP), DownloadError)],
    ids=["truncated-file", "interrupted-connection"],  # the second promises the whole zip, sends half
)
def test_truncated_download_leaves_nothing_and_recovers(server, tmp_path, claimed_length, error):
    server.body, server.length = FAKE_ZIP[: len(FAKE_ZIP) // 2], claimed_length
    with pytest.raises(error):
        _download(tmp_path, server.url)
    assert os.listdir(tmp_path) == []
    server.body, server.length = FAKE_ZIP, None
    assert (_download(tmp_path, server.url) / "u.data").read_text() == FAKE_FILES["u.data"]


@pytest.mark.parametrize("checksum", ["md5", "sha256"])
def test_wrong_checksum_leaves_nothing(server, tmp_path, checksum):
    with pytest.raises(CorruptDataError, match="corrupted"):
        _download(tmp_path, server.url, **{checksum: "0" * 64})
    assert os.listdir(tmp_path) == []


def test_unreachable_server_says_where_to_put_the_files(tmp_path):
    with socket.socket() as sock:  # a port that nothing listens on once closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(DownloadError) as info:
        _download(tmp_path, f"http://127.0.0.1:{port}/ml-100k.zip")
    message = str(info.value)
    assert str(tmp_path / "ml-100k" / "u.data") in message and MOVIELENS_100K_URL in message
    assert os.listdir(tmp_path) == []


def test_corrupted_cache_is_reported(tmp_path):
    folder = _write_fake_folder(tmp_path)
    assert ensure_movielens(tmp_path, sha256=FAKE_SHA256) == folder
    with open(folder / "u.data", "a") as f:
        f.write("garbage\n")
    with pytest.raises(CorruptDataError) as info:
        ensure_movielens(tmp_path, sha256=FAKE_SHA256)
    message = str(info.value)
    assert str(folder / "u.data") in message and "truncated or corrupted" in message and "Delete" in message
    with pytest.raises(CorruptDataError):  # and against the real checksum by default
        read_movielens_df(data_path=tmp_path)


def test_folder_without_u_data_is_reported(tmp_path):
    (tmp_path / "ml-100k").mkdir()
    with pytest.raises(CorruptDataError, match="has no u.data"):
        ensure_movielens(tmp_path, url="http://127.0.0.1:9/never-used")


def test_cache_is_hashed_once_per_process(tmp_path, monkeypatch):
    _write_fake_folder(tmp_path)
    calls = []
    real_sha256 = movielens._sha256
    monkeypatch.setattr(movielens, "_sha256", lambda path: calls.append(path) or real_sha256(path))
    for _ in range(3):
        ensure_movielens(tmp_path, sha256=FAKE_SHA256)
    assert len(calls) == 1


def test_changed_cache_is_hashed_again(tmp_path):
    folder = _write_fake_folder(tmp_path)
    ensure_movielens(tmp_path, sha256=FAKE_SHA256)
    u_data = folder / "u.data"
    mtime_ns = u_data.stat().st_mtime_ns
    u_data.write_text(FAKE_FILES["u.data"].replace("5", "4"))  # same size, new content
    os.utime(u_data, ns=(mtime_ns + 10**9, mtime_ns + 10**9))  # file times can be coarser than writes
    with pytest.raises(CorruptDataError):
        ensure_movielens(tmp_path, sha256=FAKE_SHA256)
