"""Negative sampling, vectorised over a whole batch.

Implicit feedback only tells us what a user *did* interact with. Training needs
items they did not: *negatives*. Two ways to get them:

* **approximate**: draw item ids uniformly at random and accept that a few of
  them are in fact positives. On MovieLens 100K a user has seen ~3 % of the
  catalogue, so about 3 in 100 "negatives" are wrong; on sparser catalogues far
  fewer. It costs one call to the random number generator.
* **exact**: draw, look every (user, item) pair up in the user's positives, and
  redraw only the collisions until none is left.

Both work on whole batches at once: a lookup is one ``np.searchsorted`` over
the sorted keys ``user * num_items + item`` of all positives.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

# Collisions shrink geometrically with each redraw; after this many rounds only
# users who have seen nearly the whole catalogue are left, and for those we draw
# from the explicit complement instead.
_MAX_REDRAWS = 16


def positive_keys(mat: sp.csr_matrix) -> np.ndarray:
    """Sorted int64 keys ``user * num_items + item`` of every stored entry of a canonical CSR matrix."""
    num_items = mat.shape[1]
    rows = np.repeat(np.arange(mat.shape[0], dtype=np.int64), np.diff(mat.indptr))
    return rows * num_items + mat.indices.astype(np.int64)


def is_positive(keys: np.ndarray, num_items: int, users: np.ndarray, items: np.ndarray) -> np.ndarray:
    """Boolean array: is ``items[...]`` a positive of ``users[...]`` (broadcast together)?"""
    query = users.astype(np.int64) * num_items + items
    found = np.searchsorted(keys, query)
    found[found == len(keys)] = 0  # past the end: compare against any key, it cannot match
    return keys[found] == query if len(keys) else np.zeros(query.shape, dtype=bool)


def sample_approximate(rng: np.random.Generator, num_items: int, num_rows: int, num_negatives: int) -> np.ndarray:
    """Uniform random item ids, shape ``(num_rows, num_negatives)``; may include positives."""
    return rng.integers(0, num_items, size=(num_rows, num_negatives), dtype=np.int64)


def sample_exact(
    rng: np.random.Generator,
    mat: sp.csr_matrix,
    keys: np.ndarray,
    users: np.ndarray,
    num_negatives: int,
) -> np.ndarray:
    """Item ids none of which is a positive of its row's user, shape ``(len(users), num_negatives)``.

    Parameters
    ----------
    rng
        The caller's generator; the only source of randomness.
    mat
        Canonical CSR user x item matrix of positives.
    keys
        ``positive_keys(mat)``, computed once by the caller.
    users
        User id of each row.
    num_negatives
        Negatives per row.

    Notes
    -----
    Every user must have at least one item they have not interacted with;
    ``Interactions`` checks that when it is built.
    """
    num_items = mat.shape[1]
    users = np.asarray(users, dtype=np.int64)
    negatives = sample_approximate(rng, num_items, len(users), num_negatives)
    rows, cols = np.nonzero(is_positive(keys, num_items, users[:, None], negatives))
    for _ in range(_MAX_REDRAWS):
        if len(rows) == 0:
            return negatives
        negatives[rows, cols] = rng.integers(0, num_items, size=len(rows), dtype=np.int64)
        still = is_positive(keys, num_items, users[rows], negatives[rows, cols])
        rows, cols = rows[still], cols[still]
    # Only near-saturated users remain: a loop over those few distinct users is cheap.
    for user in np.unique(users[rows]):
        here = users[rows] == user
        seen = mat.indices[mat.indptr[user] : mat.indptr[user + 1]]
        unseen = np.setdiff1d(np.arange(num_items), seen, assume_unique=False)
        negatives[rows[here], cols[here]] = rng.choice(unseen, size=int(here.sum()))
    return negatives
