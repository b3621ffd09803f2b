"""Power-law synthetic interactions: a few very popular items and very active users, a long tail of the rest."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from coursekit._files import atomic_write
from coursekit.interactions import Interactions

SIZES = {
    "5M": dict(num_users=100_000, num_items=50_000, num_interactions=5_000_000),
    "500k": dict(num_users=10_000, num_items=5_000, num_interactions=500_000),
}


def power_law_arrays(
    num_users: int, num_items: int, num_interactions: int, exponent: float = 0.8, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """``(users, items)`` int64 arrays of ``num_interactions`` distinct pairs, Zipf-like ``p(rank) ~ 1 / rank**exponent``.

    Repeated (user, item) pairs are redrawn until exactly ``num_interactions`` distinct pairs exist;
    the pairs come in random order, as rows of a log file would.
    """
    rng = np.random.default_rng(seed)

    def sampler(n: int):
        weights = 1.0 / np.arange(1, n + 1) ** exponent
        cumulative = np.cumsum(weights / weights.sum())
        ids = rng.permutation(n)  # popular ids scattered, not 0, 1, 2, ...
        return lambda size: ids[np.minimum(np.searchsorted(cumulative, rng.random(size)), n - 1)]

    draw_user, draw_item = sampler(num_users), sampler(num_items)
    keys = np.empty(0, dtype=np.int64)
    while len(keys) < num_interactions:
        size = int((num_interactions - len(keys)) * 1.3) + 1000
        keys = np.unique(np.concatenate([keys, draw_user(size).astype(np.int64) * num_items + draw_item(size)]))
    keys = rng.choice(keys, size=num_interactions, replace=False)
    return keys // num_items, keys % num_items


def cached_arrays(size: str, folder: str | os.PathLike, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``power_law_arrays(**SIZES[size], seed=seed)``, generated once and then loaded from ``folder``.

    The file is written atomically, so an interrupted run never leaves a truncated cache behind.
    """
    folder = Path(folder)
    path = folder / f"synthetic-{size}-seed{seed}.npz"
    if path.exists():
        with np.load(path) as data:
            return data["users"].astype(np.int64), data["items"].astype(np.int64)
    users, items = power_law_arrays(**SIZES[size], seed=seed)
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_write(path) as stream:
        np.savez(stream, users=users.astype(np.int32), items=items.astype(np.int32))
    return users, items


def power_law_interactions(
    num_users: int, num_items: int, num_interactions: int, exponent: float = 0.8, seed: int = 0, **kwargs
) -> Interactions:
    """``Interactions`` over :func:`power_law_arrays` (extra keywords go to ``Interactions``)."""
    users, items = power_law_arrays(num_users, num_items, num_interactions, exponent=exponent, seed=seed)
    return Interactions(
        users=users,
        items=items,
        num_users=num_users,
        num_items=num_items,
        allow_missing_ids=True,
        remove_duplicate_user_item_pairs=False,
        seed=seed,
        **kwargs,
    )
