"""Interactions that do not fit in memory: stream them to HDF5, read them back block by block.

:func:`write_hdf5` streams a DataFrame, or an iterable of DataFrame chunks such as
``pd.read_csv(..., chunksize=...)``, into one HDF5 file with 1-D datasets
``users``, ``items`` (int64) and optionally ``ratings`` (float32).

:class:`HDF5Interactions` opens such a file without loading it, and
:class:`HDF5InteractionsDataLoader` yields the same batches as the in-memory
loaders, ``((users, positive_items), negative_items)``, reading contiguous blocks.

Negatives are always *approximate* (uniform random items): exact sampling needs
every user's positives in memory, which is what this module exists to avoid.
On a large sparse catalogue a uniform draw is a positive only rarely.

A file is not trusted as read: :class:`HDF5Interactions` checks its ids once, block by
block, exactly as in-memory :class:`~coursekit.interactions.Interactions` does (same
errors, same messages), and :func:`write_hdf5` stores an HDF5 Fletcher-32 checksum per
storage chunk, verified by every read of a file that has one (damage raises
:class:`~coursekit.movielens.CorruptDataError` naming the file).

Example
-------
>>> write_hdf5(pd.read_csv("big.csv", chunksize=1_000_000), "big.h5")  # doctest: +SKIP
>>> loader = HDF5InteractionsDataLoader(HDF5Interactions("big.h5"), batch_size=1024, shuffle=True)  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pandas as pd
import torch

from coursekit._checks import (
    as_id_array,
    check_distinct,
    check_int,
    check_present,
    check_sparse_id_space,
    default_seed,
    id_space_size,
)
from coursekit._files import atomic_write
from coursekit.loaders import Batch, BatchLoader
from coursekit.movielens import CorruptDataError
from coursekit.sampling import sample_approximate

# Storage chunk of the HDF5 datasets, in rows: 64 Ki int64 = 512 KiB, a good unit for
# both sequential block reads and the default 1 MiB chunk cache.
_MAX_STORAGE_CHUNK = 1 << 16
# Rows per read when HDF5Interactions checks a file's ids (8 MiB of int64).
_CHECK_BLOCK = 1 << 20


def write_hdf5(
    frames: pd.DataFrame | Iterable[pd.DataFrame],
    path: str | os.PathLike,
    user_col: str = "user_id",
    item_col: str = "item_id",
    ratings_col: str | None = None,
    chunk_size: int = 1_000_000,
    checksum: bool = True,
) -> Path:
    """Stream interactions into an HDF5 file readable by :class:`HDF5Interactions`.

    The file is written to a temporary file in the same directory and moved into
    place only when complete, so a failure (bad ids halfway through a CSV, a full
    disk) never leaves a half-written ``path`` behind.

    Parameters
    ----------
    frames
        One DataFrame, or an iterable of DataFrame chunks (e.g. ``pd.read_csv(..., chunksize=...)``).
    path
        Destination file; replaced if it exists.
    user_col, item_col
        Columns of non-negative integer ids (encode raw ids with :class:`coursekit.utils.IdEncoder`).
    ratings_col
        Optional column stored as float32 ``ratings``.
    chunk_size
        Rows written per step when ``frames`` is one DataFrame; also bounds the HDF5 storage chunk.
    checksum
        Store a Fletcher-32 checksum with every storage chunk (HDF5's ``fletcher32`` filter),
        so readers detect damaged chunks.

    Returns
    -------
    pathlib.Path
        ``path``. Its attributes ``num_users`` / ``num_items`` are the largest id seen + 1.
    """
    chunk_size = check_int("chunk_size", chunk_size, minimum=1)
    for name, column in (("user_col", user_col), ("item_col", item_col), ("ratings_col", ratings_col)):
        if column is not None and not isinstance(column, str):
            raise TypeError(f"{name} must be a column name (str), got {column!r}")
    if isinstance(frames, pd.DataFrame):
        frame = frames
        frames = (frame.iloc[start : start + chunk_size] for start in range(0, max(len(frame), 1), chunk_size))
    elif not isinstance(frames, Iterable) or isinstance(frames, (str, bytes)):
        raise TypeError(f"frames must be a DataFrame or an iterable of DataFrames, got {type(frames).__name__}")

    path = Path(path)
    storage_chunk = min(chunk_size, _MAX_STORAGE_CHUNK)
    if not isinstance(checksum, bool):
        raise TypeError(f"checksum must be True or False, got {checksum!r}")
    with atomic_write(path, "w+b") as stream, h5py.File(stream, "w") as f:
        options = {"maxshape": (None,), "chunks": (storage_chunk,), "fletcher32": checksum}
        datasets = {
            "users": f.create_dataset("users", (0,), dtype=np.int64, **options),
            "items": f.create_dataset("items", (0,), dtype=np.int64, **options),
        }
        if ratings_col is not None:
            datasets["ratings"] = f.create_dataset("ratings", (0,), dtype=np.float32, **options)
        num_rows, max_user, max_item = 0, -1, -1
        for number, chunk in enumerate(frames):
            columns = _chunk_columns(chunk, number, user_col, item_col, ratings_col)
            rows = len(columns["users"])
            if rows == 0:
                continue
            for name, values in columns.items():
                datasets[name].resize((num_rows + rows,))
                datasets[name][num_rows:] = values
            num_rows += rows
            max_user = max(max_user, int(columns["users"].max()))
            max_item = max(max_item, int(columns["items"].max()))
        f.attrs["num_users"] = max_user + 1
        f.attrs["num_items"] = max_item + 1
        f.attrs["num_interactions"] = num_rows
    return path


def _chunk_columns(chunk: Any, number: int, user_col: str, item_col: str, ratings_col: str | None) -> dict:
    if not isinstance(chunk, pd.DataFrame):
        raise TypeError(f"frames must yield DataFrames, chunk {number} is a {type(chunk).__name__}")
    for column in (user_col, item_col, ratings_col):
        if column is not None and column not in chunk.columns:
            raise ValueError(f"column {column!r} not found in chunk {number} (columns: {list(chunk.columns)})")
    columns = {"users": as_id_array(user_col, chunk[user_col]), "items": as_id_array(item_col, chunk[item_col])}
    if ratings_col is not None:
        ratings = np.asarray(chunk[ratings_col])
        if ratings.dtype.kind not in "iufb":
            raise TypeError(f"{ratings_col} must be numeric, got dtype {ratings.dtype} in chunk {number}")
        if not np.isfinite(ratings.astype(np.float64)).all():
            raise ValueError(f"{ratings_col} contains NaN or infinite values in chunk {number}")
        columns["ratings"] = ratings.astype(np.float32)
    return columns


class HDF5Interactions:
    """Interactions stored in an HDF5 file by :func:`write_hdf5`, read on demand.

    Construction reads the ids once, block by block, and checks them as
    :class:`coursekit.interactions.Interactions` does, with the same errors and messages:
    non-negative whole numbers within ``num_users`` / ``num_items``, and (unless
    ``allow_missing_ids``) no id of ``0..size-1`` that never occurs, such as a phantom
    user 0 when a file's ids start at 1. After that, rows come from :meth:`read` (or
    indexing), so the data may be far larger than memory. The file stays open per
    process and is reopened after pickling or forking (DataLoader workers, DDP).

    Negatives are approximate (uniform over all items): exact negatives need all
    of a user's positives in memory. Use :class:`coursekit.interactions.Interactions`
    when the data fits.

    Parameters
    ----------
    hdf5_path
        File written by :func:`write_hdf5` (or by another program, with the same layout).
    num_negative_samples
        Negatives per interaction.
    num_users, num_items
        Size of the id spaces; default: the file's ``num_users`` / ``num_items`` attributes
        (the largest id + 1 for files from :func:`write_hdf5`).
    seed
        Seeds the generator used by ``__getitem__`` for negatives.
    allow_missing_ids
        Allow ids in ``0..size-1`` that never occur, as for ``Interactions``; sizes taken from
        the file are then bounded as ``Interactions`` bounds the sizes it infers.

    Raises
    ------
    ValueError, TypeError
        The file's ids fail a check (the message is the one ``Interactions`` gives for them).
    CorruptDataError
        The file's HDF5 structure or a chunk checksum is damaged.
    """

    def __init__(
        self,
        hdf5_path: str | os.PathLike,
        num_negative_samples: int = 10,
        num_users: int | None = None,
        num_items: int | None = None,
        seed: int | None = None,
        allow_missing_ids: bool = False,
    ) -> None:
        self.hdf5_path = Path(hdf5_path)
        if not self.hdf5_path.is_file():
            raise FileNotFoundError(f"hdf5_path {str(self.hdf5_path)!r} does not exist")
        if not h5py.is_hdf5(self.hdf5_path):
            raise ValueError(f"hdf5_path {str(self.hdf5_path)!r} is not an HDF5 file; write one with write_hdf5")
        with self._damage_reported(), h5py.File(self.hdf5_path, "r") as f:
            for name in ("users", "items"):
                if name not in f or not isinstance(f[name], h5py.Dataset) or f[name].ndim != 1:
                    raise ValueError(
                        f"hdf5_path {str(self.hdf5_path)!r} has no {name!r} dataset (1-D); write it with write_hdf5"
                    )
            if len(f["users"]) != len(f["items"]):
                raise ValueError(f"hdf5_path {str(self.hdf5_path)!r}: users and items differ in length")
            if "num_users" not in f.attrs or "num_items" not in f.attrs:
                raise ValueError(f"hdf5_path {str(self.hdf5_path)!r} lacks num_users/num_items attributes")
            self.num_interactions = int(len(f["users"]))
            if self.num_interactions == 0:
                raise ValueError(f"hdf5_path {str(self.hdf5_path)!r} holds no interactions")
            stored = {name: self._stored_size(f, name) for name in ("num_users", "num_items")}
            # The order of Interactions' checks, so the same data fails with the same message.
            largest_user, largest_item = _largest_id(f["users"], "users"), _largest_id(f["items"], "items")
        self.num_users = id_space_size("num_users", _given(num_users, stored["num_users"]), largest_user, "users")
        self.num_items = id_space_size("num_items", _given(num_items, stored["num_items"]), largest_item, "items")
        if allow_missing_ids:  # the file's sizes play the part of Interactions' inferred ones
            if num_users is None:
                check_sparse_id_space("users", self.num_users, self.num_interactions)
            if num_items is None:
                check_sparse_id_space("items", self.num_items, self.num_interactions)
        else:
            self._check_no_missing_ids()
        self.num_negative_samples = check_int("num_negative_samples", num_negative_samples, minimum=1)
        if self.num_negative_samples >= self.num_items:
            raise ValueError(
                f"num_negative_samples must be smaller than num_items ({self.num_items}), "
                f"got {self.num_negative_samples}"
            )
        self.seed = default_seed(seed)
        self._rng = np.random.default_rng(self.seed)
        self._file: h5py.File | None = None
        self._pid: int | None = None

    def _stored_size(self, f: h5py.File, name: str) -> int:
        value = f.attrs[name]
        if isinstance(value, np.ndarray) and value.shape == ():
            value = value[()]
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(
                f"hdf5_path {str(self.hdf5_path)!r}: attribute {name} must be a positive integer, got "
                f"{value.item() if isinstance(value, np.generic) else value!r}; write the file with write_hdf5"
            )
        return int(value)

    def _check_no_missing_ids(self) -> None:
        """Every id of ``0..size-1`` occurs, read block by block (the check of ``Interactions``)."""
        with self._damage_reported(), h5py.File(self.hdf5_path, "r") as f:
            for name, size in (("users", self.num_users), ("items", self.num_items)):
                column = f[name]
                if size <= self.num_interactions:  # one flag per id, as Interactions does
                    present = np.zeros(size, dtype=bool)
                    for start in range(0, self.num_interactions, _CHECK_BLOCK):
                        present[column[start : start + _CHECK_BLOCK].astype(np.int64)] = True
                    check_present(name, present)
                else:  # more ids than rows: some are missing; name them without `size` flags
                    distinct = np.unique(np.concatenate(
                        [np.unique(column[start : start + _CHECK_BLOCK].astype(np.int64))
                         for start in range(0, self.num_interactions, _CHECK_BLOCK)]
                    ))  # fmt: skip
                    check_distinct(name, distinct, size)

    @contextlib.contextmanager
    def _damage_reported(self) -> Iterator[None]:
        """Turn HDF5's read errors (a failed chunk checksum, broken structure) into CorruptDataError."""
        try:
            yield
        except OSError as error:
            raise CorruptDataError(
                f"hdf5_path {str(self.hdf5_path)!r} is damaged ({error}); write it again with write_hdf5"
            ) from error

    def _handle(self) -> h5py.File:
        # An h5py handle must not cross a fork or a pickle: open one per process, lazily.
        if self._file is None or self._pid != os.getpid() or not self._file.id.valid:
            self._file = h5py.File(self.hdf5_path, "r")
            self._pid = os.getpid()
        return self._file

    def read(self, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        """Users and items (int64 numpy arrays) of rows ``start`` to ``stop`` (exclusive) of the file."""
        start = check_int("start", start, minimum=0, maximum=self.num_interactions)
        stop = check_int("stop", stop, minimum=start, maximum=self.num_interactions)
        with self._damage_reported():
            f = self._handle()
            users, items = f["users"][start:stop], f["items"][start:stop]
        return users.astype(np.int64, copy=False), items.astype(np.int64, copy=False)

    def __len__(self) -> int:
        return self.num_interactions

    def head(self, n: int = 5) -> pd.DataFrame:
        """The first ``n`` interactions of the file as a DataFrame (``user_id``, ``item_id``), as in Collie."""
        n = check_int("n", n, minimum=0)
        users, items = self.read(0, min(n, self.num_interactions))
        return pd.DataFrame({"user_id": users, "item_id": items})

    def tail(self, n: int = 5) -> pd.DataFrame:
        """The last ``n`` interactions of the file as a DataFrame, indexed by their row in the file."""
        n = check_int("n", n, minimum=0)
        start = max(0, self.num_interactions - n)
        users, items = self.read(start, self.num_interactions)
        return pd.DataFrame({"user_id": users, "item_id": items}, index=pd.RangeIndex(start, self.num_interactions))

    def __getitem__(self, index: int | slice):
        """``((user, item), approximate_negatives)`` for one index or a contiguous slice."""
        if isinstance(index, slice):
            start, stop, step = index.indices(len(self))
            if step != 1:
                raise IndexError("HDF5Interactions supports contiguous slices only (step 1)")
            users, items = self.read(start, max(start, stop))
        elif isinstance(index, (int, np.integer)) and not isinstance(index, bool):
            position = int(index) + len(self) if index < 0 else int(index)
            if not 0 <= position < len(self):
                raise IndexError(f"index out of range for {len(self)} interactions: {index!r}")
            users, items = self.read(position, position + 1)
        else:
            raise TypeError(f"index must be an int or a slice, got {type(index).__name__}")
        negatives = sample_approximate(self._rng, self.num_items, len(users), self.num_negative_samples)
        users_t, items_t, negatives_t = map(torch.from_numpy, (users, items, negatives))
        if not isinstance(index, slice):
            return (users_t[0], items_t[0]), negatives_t[0]
        return (users_t, items_t), negatives_t

    def close(self) -> None:
        """Close this process's file handle (reopened on the next read)."""
        if self._file is not None and self._pid == os.getpid():
            self._file.close()
        self._file = None

    def __enter__(self) -> "HDF5Interactions":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_file"] = None
        state["_pid"] = None
        return state

    def __repr__(self) -> str:
        return (
            f"HDF5Interactions object with {self.num_interactions} interactions between "
            f"{self.num_users} users and {self.num_items} items, "
            f"returning {self.num_negative_samples} approximate negative samples per interaction "
            f"(file {str(self.hdf5_path)!r})."
        )


def _largest_id(column: h5py.Dataset, name: str) -> int:
    """Check one id column block by block with ``as_id_array`` (as ``Interactions`` does); return its largest id."""
    largest = -1
    for start in range(0, len(column), _CHECK_BLOCK):
        ids = as_id_array(name, column[start : start + _CHECK_BLOCK], offset=start)
        largest = max(largest, int(ids.max()))
    return largest


def _given(value: int | None, stored: int) -> int:
    return stored if value is None else value


class HDF5InteractionsDataLoader(BatchLoader):
    """Batches ``((users, positive_items), negative_items)`` read block by block from an HDF5 file.

    Rows are read in contiguous blocks of ``batches_per_block * batch_size`` rows.
    With ``shuffle=True`` each epoch visits the blocks in a random order and
    shuffles the rows *within* each block: a block shuffle, not a full shuffle,
    so rows far apart in the file never share a batch in the same epoch. If the
    file is ordered (e.g. by user or time), shuffle it once when writing.

    Negatives are approximate (uniform over all items). Seeding and sharding
    follow :mod:`coursekit.loaders`: epoch ``e`` draws from
    ``numpy.random.default_rng([seed, e, ...])``, Lightning sets the epoch via
    ``loader.sampler.set_epoch``, and under ``torch.distributed`` each rank reads
    its own contiguous ``1 / world_size`` of the epoch's row order (wrapped
    around so every rank gets the same number of batches).

    Parameters
    ----------
    hdf5_interactions
        The :class:`HDF5Interactions` to iterate over.
    batch_size
        Interactions per batch.
    shuffle
        Block shuffle every epoch (see above).
    drop_last
        Drop the last, smaller batch.
    seed
        Seed for order and negatives (default: drawn from torch's global RNG).
    batches_per_block
        Batches per read; larger blocks mean fewer reads and a better shuffle, more memory.
    """

    def __init__(
        self,
        hdf5_interactions: HDF5Interactions,
        batch_size: int = 1024,
        shuffle: bool = False,
        *,
        drop_last: bool = False,
        seed: int | None = None,
        batches_per_block: int = 64,
    ) -> None:
        if not isinstance(hdf5_interactions, HDF5Interactions):
            raise TypeError(f"hdf5_interactions must be HDF5Interactions, got {type(hdf5_interactions).__name__}")
        super().__init__(batch_size, shuffle, drop_last, seed)
        self.interactions = hdf5_interactions
        self.block_size = self.batch_size * check_int("batches_per_block", batches_per_block, minimum=1)

    def _segments(self, epoch: int, rank: int, world: int) -> list[tuple[int, int]]:
        """File row ranges ``(start, stop)`` this rank reads in ``epoch``, in order."""
        n = len(self.interactions)
        starts = np.arange(0, n, self.block_size, dtype=np.int64)
        if self.shuffle:  # same permutation on every rank, so the ranks' spans partition it
            starts = np.random.default_rng([self.seed, epoch]).permutation(starts)
        lengths = np.minimum(starts + self.block_size, n) - starts
        offsets = np.concatenate([[0], np.cumsum(lengths)])  # position of each block in the epoch's order
        per_rank = math.ceil(n / world)
        low, high = rank * per_rank, (rank + 1) * per_rank
        segments = []
        while low < high:  # past the end: wrap around (only when n is not divisible by world)
            position = low % n
            block = int(np.searchsorted(offsets, position, side="right")) - 1
            take = min(int(offsets[block + 1]) - position, high - low)
            begin = int(starts[block]) + position - int(offsets[block])
            segments.append((begin, begin + take))
            low += take
        return segments

    def __iter__(self) -> Iterator[Batch]:
        epoch, rank, world = self._next_epoch()
        rng = np.random.default_rng([self.seed, epoch, rank, 1])
        users_left = items_left = np.empty(0, dtype=np.int64)
        for start, stop in self._segments(epoch, rank, world):
            users, items = self.interactions.read(start, stop)
            if self.shuffle:
                order = rng.permutation(len(users))
                users, items = users[order], items[order]
            # Carry a partial batch into the next block, so only the epoch's last batch is short.
            users, items = np.concatenate([users_left, users]), np.concatenate([items_left, items])
            full = len(users) - len(users) % self.batch_size
            for begin in range(0, full, self.batch_size):
                yield self._batch(rng, users[begin : begin + self.batch_size], items[begin : begin + self.batch_size])
            users_left, items_left = users[full:], items[full:]
        if len(users_left) and not self.drop_last:
            yield self._batch(rng, users_left, items_left)

    def _batch(self, rng: np.random.Generator, users: np.ndarray, items: np.ndarray) -> Batch:
        negatives = sample_approximate(rng, self.interactions.num_items, len(users), self.num_negative_samples)
        return (torch.from_numpy(users), torch.from_numpy(items)), torch.from_numpy(negatives)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({len(self.interactions)} interactions, batch_size={self.batch_size}, "
            f"shuffle={self.shuffle} (block shuffle), {self.num_negative_samples} approximate negatives each)"
        )
