"""Explicit feedback: star ratings, the loader that batches them, and rating-prediction metrics.

Implicit data (:class:`coursekit.interactions.Interactions`) says *who interacted with what*;
a model learns to rank an observed item above sampled negatives. Explicit data says *how much*
a user liked an item: a model learns to predict the rating itself, with a regression loss
(mean squared error) on the observed ratings only. No negatives are sampled.

* :class:`ExplicitInteractions` -- (user, item, rating) triples in a CSR matrix of ratings;
  :func:`coursekit.cross_validation.stratified_split` and the other splits keep the ratings.
* :class:`ExplicitInteractionsDataLoader` -- ``(users, items, ratings)`` batches, seeded per epoch.
* :func:`evaluate_explicit` -- RMSE, MAE and MSE of a model's predicted ratings on held-out ratings.

The model is :class:`coursekit.model.ExplicitMatrixFactorizationModel`.
"""

from __future__ import annotations

from typing import Any, Iterator

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch

from coursekit._checks import as_id_array, check_int, check_sparse_id_space
from coursekit._checks import check_no_missing_ids as _check_no_missing_ids
from coursekit._checks import id_space_size as _size
from coursekit._sorting import lexsort_order
from coursekit.loaders import _InteractionsLoader

ArrayLike = Any  # list, numpy array, pandas Series or torch tensor

__all__ = ["ExplicitInteractions", "ExplicitInteractionsDataLoader", "evaluate_explicit"]


class ExplicitInteractions:
    """Explicit ratings: one ``(user, item, rating)`` triple per interaction, stored as a CSR matrix.

    Parameters
    ----------
    users, items
        Integer ids of equal length, one pair per rating (encode raw ids with
        :class:`coursekit.utils.IdEncoder`). A pair may occur only once.
    ratings
        The rating of each pair (any finite number, stored as float32).
    rating_range
        ``(low, high)``: every rating must lie in ``[low, high]`` (e.g. ``(1, 5)`` stars); a rating
        outside it is an error, since it usually means a wrong column. ``None``: no check.
    num_users, num_items
        Size of the matrix; default ``max id + 1``.
    allow_missing_ids
        Allow ids in ``0..max`` that never occur (otherwise an error, as in ``Interactions``).
    timestamps
        Optional time of each rating, for :func:`coursekit.cross_validation.temporal_split`.

    Attributes
    ----------
    mat : scipy.sparse.csr_matrix
        ``num_users x num_items``, the ratings as its values, rows sorted by item.
    """

    def __init__(
        self,
        users: ArrayLike,
        items: ArrayLike,
        ratings: ArrayLike,
        rating_range: tuple[float, float] | None = None,
        num_users: int | None = None,
        num_items: int | None = None,
        allow_missing_ids: bool = False,
        timestamps: ArrayLike | None = None,
    ) -> None:
        users = as_id_array("users", users)
        items = as_id_array("items", items)
        if len(users) != len(items):
            raise ValueError(f"users and items differ in length: {len(users)} != {len(items)}")
        if len(users) == 0:
            raise ValueError("ExplicitInteractions needs at least one rating, got empty users and items")
        ratings = _as_ratings(ratings, len(users))
        self.rating_range = _check_range(rating_range, ratings)
        if timestamps is not None:
            timestamps = _as_column("timestamps", timestamps, len(users))
            if timestamps.dtype.kind not in "iu":
                raise TypeError(f"timestamps must be integers, got dtype {timestamps.dtype}")
            timestamps = timestamps.astype(np.int64, copy=False)

        self.num_users = _size("num_users", num_users, users, "users")
        self.num_items = _size("num_items", num_items, items, "items")
        if not allow_missing_ids:
            _check_no_missing_ids("users", users, self.num_users)
            _check_no_missing_ids("items", items, self.num_items)
        else:
            if num_users is None:
                check_sparse_id_space("users", self.num_users, len(users))
            if num_items is None:
                check_sparse_id_space("items", self.num_items, len(items))

        order = lexsort_order(users, items)  # canonical CSR: by user, then item
        users, items, ratings = users[order], items[order], ratings[order]
        repeated = np.flatnonzero((users[1:] == users[:-1]) & (items[1:] == items[:-1]))
        if len(repeated):
            first = repeated[0]
            raise ValueError(
                f"{len(repeated)} (user, item) pairs are rated more than once (e.g. user {int(users[first])}, "
                f"item {int(items[first])}); keep one rating per pair (e.g. the latest) before building"
            )
        indptr = np.zeros(self.num_users + 1, dtype=np.int64)
        np.cumsum(np.bincount(users, minlength=self.num_users), out=indptr[1:])
        # Built from the arrays, so a rating of 0 stays a stored value (it is a rating, not an absence).
        self.mat = sp.csr_matrix((ratings, items, indptr), shape=(self.num_users, self.num_items))
        self.timestamps = None if timestamps is None else timestamps[order]

    # -- the data ------------------------------------------------------------------------------

    @property
    def num_interactions(self) -> int:
        """Number of stored ratings."""
        return self.mat.nnz

    def __len__(self) -> int:
        return self.num_interactions

    @property
    def users(self) -> np.ndarray:
        """User id of each rating, in CSR (user, item) order."""
        return np.repeat(np.arange(self.num_users, dtype=np.int64), np.diff(self.mat.indptr))

    @property
    def items(self) -> np.ndarray:
        """Item id of each rating, in CSR (user, item) order."""
        return self.mat.indices.astype(np.int64, copy=False)

    @property
    def ratings(self) -> np.ndarray:
        """The ratings, float32, aligned with :attr:`users` and :attr:`items` (the matrix's values, not a copy)."""
        return self.mat.data

    def _subset(self, keep: np.ndarray) -> ExplicitInteractions:
        """The ratings where ``keep`` is true (in :attr:`users` order), same sizes and range: a split's part."""
        return ExplicitInteractions(
            self.users[keep],
            self.items[keep],
            self.ratings[keep],
            rating_range=self.rating_range,
            num_users=self.num_users,
            num_items=self.num_items,
            allow_missing_ids=True,
            timestamps=None if self.timestamps is None else self.timestamps[keep],
        )

    def to_implicit(self, min_rating: float, num_negative_samples: int = 10) -> Any:
        """The ratings of at least ``min_rating`` as implicit :class:`~coursekit.interactions.Interactions`.

        Same ``num_users`` and ``num_items`` (a user left with no such rating is an empty row), so a
        model trained on one part can be ranked on another. Timestamps are kept.
        """
        from coursekit.interactions import Interactions

        keep = self.ratings >= min_rating
        if not keep.any():
            raise ValueError(f"no rating is at least min_rating={min_rating!r}: the implicit data would be empty")
        return Interactions(
            users=self.users[keep],
            items=self.items[keep],
            timestamps=None if self.timestamps is None else self.timestamps[keep],
            num_users=self.num_users,
            num_items=self.num_items,
            num_negative_samples=num_negative_samples,
            allow_missing_ids=True,
            remove_duplicate_user_item_pairs=False,
        )

    def head(self, n: int = 5) -> pd.DataFrame:
        """The first ``n`` ratings (in (user, item) order) as a DataFrame."""
        n = check_int("n", n, minimum=0)
        frame = pd.DataFrame({"user_id": self.users[:n], "item_id": self.items[:n], "rating": self.ratings[:n]})
        if self.timestamps is not None:
            frame["timestamp"] = self.timestamps[:n]
        return frame

    def __repr__(self) -> str:
        scale = "" if self.rating_range is None else f" on a {self.rating_range[0]:g}-{self.rating_range[1]:g} scale"
        return (
            f"ExplicitInteractions object with {self.num_interactions} ratings{scale} between "
            f"{self.num_users} users and {self.num_items} items."
        )


def _as_column(name: str, values: ArrayLike, length: int) -> np.ndarray:
    if hasattr(values, "detach"):
        values = values.detach().cpu().numpy()
    array = np.asarray(values)
    if array.shape != (length,):
        raise ValueError(f"{name} must have one value per interaction ({length}), got shape {array.shape}")
    return array


def _as_ratings(ratings: ArrayLike, length: int) -> np.ndarray:
    if ratings is None:
        raise ValueError("ExplicitInteractions needs ratings (for implicit feedback use Interactions)")
    array = _as_column("ratings", ratings, length)
    if array.dtype.kind not in "iuf":
        raise TypeError(f"ratings must be numbers, got dtype {array.dtype}")
    bad = np.flatnonzero(~np.isfinite(array.astype(np.float64)))
    if len(bad):
        raise ValueError(
            f"ratings contains {len(bad)} NaN or infinite values (the first at position {int(bad[0])}); "
            "drop the unrated rows before building ExplicitInteractions"
        )
    return array.astype(np.float32, copy=False)


def _check_range(rating_range: Any, ratings: np.ndarray) -> tuple[float, float] | None:
    if rating_range is None:
        return None
    try:
        low, high = (float(value) for value in rating_range)
    except (TypeError, ValueError):
        raise TypeError(f"rating_range must be a pair (low, high) of numbers or None, got {rating_range!r}") from None
    if not (np.isfinite(low) and np.isfinite(high) and low < high):
        raise ValueError(f"rating_range must be finite with low < high, got {rating_range!r}")
    outside = np.flatnonzero((ratings < low) | (ratings > high))
    if len(outside):
        first = int(outside[0])
        raise ValueError(
            f"{len(outside)} ratings lie outside rating_range=({low:g}, {high:g}), e.g. {float(ratings[first]):g} "
            f"at position {first}; check the rating column, or pass the scale the data uses"
        )
    return low, high


# -- the loader ----------------------------------------------------------------------------------

ExplicitBatch = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


class ExplicitInteractionsDataLoader(_InteractionsLoader):
    """Batches ``(users, items, ratings)`` of :class:`ExplicitInteractions`: int64, int64, float32, each ``[B]``.

    Same order, seeding and sharding as :class:`coursekit.loaders.InteractionsDataLoader`
    (each epoch's order is drawn from ``[seed, epoch]``), without negatives.

    Parameters
    ----------
    interactions
        The :class:`ExplicitInteractions` to iterate over.
    batch_size
        Ratings per batch.
    shuffle
        Visit the ratings in a new random order every epoch.
    drop_last
        Drop the last, smaller batch.
    seed
        Seed for the order (default: drawn from torch's global RNG).
    """

    exact = True

    def __init__(
        self,
        interactions: ExplicitInteractions,
        batch_size: int = 1024,
        shuffle: bool = False,
        drop_last: bool = False,
        seed: int | None = None,
    ) -> None:
        if not isinstance(interactions, ExplicitInteractions):
            raise TypeError(
                f"interactions must be ExplicitInteractions, got {type(interactions).__name__} "
                "(for implicit Interactions use InteractionsDataLoader)"
            )
        # BatchLoader's settings; _InteractionsLoader's own __init__ checks for negatives these batches lack.
        super(_InteractionsLoader, self).__init__(batch_size, shuffle, drop_last, seed)
        self.interactions = interactions
        self._users, self._items = interactions.users, interactions.items
        self._ratings = interactions.ratings

    @property
    def num_negative_samples(self) -> int:
        return 0  # ratings, not sampled negatives

    def __iter__(self) -> Iterator[ExplicitBatch]:
        epoch, rank, world = self._next_epoch()
        positions = self._positions(epoch, rank, world)
        stop = len(positions) - len(positions) % self.batch_size if self.drop_last else len(positions)
        for start in range(0, stop, self.batch_size):
            batch = positions[start : start + self.batch_size]
            yield (
                torch.from_numpy(self._users[batch]),
                torch.from_numpy(self._items[batch]),
                torch.from_numpy(self._ratings[batch]),
            )

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({len(self.interactions)} ratings, batch_size={self.batch_size}, "
            f"shuffle={self.shuffle})"
        )


# -- evaluation ----------------------------------------------------------------------------------


def evaluate_explicit(test_interactions: ExplicitInteractions, model: Any, batch_size: int = 65536) -> dict[str, float]:
    """RMSE, MAE and MSE of ``model``'s predicted ratings on the held-out ratings.

    ``model(users, items)`` must return predicted ratings of the pairs (as
    :class:`coursekit.model.ExplicitMatrixFactorizationModel` does). The model is put in eval
    mode (no dropout) for the predictions and given back in the mode it was in.

    Returns
    -------
    dict
        ``{"RMSE": ..., "MAE": ..., "MSE": ...}``, floats.
    """
    from coursekit.metrics import mae, rmse

    if not isinstance(test_interactions, ExplicitInteractions):
        raise TypeError(f"test_interactions must be ExplicitInteractions, got {type(test_interactions).__name__}")
    batch_size = check_int("batch_size", batch_size, minimum=1)
    users = torch.from_numpy(test_interactions.users)
    items = torch.from_numpy(test_interactions.items)
    was_training = bool(getattr(model, "training", False))
    if hasattr(model, "eval"):
        model.eval()
    try:
        with torch.no_grad():
            predictions = torch.cat(
                [
                    model(users[start : start + batch_size], items[start : start + batch_size]).reshape(-1).cpu()
                    for start in range(0, len(users), batch_size)
                ]
            )
    finally:
        if was_training:
            model.train()
    ratings = torch.from_numpy(test_interactions.ratings)
    root = float(rmse(predictions, ratings))
    return {"RMSE": root, "MAE": float(mae(predictions, ratings)), "MSE": root**2}
