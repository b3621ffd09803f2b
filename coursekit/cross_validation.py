"""Train / validation / test splits of ``Interactions``.

All three splits return ``(train, test)`` or, with ``val_p > 0``,
``(train, validation, test)``; each part keeps the input's ``num_users`` and
``num_items`` (so a model trained on one can score the others), and together
they hold exactly the input interactions.

* :func:`random_split` shuffles all interactions: simple, but a user may end up
  with no training data.
* :func:`stratified_split` holds out ``ceil(p * n_u)`` of *each* user's
  interactions, so every user is in train and in every held-out part.
* :func:`temporal_split` holds out each user's most recent interactions: the
  honest setting when the model will predict the future.

``seed`` decides the split only (``None``: one draw from torch's global RNG); the parts carry no
seed, since ``Interactions`` holds no random state: the loaders draw the negatives.

:class:`coursekit.explicit.ExplicitInteractions` split the same way; each part keeps its ratings
(aligned with its users and items) and rating range.
"""

from __future__ import annotations

import numpy as np

from coursekit._checks import check_fraction, default_seed
from coursekit._sorting import lexsort_order
from coursekit.explicit import ExplicitInteractions
from coursekit.interactions import Interactions


def random_split(
    interactions: Interactions, val_p: float = 0.0, test_p: float = 0.2, seed: int | None = None
) -> tuple[Interactions, ...]:
    """Split interactions uniformly at random.

    ``round(test_p * n)`` interactions go to test and ``round(val_p * n)`` to validation.
    """
    val_p, test_p = _check_parts(interactions, val_p, test_p)
    n = interactions.num_interactions
    order = np.random.default_rng(default_seed(seed)).permutation(n)
    n_test, n_val = round(test_p * n), round(val_p * n)
    part = np.zeros(n, dtype=np.int8)  # 0 train, 1 validation, 2 test
    part[order[:n_test]] = 2
    part[order[n_test : n_test + n_val]] = 1
    return _parts(interactions, part, val_p > 0)


def stratified_split(
    interactions: Interactions,
    val_p: float = 0.0,
    test_p: float = 0.2,
    seed: int | None = None,
    force_split: bool = False,
) -> tuple[Interactions, ...]:
    """Hold out ``ceil(p * n_u)`` random interactions of each user ``u`` per held-out part.

    Every user keeps at least one training interaction; a user with too few
    interactions for that raises ``ValueError`` unless ``force_split=True``, in
    which case such users keep all their interactions in train.
    """
    val_p, test_p = _check_parts(interactions, val_p, test_p)
    users = interactions.users
    # Rank each interaction within its user by a random key: one sort, no per-user loop.
    random_key = np.random.default_rng(default_seed(seed)).random(len(users))
    return _split_by_rank(interactions, lexsort_order(users, random_key), val_p, test_p, force_split)


def temporal_split(
    interactions: Interactions,
    val_p: float = 0.0,
    test_p: float = 0.2,
    seed: int | None = None,
    force_split: bool = False,
) -> tuple[Interactions, ...]:
    """Hold out each user's ``ceil(p * n_u)`` most recent interactions (test the latest, validation before).

    Needs ``Interactions(..., timestamps=...)``. Ties in time are broken by item id, so the split
    is deterministic: ``seed`` is accepted for Collie compatibility and unused (the parts hold no
    random state either: ``Interactions`` is data).
    """
    val_p, test_p = _check_parts(interactions, val_p, test_p)  # first: it checks the type
    if seed is not None:
        default_seed(seed)  # unused, but a bad seed is a bug in the caller all the same
    if interactions.timestamps is None:
        raise ValueError("temporal_split needs timestamps: build Interactions(..., timestamps=df['timestamp'])")
    # Oldest first within a user, so the newest sit at the end of each user's run.
    order = lexsort_order(interactions.users, interactions.timestamps, interactions.items)
    return _split_by_rank(interactions, order[::-1], val_p, test_p, force_split)


def _split_by_rank(interactions, order, val_p, test_p, force_split) -> tuple[Interactions, ...]:
    """Assign test to the first ``ceil(test_p n_u)`` of each user's run in ``order``, then validation."""
    users = interactions.users[order]
    counts = np.bincount(interactions.users, minlength=interactions.num_users)
    # ``order`` keeps each user's interactions together, but users may come in any order.
    run_start = np.ones(len(users), dtype=bool)
    run_start[1:] = users[1:] != users[:-1]
    starts = np.flatnonzero(run_start)
    rank = np.arange(len(users)) - np.repeat(starts, np.diff(np.append(starts, len(users))))

    n_test = np.ceil(test_p * counts - 1e-9).astype(np.int64)
    n_val = np.ceil(val_p * counts - 1e-9).astype(np.int64)
    too_few = (counts > 0) & (counts <= n_test + n_val)
    if too_few.any():
        if not force_split:
            user = int(np.flatnonzero(too_few)[0])
            raise ValueError(
                f"{int(too_few.sum())} users have too few interactions to split (e.g. user {user} has "
                f"{int(counts[user])}); filter them out with remove_users_with_fewer_than_n_interactions, "
                "or pass force_split=True to keep them entirely in train"
            )
        n_test[too_few] = 0
        n_val[too_few] = 0

    part_sorted = np.zeros(len(users), dtype=np.int8)
    part_sorted[rank < n_test[users] + n_val[users]] = 1
    part_sorted[rank < n_test[users]] = 2
    part = np.empty_like(part_sorted)
    part[order] = part_sorted
    return _parts(interactions, part, val_p > 0)


def _check_parts(interactions: Interactions, val_p: float, test_p: float) -> tuple[float, float]:
    if not isinstance(interactions, (Interactions, ExplicitInteractions)):
        raise TypeError(
            f"interactions must be coursekit Interactions, got {type(interactions).__name__}; build Interactions "
            "(or ExplicitInteractions, for ratings) from its columns"
        )
    test_p = check_fraction("test_p", test_p)
    val_p = check_fraction("val_p", val_p, allow_zero=True)
    if val_p + test_p >= 1:
        raise ValueError(f"val_p + test_p must be < 1 to leave training data, got {val_p} + {test_p}")
    return val_p, test_p


def _parts(interactions: Interactions, part: np.ndarray, with_val: bool) -> tuple:
    users, items = interactions.users, interactions.items
    ratings, timestamps = interactions.mat.data, interactions.timestamps
    wanted = (0, 1, 2) if with_val else (0, 2)
    result = []
    for which in wanted:
        keep = part == which
        if not keep.any():
            raise ValueError(f"the split left the {('train', 'validation', 'test')[which]} part empty")
        if isinstance(interactions, ExplicitInteractions):  # the same ratings, checks and scale
            result.append(interactions._subset(keep))
            continue
        result.append(
            Interactions(
                users=users[keep],
                items=items[keep],
                ratings=ratings[keep],
                timestamps=None if timestamps is None else timestamps[keep],
                num_users=interactions.num_users,
                num_items=interactions.num_items,
                num_negative_samples=interactions.num_negative_samples,
                allow_missing_ids=True,
                remove_duplicate_user_item_pairs=False,
            )
        )
    return tuple(result)
