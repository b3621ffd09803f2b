"""MovieLens 100K: find it, download and verify it once, and read it into pandas.

The files live in ``<data path>/ml-100k/``, where the data path is the ``DATA_PATH``
environment variable (default: ``data`` in the working directory). When ``u.data`` is
missing, :func:`ensure_movielens` downloads the official GroupLens zip (at most
:data:`ML100K_MAX_ZIP_BYTES`, within a total deadline), checks its MD5, unpacks it next
to its final place (refusing links, paths leaving the folder and other damage) and moves
the folder in with one ``os.replace``, so an interrupted download never leaves a
half-written cache behind.

Every file coursekit reads is checked against its SHA-256 in :data:`ML100K_SHA256` the
first time a process reads it (again only when its size or modification time changes): a
damaged or edited file raises :class:`CorruptDataError` naming it and the folder to delete.
"""

from __future__ import annotations

import errno
import hashlib
import http.client
import os
import shutil
import stat
import tempfile
import time
import urllib.request
import zipfile
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import BinaryIO

import pandas as pd
from tqdm import tqdm

MOVIELENS_100K_URL = "https://files.grouplens.org/datasets/movielens/ml-100k.zip"
ML100K_ZIP_MD5 = "0e33842e24a9c977be4e0107933c0723"
# The zip is 4.9 MB and unpacks to 16 MB; anything much larger is not MovieLens 100K.
ML100K_MAX_ZIP_BYTES = 6 << 20
ML100K_MAX_UNPACKED_BYTES = 32 << 20

# SHA-256 of each file coursekit reads, as published with the offline copy (SHA256SUMS).
# u.item has two genuine versions: GroupLens's, whose titles hold Latin-1 accents
# ("Misérables"), and the ASCII copy (accents dropped) that seeds this course's CI.
ML100K_SHA256: dict[str, tuple[str, ...]] = {
    "u.data": ("06416e597f82b7342361e41163890c81036900f418ad91315590814211dca490",),
    "u.item": (
        "553841ebc7de3a0fd0d6b62a204ea30c1e651aacfb2814c7a6584ac52f2c5701",  # GroupLens zip
        "c42ecfe065bb86071c7a05e73eb6d4820871e2615559953c9fade51aad8d88a6",  # ASCII copy
    ),
    "u.user": ("f120e114da2e8cf314fd28f99417c94ae9ddf1cb6db8ce0e4b5995d40e90e62c",),
    "u.genre": ("9757e0d3e6b298159a80dd48eaf938114690e911e39af97a76949ef1663610bb",),
    "u.occupation": ("cd5fbec9afe345d993a62fc7817df1a4a9079c4feb267b3118763b8fd942137d",),
    "u.info": ("5b0a40b2e47a729ee6203063f6dcf8790c2e63f5a18663e6ee318a72c5f3c27b",),
}
ML100K_U_DATA_SHA256 = ML100K_SHA256["u.data"][0]  # the older single-file spelling

RATING_COLUMNS = ["user_id", "item_id", "rating", "timestamp"]
USER_COLUMNS = ["user_id", "age", "gender", "occupation", "zip_code"]
# The 19 genre flags of u.item, in the order of u.genre.
GENRES = [
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
    "Romance", "Sci-Fi", "Thriller", "War", "Western",
]  # fmt: skip

# (resolved path, size, mtime_ns, accepted SHA-256s) of the files already hashed in this process.
_VERIFIED: set[tuple[str, int, int, tuple[str, ...]]] = set()

Checksums = Mapping[str, "str | tuple[str, ...]"]


class CorruptDataError(ValueError):
    """A data file is damaged: it fails its checksum, is cut short, or cannot be unpacked."""


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
    checksums: Checksums | None = None,
    timeout: float = 30.0,
    deadline: float = 300.0,
    max_bytes: int | None = None,
) -> Path:
    """Return the ``ml-100k`` folder, downloading and verifying it first if needed.

    Parameters
    ----------
    data_path : path, optional
        Folder holding ``ml-100k/``; defaults to :func:`get_data_path`.
    url : str, optional
        Zip to download; defaults to ``$COURSEKIT_ML100K_URL``, else :data:`MOVIELENS_100K_URL`.
    md5 : str, optional
        Expected MD5 of the zip (tests pass their own).
    checksums : mapping, optional
        File name -> expected SHA-256 (or a tuple of accepted ones); defaults to
        :data:`ML100K_SHA256`. A download must contain every file named here.
    sha256 : str, optional
        Expected SHA-256 of ``u.data``, replacing its entry in ``checksums``.
    timeout : float
        Seconds to wait for the server on each connect or read.
    deadline : float
        Seconds the whole download may take (checked between reads, each at most ``timeout``).
    max_bytes : int, optional
        Largest zip accepted; defaults to :data:`ML100K_MAX_ZIP_BYTES`.

    Raises
    ------
    DownloadError
        The files are missing and the download failed (the message says where to put them).
    CorruptDataError
        ``u.data`` (cached or downloaded) or the zip is damaged: a wrong checksum, too large,
        or not a clean zip. A corrupt cache is never repaired silently: delete the folder
        named in the message and the next call downloads it.
    """
    if data_path is not None and not isinstance(data_path, (str, os.PathLike)):
        raise TypeError(f"data_path must be a folder path (str or os.PathLike), got {data_path!r}")
    for name, value in (("timeout", timeout), ("deadline", deadline)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")
    if max_bytes is not None and (isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 1):
        raise ValueError(f"max_bytes must be a positive integer, got {max_bytes!r}")
    root = Path(data_path) if data_path is not None else get_data_path()
    if root.exists() and not root.is_dir():
        raise ValueError(f"data_path {str(root)!r} is a file; it must be the folder holding ml-100k/")
    folder = root / "ml-100k"
    table = _checksum_table(checksums, sha256)
    if not (folder / "u.data").exists():
        if folder.exists():
            raise CorruptDataError(
                f"{folder} exists but has no u.data: delete that folder so coursekit "
                "downloads MovieLens again, or copy the ml-100k files into it"
            )
        url = url or os.environ.get("COURSEKIT_ML100K_URL") or MOVIELENS_100K_URL
        limits = _Limits(timeout, deadline, max_bytes or ML100K_MAX_ZIP_BYTES)
        _download(url, root, md5 or ML100K_ZIP_MD5, table, limits)
    verify_movielens_file(folder / "u.data", table["u.data"])
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
    """Read the movies of ``u.item`` (``item_id`` 1-based, as in the file), after checking its SHA-256.

    Returns
    -------
    pandas.DataFrame
        ``item_id, movie_title, release_date`` (datetime, NaT when unknown), ``IMDb_URL``
        and one 0/1 column per genre in :data:`GENRES`. The always-empty
        ``video_release_date`` column is dropped.
    """
    path = _checked_file(data_path, "u.item")
    columns = ["item_id", "movie_title", "release_date", "video_release_date", "IMDb_URL", *GENRES]
    df = pd.read_csv(path, sep="|", names=columns, encoding="latin-1")
    df["release_date"] = pd.to_datetime(df["release_date"], format="%d-%b-%Y", errors="coerce")
    return df.drop(columns="video_release_date")


def read_movielens_df_user(data_path: str | os.PathLike | None = None) -> pd.DataFrame:
    """Read the users of ``u.user`` (after checking its SHA-256): ``user_id`` (1-based), ``age, gender, occupation, zip_code``.

    ``zip_code`` stays a string: some are Canadian (``T8H1N``) or start with 0.
    """
    path = _checked_file(data_path, "u.user")
    return pd.read_csv(path, sep="|", names=USER_COLUMNS, dtype={"zip_code": str})


def verify_movielens_file(path: str | os.PathLike, sha256: str | tuple[str, ...] | None = None) -> Path:
    """Check one MovieLens file against its SHA-256; return its path.

    The result is remembered per process for this path, size and modification time, so
    repeated reads hash the file once.

    Parameters
    ----------
    path : path
        A file of an ``ml-100k`` folder.
    sha256 : str or tuple of str, optional
        Accepted SHA-256 value(s); defaults to the entry for the file's name in :data:`ML100K_SHA256`.

    Raises
    ------
    CorruptDataError
        The file is missing or its content differs (truncated, edited, damaged); the
        message names the file and the folder to delete so coursekit downloads it again.
    """
    path = Path(path)
    if sha256 is None:
        if path.name not in ML100K_SHA256:
            raise ValueError(f"no known SHA-256 for {path.name!r}; known files: {sorted(ML100K_SHA256)}")
        sha256 = ML100K_SHA256[path.name]
    accepted = (sha256,) if isinstance(sha256, str) else tuple(sha256)
    redownload = f"Delete the folder {path.parent} and coursekit will download it again."
    try:
        info = path.stat()
    except FileNotFoundError:
        raise CorruptDataError(f"The MovieLens file {path} is missing. {redownload}") from None
    key = (str(path.resolve()), info.st_size, info.st_mtime_ns, accepted)
    if key in _VERIFIED:
        return path
    actual = _sha256(path)
    if actual not in accepted:
        expected = " or ".join(accepted)
        raise CorruptDataError(
            f"The MovieLens file {path} is truncated or corrupted (SHA-256 {actual}, expected {expected}). {redownload}"
        )
    _VERIFIED.add(key)
    return path


def verify_movielens(data_path: str | os.PathLike | None = None) -> Path:
    """Check every file of :data:`ML100K_SHA256` in the ``ml-100k`` folder (downloading it if needed).

    The readers check the files they read; this checks the rest too (``u.genre``, ...).
    Returns the folder; raises :class:`CorruptDataError` naming the first damaged file.
    """
    folder = ensure_movielens(data_path)
    for name, accepted in ML100K_SHA256.items():
        verify_movielens_file(folder / name, accepted)
    return folder


def _checked_file(data_path: str | os.PathLike | None, name: str) -> Path:
    return verify_movielens_file(ensure_movielens(data_path) / name, ML100K_SHA256[name])


def _checksum_table(checksums: Checksums | None, sha256: str | None) -> dict[str, tuple[str, ...]]:
    table = dict(ML100K_SHA256 if checksums is None else checksums)
    if sha256 is not None:
        table["u.data"] = sha256
    if "u.data" not in table:
        raise ValueError("checksums must name u.data")
    return {name: (value,) if isinstance(value, str) else tuple(value) for name, value in table.items()}


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class _Limits:
    """How long and how much a download may take."""

    def __init__(self, timeout: float, deadline: float, max_bytes: int) -> None:
        self.timeout, self.deadline, self.max_bytes = timeout, deadline, max_bytes


def _download(url: str, root: Path, md5: str, checksums: dict[str, tuple[str, ...]], limits: _Limits) -> None:
    """Download and unpack the zip into ``root/ml-100k``; leave nothing behind on failure."""
    root.mkdir(parents=True, exist_ok=True)
    fd, zip_path = tempfile.mkstemp(dir=root, prefix=".ml-100k-", suffix=".zip.part")
    unpack_dir = Path(tempfile.mkdtemp(dir=root, prefix=".ml-100k-"))
    try:
        with os.fdopen(fd, "wb") as out:
            digest = _fetch(url, out, root / "ml-100k", limits)
        if digest != md5:
            raise CorruptDataError(
                f"The zip downloaded from {url} is truncated or corrupted (MD5 {digest}, expected {md5})"
            )
        _unpack(Path(zip_path), unpack_dir, url)
        for name, accepted in checksums.items():
            member = unpack_dir / "ml-100k" / name
            if not member.is_file() or _sha256(member) not in accepted:
                raise CorruptDataError(f"The zip downloaded from {url} has a missing or corrupted ml-100k/{name}")
        try:
            os.replace(unpack_dir / "ml-100k", root / "ml-100k")
        except OSError:
            if not (root / "ml-100k" / "u.data").exists():
                raise
            # Another process finished the same download first; its copy is as good as ours.
    finally:
        Path(zip_path).unlink(missing_ok=True)
        shutil.rmtree(unpack_dir, ignore_errors=True)


def _unpack(zip_path: Path, unpack_dir: Path, url: str) -> None:
    """Extract every member under ``unpack_dir``, refusing anything but plain files and folders inside it."""
    where = f"The zip downloaded from {url}"
    try:
        with zipfile.ZipFile(zip_path) as archive:
            members = archive.infolist()
            unpacked = sum(member.file_size for member in members)
            if unpacked > ML100K_MAX_UNPACKED_BYTES:
                raise CorruptDataError(f"{where} unpacks to {unpacked} bytes, more than MovieLens 100K's")
            for member in members:
                target = unpack_dir / _safe_member_name(member, where)
                if member.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(member) as source, open(target, "xb") as out:
                    shutil.copyfileobj(source, out)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as error:
        # Not a zip, a bad CRC, an unknown compression or an encrypted member.
        raise CorruptDataError(f"{where} is not a valid zip: {error}") from error
    except OSError as error:
        if error.errno not in (errno.EEXIST, errno.ENOTDIR, errno.EISDIR):
            raise  # a full disk or a permission problem, not damage
        # A member under a name another member already took (as a file or a folder).
        raise CorruptDataError(f"{where} has clashing members ({error.strerror}: {error.filename})") from error


def _safe_member_name(member: zipfile.ZipInfo, where: str) -> str:
    name = member.filename
    parts = name.rstrip("/").split("/")
    if name.startswith("/") or "\\" in name or ":" in parts[0] or any(p in ("", ".", "..") for p in parts):
        raise CorruptDataError(f"{where} has a member outside its folder ({name!r}); it is not MovieLens")
    if stat.S_ISLNK(member.external_attr >> 16):
        raise CorruptDataError(f"{where} has a symbolic link ({name!r}); it is not MovieLens")
    return name


def _fetch(url: str, out: BinaryIO, destination: Path, limits: _Limits) -> str:
    """Stream ``url`` into the file ``out`` with a progress bar; return the MD5 of the bytes."""
    md5 = hashlib.md5(usedforsecurity=False)  # an integrity check, as GroupLens publishes it
    give_up = time.monotonic() + limits.deadline
    try:
        with urllib.request.urlopen(url, timeout=limits.timeout) as response:
            total = int(response.headers.get("Content-Length") or 0) or None
            if total is not None and total > limits.max_bytes:
                raise CorruptDataError(
                    f"The server at {url} offers {total} bytes, more than the {limits.max_bytes} of "
                    "the MovieLens 100K zip; it is not MovieLens"
                )
            with tqdm(total=total, unit="B", unit_scale=True, desc="Downloading ml-100k.zip") as bar:
                # read1 returns what one socket read brings, so a server dripping bytes
                # still reaches the deadline check (read(n) would wait for all n).
                while chunk := response.read1(1 << 16):
                    if bar.n + len(chunk) > limits.max_bytes:
                        raise CorruptDataError(
                            f"The server at {url} sent more than {limits.max_bytes} bytes, more than "
                            "the MovieLens 100K zip; stopped (it is not MovieLens)"
                        )
                    out.write(chunk)
                    md5.update(chunk)
                    bar.update(len(chunk))
                    if time.monotonic() > give_up:
                        raise TimeoutError(f"the download took longer than its {limits.deadline:g} s deadline")
            if total is not None and bar.n < total:
                raise OSError(f"the connection closed after {bar.n} of {total} bytes")
    except (OSError, http.client.HTTPException) as error:  # URLError and timeouts are OSErrors
        raise DownloadError(
            f"Could not download MovieLens 100K from {url} ({error}). Without network access, "
            f"download {MOVIELENS_100K_URL} elsewhere and unpack it so that {destination / 'u.data'} "
            "exists (or point the DATA_PATH environment variable at a folder holding ml-100k/)."
        ) from error
    return md5.hexdigest()
