"""MovieLens 100K: find it, download and verify it once, and read it into pandas.

The files live in ``<data path>/ml-100k/``, where the data path is the ``DATA_PATH``
environment variable (default: ``data`` in the working directory). When ``u.data`` is
missing, :func:`ensure_movielens` downloads the official GroupLens zip, checks its MD5,
unpacks it next to its final place and moves the folder in with one ``os.replace``, so an
interrupted download never leaves a half-written cache behind. A cached ``u.data`` is
checked against its known SHA-256 once per process.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import tempfile
import urllib.request
import zipfile
from pathlib import Path
from typing import BinaryIO

import pandas as pd
from tqdm import tqdm

MOVIELENS_100K_URL = "https://files.grouplens.org/datasets/movielens/ml-100k.zip"
ML100K_ZIP_MD5 = "0e33842e24a9c977be4e0107933c0723"
ML100K_U_DATA_SHA256 = "06416e597f82b7342361e41163890c81036900f418ad91315590814211dca490"

RATING_COLUMNS = ["user_id", "item_id", "rating", "timestamp"]
USER_COLUMNS = ["user_id", "age", "gender", "occupation", "zip_code"]
# The 19 genre flags of u.item, in the order of u.genre.
GENRES = [
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
    "Romance", "Sci-Fi", "Thriller", "War", "Western",
]  # fmt: skip

# (u.data path, size, mtime_ns, expected SHA-256) already hashed in this process.
_VERIFIED: set[tuple[str, int, int, str]] = set()


class CorruptDataError(ValueError):
    """A cached or downloaded MovieLens file does not match its published checksum."""


class DownloadError(RuntimeError):
    """MovieLens is not cached and could not be downloaded."""


def get_data_path() -> Path:
    """Return the data folder: ``$DATA_PATH`` (read at every call), else ``./data``."""
    return Path(os.environ.get("DATA_PATH", "data"))


def ensure_movielens(
    data_path: str | os.PathLike | None = None,
    *,
    url: str | None = None,
    md5: str | None = None,
    sha256: str | None = None,
    timeout: float = 30.0,
) -> Path:
    """Return the ``ml-100k`` folder, downloading and verifying it first if needed.

    Parameters
    ----------
    data_path : path, optional
        Folder holding ``ml-100k/``; defaults to :func:`get_data_path`.
    url : str, optional
        Zip to download; defaults to ``$COURSEKIT_ML100K_URL``, else :data:`MOVIELENS_100K_URL`.
    md5, sha256 : str, optional
        Expected MD5 of the zip and SHA-256 of ``u.data`` (tests pass their own).
    timeout : float
        Seconds to wait on the network before giving up.

    Raises
    ------
    DownloadError
        The files are missing and the download failed (the message says where to put them).
    CorruptDataError
        ``u.data`` (cached or downloaded) or the zip does not match its checksum. A corrupt
        cache is never repaired silently: delete the folder and the next call downloads it.
    """
    if data_path is not None and not isinstance(data_path, (str, os.PathLike)):
        raise TypeError(f"data_path must be a folder path (str or os.PathLike), got {data_path!r}")
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
    root = Path(data_path) if data_path is not None else get_data_path()
    if root.exists() and not root.is_dir():
        raise ValueError(f"data_path {str(root)!r} is a file; it must be the folder holding ml-100k/")
    folder = root / "ml-100k"
    sha256 = sha256 or ML100K_U_DATA_SHA256
    if not (folder / "u.data").exists():
        if folder.exists():
            raise CorruptDataError(
                f"{folder} exists but has no u.data: delete that folder so coursekit "
                "downloads MovieLens again, or copy the ml-100k files into it"
            )
        url = url or os.environ.get("COURSEKIT_ML100K_URL") or MOVIELENS_100K_URL
        _download(url, root, md5 or ML100K_ZIP_MD5, sha256, timeout)
    _verify_cached(folder / "u.data", sha256)
    return folder


def read_movielens_df(decrement_ids: bool = True, data_path: str | os.PathLike | None = None) -> pd.DataFrame:
    """Read the 100,000 ratings of ``u.data`` in file order.

    Parameters
    ----------
    decrement_ids : bool
        Subtract 1 from ``user_id`` and ``item_id`` so both start at 0 (model row indices).
    data_path : path, optional
        Folder holding ``ml-100k/``; defaults to :func:`get_data_path`.

    Returns
    -------
    pandas.DataFrame
        Columns ``user_id, item_id, rating, timestamp``, all int64.
    """
    folder = ensure_movielens(data_path)
    df = pd.read_csv(folder / "u.data", sep="\t", names=RATING_COLUMNS, dtype="int64")
    if decrement_ids:
        df[["user_id", "item_id"]] -= 1
    return df


def read_movielens_df_item(data_path: str | os.PathLike | None = None) -> pd.DataFrame:
    """Read the movies of ``u.item`` (``item_id`` 1-based, as in the file).

    Returns
    -------
    pandas.DataFrame
        ``item_id, movie_title, release_date`` (datetime, NaT when unknown), ``IMDb_URL``
        and one 0/1 column per genre in :data:`GENRES`. The always-empty
        ``video_release_date`` column is dropped.
    """
    folder = ensure_movielens(data_path)
    columns = ["item_id", "movie_title", "release_date", "video_release_date", "IMDb_URL", *GENRES]
    df = pd.read_csv(folder / "u.item", sep="|", names=columns, encoding="latin-1")
    df["release_date"] = pd.to_datetime(df["release_date"], format="%d-%b-%Y", errors="coerce")
    return df.drop(columns="video_release_date")


def read_movielens_df_user(data_path: str | os.PathLike | None = None) -> pd.DataFrame:
    """Read the users of ``u.user``: ``user_id`` (1-based), ``age, gender, occupation, zip_code``.

    ``zip_code`` stays a string: some are Canadian (``T8H1N``) or start with 0.
    """
    folder = ensure_movielens(data_path)
    return pd.read_csv(folder / "u.user", sep="|", names=USER_COLUMNS, dtype={"zip_code": str})


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _verify_cached(u_data: Path, sha256: str) -> None:
    stat = u_data.stat()
    key = (str(u_data.resolve()), stat.st_size, stat.st_mtime_ns, sha256)
    if key in _VERIFIED:
        return
    actual = _sha256(u_data)
    if actual != sha256:
        raise CorruptDataError(
            f"The cached MovieLens file {u_data} is truncated or corrupted (SHA-256 {actual}, "
            f"expected {sha256}). Delete the folder {u_data.parent} and coursekit will download it again."
        )
    _VERIFIED.add(key)


def _download(url: str, root: Path, md5: str, sha256: str, timeout: float) -> None:
    """Download and unpack the zip into ``root/ml-100k``; leave nothing behind on failure."""
    root.mkdir(parents=True, exist_ok=True)
    fd, zip_path = tempfile.mkstemp(dir=root, prefix=".ml-100k-", suffix=".zip.part")
    unpack_dir = Path(tempfile.mkdtemp(dir=root, prefix=".ml-100k-"))
    try:
        with os.fdopen(fd, "wb") as out:
            digest = _fetch(url, out, root / "ml-100k", timeout)
        if digest != md5:
            raise CorruptDataError(
                f"The zip downloaded from {url} is truncated or corrupted (MD5 {digest}, expected {md5})"
            )
        try:
            with zipfile.ZipFile(zip_path) as archive:
                archive.extractall(unpack_dir)
        except zipfile.BadZipFile as error:
            raise CorruptDataError(f"The zip downloaded from {url} is not a valid zip: {error}") from error
        u_data = unpack_dir / "ml-100k" / "u.data"
        if not u_data.exists() or _sha256(u_data) != sha256:
            raise CorruptDataError(f"The zip downloaded from {url} has a missing or corrupted ml-100k/u.data")
        try:
            os.replace(unpack_dir / "ml-100k", root / "ml-100k")
        except OSError:
            if not (root / "ml-100k" / "u.data").exists():
                raise
            # Another process finished the same download first; its copy is as good as ours.
    finally:
        Path(zip_path).unlink(missing_ok=True)
        shutil.rmtree(unpack_dir, ignore_errors=True)


def _fetch(url: str, out: BinaryIO, destination: Path, timeout: float) -> str:
    """Stream ``url`` into the file ``out`` with a progress bar; return the MD5 of the bytes."""
    md5 = hashlib.md5(usedforsecurity=False)  # an integrity check, as GroupLens publishes it
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            total = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc="Downloading ml-100k.zip") as bar:
                while chunk := response.read(1 << 16):
                    out.write(chunk)
                    md5.update(chunk)
                    bar.update(len(chunk))
            if total is not None and bar.n < total:
                raise OSError(f"the connection closed after {bar.n} of {total} bytes")
    except (OSError, http.client.HTTPException) as error:  # URLError and timeouts are OSErrors
        raise DownloadError(
            f"Could not download MovieLens 100K from {url} ({error}). Without network access, "
            f"download {MOVIELENS_100K_URL} elsewhere and unpack it so that {destination / 'u.data'} "
            "exists (or point the DATA_PATH environment variable at a folder holding ml-100k/)."
        ) from error
    return md5.hexdigest()
