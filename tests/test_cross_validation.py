"""Splits: they partition the input, stratified keeps every user everywhere, temporal holds out the latest."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coursekit.cross_validation import random_split, stratified_split, temporal_split
from coursekit.interactions import Interactions
from tests.contracts import ROOT_DIR, pairs, synthetic_interactions

SPLITS = [random_split, stratified_split, temporal_split]


def triples(x: Interactions) -> Counter:
    return Counter(zip(x.users.tolist(), x.items.tolist(), x.mat.data.tolist(), x.timestamps.tolist()))


def dataset(**kwargs) -> Interactions:
    # Ratings vary so the test can see they travel with their interaction.
    x = synthetic_interactions(density=0.3, with_timestamps=True, **kwargs)
    x.mat.data = np.arange(1, len(x) + 1, dtype=np.float32)
    return x


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize("val_p", [0.0, 0.15])
def test_splits_partition_the_input(split, val_p):
    x = dataset()
    parts = split(x, val_p=val_p, test_p=0.2, seed=0)
    assert len(parts) == (3 if val_p else 2)
    for part in parts:
        assert (part.num_users, part.num_items) == (x.num_users, x.num_items)
        assert part.num_negative_samples == x.num_negative_samples
        assert len(part) > 0
    assert sum((triples(p) for p in parts), Counter()) == triples(x)
    assert sum(len(p) for p in parts) == len(x)


def test_random_split_sizes():
    x = dataset()
    train, val, test = random_split(x, val_p=0.1, test_p=0.25, seed=1)
    assert len(test) == round(0.25 * len(x)) and len(val) == round(0.1 * len(x))


@pytest.mark.parametrize("val_p", [0.0, 0.1])
def test_stratified_keeps_every_user_in_every_part(val_p):
    x = dataset()
    parts = stratified_split(x, val_p=val_p, test_p=0.2, seed=3)
    counts = np.bincount(x.users, minlength=x.num_users)
    for part, p in zip(parts[1:], ([val_p] if val_p else []) + [0.2]):
        # ceil(p * n_u) of each user's interactions in each held-out part.
        np.testing.assert_array_equal(np.bincount(part.users, minlength=x.num_users), np.ceil(p * counts))
    train_counts = np.bincount(parts[0].users, minlength=x.num_users)
    assert (train_counts >= 1).all()


def test_stratified_too_few_interactions_and_force_split():
    x = Interactions(
        [0, 1, 1, 1, 1, 2, 2], [0, 0, 1, 2, 3, 1, 2], num_items=5, num_negative_samples=1, allow_missing_ids=True
    )
    with pytest.raises(ValueError, match=r"1 users have too few interactions to split \(e.g. user 0 has 1\)"):
        stratified_split(x, test_p=0.5, seed=0)
    train, test = stratified_split(x, test_p=0.5, seed=0, force_split=True)
    # User 0 stays entirely in train; user 1 gives up two of four, user 2 one of two.
    assert Counter(test.users.tolist()) == {1: 2, 2: 1}
    assert Counter(train.users.tolist()) == {0: 1, 1: 2, 2: 1}


def test_temporal_holds_out_the_latest():
    x = dataset()
    train, val, test = temporal_split(x, val_p=0.1, test_p=0.2, seed=0)
    for user in range(x.num_users):
        t_train = train.timestamps[train.users == user]
        t_val = val.timestamps[val.users == user]
        t_test = test.timestamps[test.users == user]
        assert t_train.max() <= t_val.min() <= t_val.max() <= t_test.min()
    counts = np.bincount(x.users, minlength=x.num_users)
    np.testing.assert_array_equal(np.bincount(test.users, minlength=x.num_users), np.ceil(0.2 * counts))


def test_temporal_exact_example():
    x = Interactions(
        [0, 0, 0, 0, 1, 1],
        [0, 1, 2, 3, 0, 1],
        timestamps=[40, 10, 30, 20, 5, 6],
        num_items=5,
        num_negative_samples=1,
        allow_missing_ids=True,
    )
    train, test = temporal_split(x, test_p=0.25, seed=0)
    assert sorted(pairs(test.users, test.items)) == [(0, 0), (1, 1)]
    assert sorted(pairs(train.users, train.items)) == [(0, 1), (0, 2), (0, 3), (1, 0)]


def test_temporal_needs_timestamps():
    with pytest.raises(ValueError, match="temporal_split needs timestamps"):
        temporal_split(synthetic_interactions(), test_p=0.2)


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"test_p": 0.0}, ValueError, r"test_p must be in \(0, 1\), got 0.0"),
        ({"test_p": 1.0}, ValueError, r"test_p must be in \(0, 1\), got 1.0"),
        ({"test_p": -0.1}, ValueError, "test_p"),
        ({"test_p": "0.2"}, TypeError, "test_p must be a number"),
        ({"val_p": -0.1}, ValueError, r"val_p must be in \[0, 1\)"),
        ({"val_p": 0.5, "test_p": 0.5}, ValueError, "val_p \\+ test_p must be < 1"),
        ({"val_p": 0.7, "test_p": 0.4}, ValueError, "val_p \\+ test_p must be < 1"),
    ],
)
def test_split_argument_errors(split, kwargs, error, match):
    with pytest.raises(error, match=match):
        split(dataset(), **kwargs)


@pytest.mark.parametrize("split", SPLITS)
def test_split_rejects_non_interactions(split):
    with pytest.raises(TypeError, match="interactions must be coursekit Interactions, got DataFrame"):
        import pandas as pd

        split(pd.DataFrame({"user_id": [0], "item_id": [0]}))


@pytest.mark.parametrize("split", [random_split, stratified_split])
def test_same_seed_same_split_different_seed_different_split(split):
    x = dataset()
    first, second, other = (split(x, test_p=0.3, seed=s)[1] for s in (7, 7, 8))
    assert pairs(first.users, first.items) == pairs(second.users, second.items)
    assert pairs(first.users, first.items) != pairs(other.users, other.items)
    # The parts are data: no seed passed along (the loaders own the randomness).
    assert first.seed is None and not hasattr(first, "_rng")


SPLIT_DIGEST_SCRIPT = """
import hashlib
from tests.contracts import synthetic_interactions
from coursekit.cross_validation import stratified_split, random_split
x = synthetic_interactions(density=0.3)
digest = hashlib.sha256()
for split in (stratified_split, random_split):
    for part in split(x, val_p=0.1, test_p=0.2, seed=11):
        digest.update(part.users.tobytes() + part.items.tobytes())
print(digest.hexdigest())
"""


@pytest.mark.slow
def test_same_seed_same_split_in_a_fresh_process(capsys):
    # The split must depend on the seed only: not on hash randomisation, import order or prior RNG use.
    run = subprocess.run(
        [sys.executable, "-c", SPLIT_DIGEST_SCRIPT], cwd=ROOT_DIR, capture_output=True, text=True, check=True
    )
    exec(compile(SPLIT_DIGEST_SCRIPT, "<split digest>", "exec"), {"__name__": "digest"})
    here = capsys.readouterr().out
    assert run.stdout == here and len(here.strip()) == 64


def test_stratified_on_movielens_matches_known_sizes(ml100k_path):
    from coursekit.movielens import read_movielens_df
    from coursekit.utils import convert_to_implicit

    implicit = convert_to_implicit(read_movielens_df(data_path=ml100k_path.parent))
    x = Interactions(implicit.user_id, implicit.item_id, allow_missing_ids=True)
    train, validation = stratified_split(x, test_p=0.1, seed=42)
    assert (len(train), len(validation)) == (49_426, 5_949)
    assert set(validation.users.tolist()) == set(x.users.tolist())


@settings(max_examples=100, deadline=None)
@given(
    num_users=st.integers(2, 15),
    num_items=st.integers(3, 12),
    density=st.floats(0.1, 0.9),
    seed=st.integers(0, 10_000),
    val_p=st.sampled_from([0.0, 0.1, 0.3]),
    test_p=st.sampled_from([0.1, 0.25, 0.5]),
    split_index=st.integers(0, 2),
)
def test_property_splits_partition_the_input(num_users, num_items, density, seed, val_p, test_p, split_index):
    x = synthetic_interactions(num_users, num_items, density, seed=seed, num_negative_samples=1, with_timestamps=True)
    split = SPLITS[split_index]
    extra = {} if split is random_split else {"force_split": True}
    try:
        parts = split(x, val_p=val_p, test_p=test_p, seed=seed, **extra)
    except ValueError as error:
        # Tiny data can leave a part empty; that is reported, never silently wrong.
        assert "part empty" in str(error)
        return
    assert sum((pairs(p.users, p.items) for p in parts), Counter()) == pairs(x.users, x.items)
    assert all((p.num_users, p.num_items) == (x.num_users, x.num_items) for p in parts)
