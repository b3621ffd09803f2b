"""One combined-key sort gives np.lexsort's order (build and splits depend on it)."""

from __future__ import annotations

import numpy as np
import pytest

import coursekit.cross_validation as cv
from coursekit._sorting import lexsort_order
from coursekit.interactions import Interactions


def reference(*columns):
    return np.lexsort(columns[::-1])


@pytest.mark.parametrize("seed", range(5))
def test_same_order_as_lexsort_with_duplicates_floats_and_negatives(seed):
    rng = np.random.default_rng(seed)
    n = 2000
    users, items = rng.integers(0, 30, n), rng.integers(0, 20, n)  # many duplicate pairs: stability matters
    floats = rng.integers(0, 5, n) / 4.0  # ties among floats
    times = rng.integers(-(10**12), 10**12, n)
    for columns in [(users, items), (users, floats), (users, times, items), (items,), (times,)]:
        assert np.array_equal(lexsort_order(*columns), reference(*columns))


def test_empty_and_overflowing_keys():
    assert lexsort_order(np.array([], dtype=np.int64)).tolist() == []
    big = np.array([2**62, 3, 2**62, 0], dtype=np.int64)
    assert np.array_equal(lexsort_order(big, big[::-1].copy()), reference(big, big[::-1]))  # falls back to lexsort


def test_build_and_splits_keep_their_order(monkeypatch):
    rng = np.random.default_rng(0)
    n = 3000
    data = dict(
        users=rng.integers(0, 100, n),
        items=rng.integers(0, 50, n),
        timestamps=rng.integers(0, 40, n),
        num_users=100,
        num_items=50,
        allow_missing_ids=True,
        remove_duplicate_user_item_pairs=False,
    )
    new = Interactions(**data)
    parts_new = [cv.stratified_split(new, val_p=0.1, test_p=0.2, seed=3), cv.temporal_split(new, val_p=0.1, test_p=0.2)]
    monkeypatch.setattr(cv, "lexsort_order", reference)
    parts_old = [cv.stratified_split(new, val_p=0.1, test_p=0.2, seed=3), cv.temporal_split(new, val_p=0.1, test_p=0.2)]
    for split_new, split_old in zip(parts_new, parts_old):
        for a, b in zip(split_new, split_old):
            assert np.array_equal(a.users, b.users) and np.array_equal(a.items, b.items)
            assert np.array_equal(a.timestamps, b.timestamps)
    # The build: by user, then item, and duplicate pairs in file order (their timestamps show it).
    order = reference(data["users"], data["items"])
    for name in ("users", "items", "timestamps"):
        assert np.array_equal(getattr(new, name), data[name][order])
