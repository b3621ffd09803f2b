"""``Interactions``: who interacted with what, as a scipy sparse matrix that PyTorch can train on."""

from __future__ import annotations

import warnings
from typing import Any, Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch
from torch.utils.data import Dataset

from coursekit._checks import as_id_array, check_int, check_sparse_id_space, default_seed
from coursekit._checks import check_no_missing_ids as _check_no_missing_ids
from coursekit._checks import id_space_size as _size
from coursekit._sorting import lexsort_order
from coursekit.loaders import (  # noqa: F401  (re-exported: lessons import loaders from here)
    ApproximateNegativeSamplingInteractionsDataLoader,
    InteractionsDataLoader,
)
from coursekit.sampling import sample_exact, unseen_rank_index

ArrayLike = Any  # list, numpy array, pandas Series or torch tensor


class Interactions(Dataset):
    """Implicit-feedback interactions between users and items, stored as a CSR matrix.

    Each item of the dataset is one interaction with freshly sampled *exact*
    negatives: ``((user, positive_item), negative_items)``.

    ``Interactions`` is data: it holds no random state (as Spotlight's). Training draws its
    negatives in the loaders (:class:`InteractionsDataLoader`, seeded per epoch). Indexing
    (``x[i]``, Collie's Dataset API) draws fresh negatives from a generator seeded by one draw
    of torch's global RNG, so ``torch.manual_seed`` makes it repeatable.

    Parameters
    ----------
    users, items
        Integer ids of equal length, one pair per interaction. Ids index rows and
        columns directly; map raw ids with :class:`coursekit.utils.IdEncoder`.
    ratings
        Optional weight per interaction (default 1). Kept in the matrix, unused by sampling.
        Rows rated zero or below are not interactions: they are dropped (silently, after the
        id checks, so their users and items still count in ``num_users`` / ``num_items``),
        and ``len``, sampling and ``mat`` all see only the rest.
    mat
        Alternatively, a scipy sparse ``num_users x num_items`` matrix of interactions
        (explicitly stored zeros are dropped like zero ratings).
    num_negative_samples
        Negatives returned per interaction.
    allow_missing_ids
        Allow ids in ``0..max`` that never occur (otherwise an error, since a gap
        usually means the ids were not encoded). Even then an id space inferred from the
        ids (``num_users`` / ``num_items`` not given) may hold at most
        ``max(1_000_000, 100 x interactions)`` ids, so a raw id such as ``2e8`` fails fast
        instead of allocating gigabytes.
    remove_duplicate_user_item_pairs
        Keep one row of a repeated (user, item) pair: the one with the highest rating, the
        first of equals (its timestamp too), as :func:`coursekit.utils.convert_to_implicit` does.
    num_users, num_items
        Size of the matrix; default ``max id + 1``.
    seed
        Deprecated and ignored: ``Interactions`` has no generator any more. Seed the loaders
        (``InteractionsDataLoader(x, seed=...)``), or ``torch.manual_seed`` for ``x[i]``.
    timestamps
        Optional time of each interaction, used by :func:`coursekit.cross_validation.temporal_split`.
    """

    def __init__(
        self,
        users: ArrayLike | None = None,
        items: ArrayLike | None = None,
        ratings: ArrayLike | None = None,
        mat: sp.spmatrix | None = None,
        num_negative_samples: int = 10,
        allow_missing_ids: bool = False,
        remove_duplicate_user_item_pairs: bool = True,
        num_users: int | None = None,
        num_items: int | None = None,
        seed: int | None = None,
        timestamps: ArrayLike | None = None,
    ) -> None:
        if mat is not None:
            if users is not None or items is not None:
                raise ValueError("pass either mat or users/items, not both")
            if not sp.issparse(mat):
                raise TypeError(f"mat must be a scipy sparse matrix, got {type(mat).__name__}")
            coo = sp.coo_matrix(mat)
            users, items, ratings = coo.row, coo.col, coo.data
            num_users = coo.shape[0] if num_users is None else num_users
            num_items = coo.shape[1] if num_items is None else num_items
        elif users is None or items is None:
            raise ValueError("Interactions needs users and items (or mat)")

        users = as_id_array("users", users)
        items = as_id_array("items", items)
        if len(users) != len(items):
            raise ValueError(f"users and items differ in length: {len(users)} != {len(items)}")
        if len(users) == 0:
            raise ValueError("Interactions needs at least one interaction, got empty users and items")
        ratings = _as_values("ratings", ratings, len(users), default=1.0, dtype=np.float32)
        timestamps = _as_values("timestamps", timestamps, len(users), default=None, dtype=np.int64)

        self.num_users = _size("num_users", num_users, users, "users")
        self.num_items = _size("num_items", num_items, items, "items")
        if not allow_missing_ids:
            _check_no_missing_ids("users", users, self.num_users)
            _check_no_missing_ids("items", items, self.num_items)
        else:  # an id space inferred from the ids (not given) must stay near the data's size
            if num_users is None:
                check_sparse_id_space("users", self.num_users, len(users))
            if num_items is None:
                check_sparse_id_space("items", self.num_items, len(items))
        users, items, ratings, timestamps = _drop_non_positive(users, items, ratings, timestamps)

        # Sort by (user, item) so the CSR is canonical and the sampling keys are sorted; file order
        # among duplicates is kept. One sort of a combined key: np.lexsort took 1.4 s of a 2 s build at 5M.
        order = lexsort_order(users, items)
        users, items, ratings = users[order], items[order], ratings[order]
        timestamps = None if timestamps is None else timestamps[order]
        if remove_duplicate_user_item_pairs:
            users, items, ratings, timestamps = _drop_duplicates(users, items, ratings, timestamps)

        indptr = np.zeros(self.num_users + 1, dtype=np.int64)
        np.cumsum(np.bincount(users, minlength=self.num_users), out=indptr[1:])
        self.mat = sp.csr_matrix((ratings, items, indptr), shape=(self.num_users, self.num_items))
        self.timestamps = timestamps
        self.num_negative_samples = check_int("num_negative_samples", num_negative_samples, minimum=1)
        if self.num_negative_samples >= self.num_items:
            raise ValueError(
                f"num_negative_samples must be smaller than num_items ({self.num_items}), "
                f"got {self.num_negative_samples}"
            )
        _check_every_user_has_a_negative(self.mat)
        if seed is not None:
            seed = default_seed(seed)  # unused, but a bad seed is a bug in the caller all the same
            warnings.warn(
                "Interactions(seed=...) is deprecated and ignored: Interactions holds no random state. "
                "Seed the loader instead (InteractionsDataLoader(interactions, seed=...)), or call "
                "torch.manual_seed before indexing",
                DeprecationWarning,
                stacklevel=2,
            )
        self.seed = seed  # deprecated: kept for code that reads it, used by nothing
        self._sampling_index: tuple[np.ndarray, np.ndarray] | None = None

    # -- the dataset -------------------------------------------------------------------------

    @property
    def num_interactions(self) -> int:
        """Number of stored (user, item) interactions."""
        return self.mat.nnz

    @property
    def users(self) -> np.ndarray:
        """User id of each interaction, in CSR (user, item) order."""
        return np.repeat(np.arange(self.num_users, dtype=np.int64), np.diff(self.mat.indptr))

    @property
    def items(self) -> np.ndarray:
        """Item id of each interaction, in CSR (user, item) order."""
        return self.mat.indices.astype(np.int64, copy=False)

    @property
    def sampling_index(self) -> tuple[np.ndarray, np.ndarray]:
        """What exact negative sampling needs (see :func:`coursekit.sampling.unseen_rank_index`), built once."""
        if self._sampling_index is None:
            self._sampling_index = unseen_rank_index(self.mat)
        return self._sampling_index

    def __len__(self) -> int:
        return self.num_interactions

    def __getitem__(self, index: int | slice | Sequence[int] | np.ndarray):
        """``((user, positive_item), negative_items)`` for one index or a batch of indices."""
        single = np.ndim(index) == 0 and not isinstance(index, slice)
        positions = np.arange(len(self))[index] if isinstance(index, slice) else np.atleast_1d(index)
        if positions.size and positions.dtype.kind not in "iu":  # a float or string index: wrong row or crash
            raise TypeError(f"index must be an integer, a slice or integer positions, got {index!r}")
        if len(positions) and (positions.min() < -len(self) or positions.max() >= len(self)):
            raise IndexError(f"index out of range for {len(self)} interactions: {index!r}")
        positions = np.asarray(positions, dtype=np.int64) % len(self)
        users = np.searchsorted(self.mat.indptr, positions, side="right") - 1
        items = self.mat.indices[positions].astype(np.int64)
        rng = np.random.default_rng(default_seed(None))  # one draw of torch's global RNG per call
        negatives = sample_exact(rng, self.sampling_index, self.num_items, users, self.num_negative_samples)
        users_t, items_t, negatives_t = map(torch.from_numpy, (users, items, negatives))
        if single:
            return (users_t[0], items_t[0]), negatives_t[0]
        return (users_t, items_t), negatives_t

    # -- views -------------------------------------------------------------------------------

    def tocsr(self) -> sp.csr_matrix:
        """The ``num_users x num_items`` CSR matrix (shared, not copied)."""
        return self.mat

    def tocoo(self) -> sp.coo_matrix:
        """The interactions as a COO matrix (a copy)."""
        return self.mat.tocoo()

    def head(self, n: int = 5) -> pd.DataFrame:
        """The first ``n`` interactions (in (user, item) order) as a DataFrame."""
        n = check_int("n", n, minimum=0)
        return self._frame(0, min(n, self.num_interactions))

    def tail(self, n: int = 5) -> pd.DataFrame:
        """The last ``n`` interactions as a DataFrame, indexed by their position, as in Collie."""
        n = check_int("n", n, minimum=0)
        return self._frame(max(0, self.num_interactions - n), self.num_interactions)

    def _frame(self, start: int, stop: int) -> pd.DataFrame:
        frame = pd.DataFrame(
            {"user_id": self.users[start:stop], "item_id": self.items[start:stop], "rating": self.mat.data[start:stop]},
            index=pd.RangeIndex(start, stop),
        )
        if self.timestamps is not None:
            frame["timestamp"] = self.timestamps[start:stop]
        return frame

    def __repr__(self) -> str:
        return (
            f"Interactions object with {self.num_interactions} interactions between "
            f"{self.num_users} users and {self.num_items} items, "
            f"returning {self.num_negative_samples} negative samples per interaction."
        )

    def __getstate__(self) -> dict:
        # The sampling index is a cache: rebuilt on demand, not worth pickling.
        state = self.__dict__.copy()
        state["_sampling_index"] = None
        return state

    def __setstate__(self, state: dict) -> None:
        # Objects pickled by earlier versions carry a generator; data needs none.
        state = {key: value for key, value in state.items() if key != "_rng"}
        state.setdefault("seed", None)
        self.__dict__.update(state)


# -- construction helpers ------------------------------------------------------------------------


def _as_values(name: str, values: ArrayLike | None, length: int, default, dtype) -> np.ndarray | None:
    if values is None:
        return None if default is None else np.full(length, default, dtype=dtype)
    if hasattr(values, "detach"):
        values = values.detach().cpu().numpy()
    if isinstance(values, pd.Series) and pd.api.types.is_datetime64_any_dtype(values):
        values = values.astype("int64")
    array = np.asarray(values)
    if array.shape != (length,):
        raise ValueError(f"{name} must have one value per interaction ({length}), got shape {array.shape}")
    if array.dtype.kind not in "iufb":
        raise TypeError(f"{name} must be numeric, got dtype {array.dtype}")
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return array.astype(dtype, copy=False)


def _drop_non_positive(users, items, ratings, timestamps):
    """Drop the rows rated zero or below: they are not interactions (see ``ratings``)."""
    keep = ratings > 0
    if keep.all():
        return users, items, ratings, timestamps
    if not keep.any():
        raise ValueError(
            f"Interactions needs at least one positive rating: all {len(ratings)} ratings are zero or "
            "negative, and such rows are not interactions"
        )
    return users[keep], items[keep], ratings[keep], None if timestamps is None else timestamps[keep]


def _drop_duplicates(users, items, ratings, timestamps):
    """Keep one row per (user, item) of data sorted by it: the highest rating, the first of equals.

    The whole row is kept (rating and timestamp together), never a mix of several rows.
    """
    starts = np.ones(len(users), dtype=bool)
    starts[1:] = (users[1:] != users[:-1]) | (items[1:] != items[:-1])
    duplicates = len(users) - int(starts.sum())
    if duplicates == 0:
        return users, items, ratings, timestamps
    group = np.cumsum(starts) - 1
    # Stable: within a pair, best rating first, and rows of equal rating stay in input order.
    order = np.lexsort((-ratings.astype(np.float64), group))
    best = order[starts]  # `order` keeps the groups in place, so each group's first slot is its best row
    warnings.warn(
        f"Interactions: removed {duplicates} duplicate user-item pairs, keeping the row with the highest "
        "rating (pass remove_duplicate_user_item_pairs=False to keep them)",
        stacklevel=3,
    )
    return users[best], items[best], ratings[best], None if timestamps is None else timestamps[best]


def _check_every_user_has_a_negative(mat: sp.csr_matrix) -> None:
    distinct = np.diff(mat.indptr) if mat.has_canonical_format else _distinct_per_row(mat)
    full = np.flatnonzero(distinct >= mat.shape[1])
    if len(full):
        raise ValueError(
            f"user {int(full[0])} has interacted with all {mat.shape[1]} items, so no negative item "
            "exists for them; drop such users or add items"
        )


def _distinct_per_row(mat: sp.csr_matrix) -> np.ndarray:
    copy = mat.copy()
    copy.sum_duplicates()
    return np.diff(copy.indptr)
