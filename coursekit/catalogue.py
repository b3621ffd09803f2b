"""Beyond accuracy: what a recommender shows across the catalogue.

Two models with the same MAP@10 can recommend very different things: one the same blockbusters
to everybody, the other a different corner of the catalogue to each user. The measures here look
at the recommended lists themselves, not at held-out data:

* :func:`recommended_items` -- every user's top-``k`` list, training items left out;
* :func:`catalogue_coverage` -- the share of the catalogue that is recommended to anybody;
* :func:`popular_share` -- the share of recommendations taken from the ``head`` most popular items;
* :func:`mean_popularity_percentile` -- how popular a recommended item is, on average, from 0
  (the least popular item) to 1 (the most popular).

Popularity is the number of training interactions (:func:`coursekit.ranking.item_popularity`).
Every user with at least one training interaction gets one list; a user with fewer than ``k``
unseen items gets a shorter one.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch
from scipy.stats import rankdata

from coursekit._checks import check_int
from coursekit.ranking import item_popularity, top_k_items, top_k_unseen

__all__ = [
    "catalogue_coverage",
    "mean_popularity_percentile",
    "most_popular_items",
    "popular_share",
    "popularity_percentiles",
    "recommended_items",
]


def _training_matrix(model: Any, train_interactions: Any) -> sp.csr_matrix:
    if train_interactions is None:
        raise TypeError("train_interactions is required: the interactions the model was trained on (left out)")
    mat = getattr(getattr(train_interactions, "interactions", train_interactions), "mat", None)
    if mat is None or not sp.issparse(mat):
        raise TypeError(
            f"train_interactions must be in-memory Interactions or a loader over them, got "
            f"{type(train_interactions).__name__}"
        )
    mat = sp.csr_matrix(mat)
    if not (hasattr(model, "score_all_items") and hasattr(model, "num_users") and hasattr(model, "num_items")):
        raise TypeError(f"model must have num_users, num_items and score_all_items, got {type(model).__name__}")
    if (model.num_users, model.num_items) != mat.shape:
        raise ValueError(
            f"model is {model.num_users}x{model.num_items} but train_interactions is {mat.shape[0]}x{mat.shape[1]}"
        )
    return mat


def _top_k_flat(model: Any, mat: sp.csr_matrix, k: int, batch_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(users, user_of_each_entry, items)``: the top-``k`` unseen items of every user with training data."""
    k = check_int("k", k, minimum=1)
    batch_size = check_int("batch_size", batch_size, minimum=1)
    users = np.flatnonzero(np.diff(mat.indptr) > 0)
    owners, items = [], []
    with torch.no_grad():
        for start in range(0, len(users), batch_size):
            batch = users[start : start + batch_size]
            scores = model.score_all_items(torch.as_tensor(batch, dtype=torch.int64)).cpu()
            lists = top_k_unseen(scores, k, seen=mat, users=batch)
            owners.append(np.repeat(batch, [len(top) for top in lists]))
            items.append(np.concatenate(lists) if lists else np.empty(0, dtype=np.int64))
    empty = np.empty(0, dtype=np.int64)
    return (
        users,
        np.concatenate(owners) if owners else empty,
        np.concatenate(items).astype(np.int64) if items else empty,
    )


def recommended_items(model: Any, train_interactions: Any, k: int = 10, batch_size: int = 1024) -> pd.DataFrame:
    """Every user's top-``k`` recommendations, each user's training items left out.

    Ranked with :func:`coursekit.ranking.top_k_unseen` (ties: lower item id first), ``batch_size``
    users scored at a time.

    Returns
    -------
    pandas.DataFrame
        Columns ``user_id``, ``rank`` (1 = best) and ``item_id``, one row per recommendation,
        users ascending; only users with training interactions.
    """
    mat = _training_matrix(model, train_interactions)
    _, owners, items = _top_k_flat(model, mat, k, batch_size)
    starts = np.flatnonzero(np.r_[True, owners[1:] != owners[:-1]]) if len(owners) else np.empty(0, dtype=np.int64)
    rank = np.arange(len(owners)) - np.repeat(starts, np.diff(np.r_[starts, len(owners)])) + 1
    return pd.DataFrame({"user_id": owners, "rank": rank, "item_id": items})


def catalogue_coverage(model: Any, train_interactions: Any, k: int = 10, batch_size: int = 1024) -> float:
    """Share of the catalogue in at least one user's top-``k``: ``|union_u top_k(u)| / num_items``.

    1.0: every item is recommended to somebody; ``PopularityModel`` covers little more than
    ``k / num_items`` (everybody gets the same few items, minus those they have seen).
    """
    mat = _training_matrix(model, train_interactions)
    _, _, items = _top_k_flat(model, mat, k, batch_size)
    return float(len(np.unique(items)) / mat.shape[1])


def most_popular_items(train_interactions: Any, head: int = 100) -> np.ndarray:
    """The ``head`` items with the most training interactions, most popular first (ties: lower id first)."""
    head = check_int("head", head, minimum=1)
    popularity = torch.as_tensor(item_popularity(train_interactions), dtype=torch.float64)
    return top_k_items(popularity[None], head)[0].numpy()


def popular_share(model: Any, train_interactions: Any, k: int = 10, head: int = 100, batch_size: int = 1024) -> float:
    """Share of recommendations among the ``head`` most popular items: ``mean over (u, i in top_k(u)) of [i in head]``.

    1.0 means every list is made of blockbusters only; even ``PopularityModel`` scores below 1.0
    when users have already seen much of the head, since seen items are left out.
    """
    mat = _training_matrix(model, train_interactions)
    popular = most_popular_items(mat, check_int("head", head, minimum=1))
    _, _, items = _top_k_flat(model, mat, k, batch_size)
    if len(items) == 0:
        raise ValueError("no user has an unseen item to recommend, so there is no recommendation to measure")
    return float(np.isin(items, popular).mean())


def popularity_percentiles(train_interactions: Any) -> np.ndarray:
    """Each item's popularity percentile, ``pct(i) = (rank(i) - 1) / (num_items - 1)``, ``[num_items]``.

    ``rank`` is the ascending rank of the item's training interactions, ties sharing their mean
    rank: 0 is the least popular item, 1 the most popular (0.5 for a one-item catalogue).
    """
    popularity = item_popularity(train_interactions)
    if len(popularity) == 1:
        return np.full(1, 0.5)
    return (rankdata(popularity, method="average") - 1.0) / (len(popularity) - 1.0)


def mean_popularity_percentile(model: Any, train_interactions: Any, k: int = 10, batch_size: int = 1024) -> float:
    """Mean popularity percentile of the recommended items: ``mean over (u, i in top_k(u)) of pct(i)``.

    ``pct`` as in :func:`popularity_percentiles` (1 = the most popular item). Near 1: the model
    recommends what everybody has seen; lower: it reaches into the long tail.
    """
    mat = _training_matrix(model, train_interactions)
    _, _, items = _top_k_flat(model, mat, k, batch_size)
    if len(items) == 0:
        raise ValueError("no user has an unseen item to recommend, so there is no recommendation to measure")
    return float(popularity_percentiles(mat)[items].mean())
