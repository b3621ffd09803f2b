"""Interactions: construction, validation, views, indexing, pickling and the real MovieLens data."""

from __future__ import annotations

import copy
import warnings

import joblib
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch

from coursekit.interactions import Interactions
from tests.contracts import near_saturated_interactions, synthetic_interactions

USERS = [0, 0, 1, 2, 2, 2]
ITEMS = [1, 3, 0, 2, 3, 1]


def test_from_users_and_items():
    x = Interactions(USERS, ITEMS, num_negative_samples=1)
    assert (x.num_users, x.num_items, x.num_interactions, len(x)) == (3, 4, 6, 6)
    expected = np.zeros((3, 4))
    expected[USERS, ITEMS] = 1
    np.testing.assert_array_equal(x.mat.toarray(), expected)
    assert x.mat.has_canonical_format and isinstance(x.tocsr(), sp.csr_matrix) and x.tocsr() is x.mat
    # users/items follow CSR order: sorted by user, then item.
    np.testing.assert_array_equal(x.users, [0, 0, 1, 2, 2, 2])
    np.testing.assert_array_equal(x.items, [1, 3, 0, 1, 2, 3])
    assert x.users.dtype == x.items.dtype == np.int64
    assert x.num_negative_samples == 1 and x.seed is None


@pytest.mark.parametrize("convert", [np.asarray, pd.Series, torch.tensor, lambda v: np.asarray(v, dtype=np.float64)])
def test_accepts_array_likes(convert):
    x = Interactions(convert(USERS), convert(ITEMS), num_negative_samples=1)
    np.testing.assert_array_equal(x.items, [1, 3, 0, 1, 2, 3])


def test_ratings_are_kept():
    x = Interactions([1, 0], [0, 1], ratings=[2.0, 5.0], num_negative_samples=1)
    np.testing.assert_array_equal(x.mat.toarray(), [[0, 5], [2, 0]])


@pytest.mark.parametrize("fmt", ["coo", "csr", "csc"])
def test_from_mat(fmt):
    dense = np.array([[0, 2, 0, 1], [3, 0, 0, 0], [0, 1, 1, 0]], dtype=np.float32)
    x = Interactions(mat=sp.coo_matrix(dense).asformat(fmt), num_negative_samples=2)
    assert (x.num_users, x.num_items, len(x)) == (3, 4, 5)
    np.testing.assert_array_equal(x.mat.toarray(), dense)


def test_from_mat_keeps_its_shape_with_empty_rows_and_columns():
    mat = sp.csr_matrix(([1.0, 1.0], ([0, 2], [1, 1])), shape=(4, 5))
    x = Interactions(mat=mat, allow_missing_ids=True, num_negative_samples=2)
    assert x.mat.shape == (4, 5)
    with pytest.raises(ValueError, match="never occur"):
        Interactions(mat=mat, num_negative_samples=2)


def test_duplicates_removed_with_warning_keeping_highest_rating():
    with pytest.warns(UserWarning, match="removed 2 duplicate"):
        x = Interactions([0, 0, 1, 0], [1, 1, 0, 1], ratings=[2, 5, 1, 3], num_negative_samples=1)
    assert len(x) == 2
    assert x.mat[0, 1] == 5


def test_duplicates_kept_when_asked():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        x = Interactions([0, 0, 1], [1, 1, 0], num_negative_samples=1, remove_duplicate_user_item_pairs=False)
    assert len(x) == 3
    np.testing.assert_array_equal(x.users, [0, 0, 1])
    # Sampling still treats the repeated pair as one positive: user 0's only negative is item 0.
    (_, _), negatives = x[[0, 1, 0, 1]]
    assert (negatives == 0).all()


def test_no_warning_without_duplicates():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Interactions(USERS, ITEMS, num_negative_samples=1)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"users": [0, -1], "items": [0, 1]}, ValueError, "users must be non-negative, got -1"),
        ({"users": [0, 1], "items": [0, -3]}, ValueError, "items must be non-negative, got -3"),
        ({"users": [0.0, np.nan], "items": [0, 1]}, ValueError, "users contains NaN at position 1"),
        ({"users": [0.0, 1.0], "items": [np.inf, 1]}, ValueError, "items contains inf at position 0"),
        ({"users": [0.0, 2.0**70], "items": [0, 1]}, ValueError, "users contains 1.18"),
        ({"users": [0, 1.5], "items": [0, 1]}, ValueError, "whole numbers, got 1.5"),
        ({"users": ["a", "b"], "items": [0, 1]}, TypeError, r"users must hold integer IDs, got dtype <U1 \(e.g. 'a'\)"),
        ({"users": [True, False], "items": [0, 1]}, TypeError, "booleans"),
        ({"users": [[0, 1]], "items": [[0, 1]]}, ValueError, "one-dimensional"),
        ({"users": [0, 1, 1], "items": [0, 1]}, ValueError, "differ in length: 3 != 2"),
        ({"users": [], "items": []}, ValueError, "at least one interaction"),
        ({"users": [0, 2], "items": [0, 1]}, ValueError, r"users: 1 ids in 0..2 never occur \(1\)"),
        ({"users": [0, 1], "items": [0, 3]}, ValueError, "items: 2 ids"),
        ({"users": [0, 1]}, ValueError, "needs users and items"),
        ({"users": [0], "items": [0], "mat": sp.eye(2)}, ValueError, "either mat"),
        ({"mat": np.eye(2)}, TypeError, "mat must be a scipy sparse matrix"),
        (
            {"users": [0, 1], "items": [0, 1], "num_negative_samples": 0},
            ValueError,
            "num_negative_samples must be >= 1",
        ),
        ({"users": [0, 1], "items": [0, 1], "num_negative_samples": 2}, ValueError, "smaller than num_items"),
        ({"users": [0, 1], "items": [0, 1], "num_negative_samples": 1.0}, TypeError, "num_negative_samples"),
        ({"users": [0, 1], "items": [0, 1], "num_users": 1}, ValueError, "contains id 1, out of range for num_users=1"),
        ({"users": [0, 1], "items": [0, 1], "num_items": 1}, ValueError, "num_items=1"),
        ({"users": [0, 1], "items": [0, 1], "num_items": 0}, ValueError, "num_items must be >= 1"),
        ({"users": [0, 1], "items": [0, 1], "ratings": [1.0]}, ValueError, "ratings must have one value"),
        ({"users": [0, 1], "items": [0, 1], "ratings": [1.0, np.inf]}, ValueError, "ratings contains NaN or inf"),
        ({"users": [0, 1], "items": [0, 1], "ratings": ["x", "y"]}, TypeError, "ratings must be numeric"),
        ({"users": [0, 1], "items": [0, 1], "timestamps": [1]}, ValueError, "timestamps must have one value"),
        ({"users": [0, 1], "items": [0, 1], "seed": -1}, ValueError, "seed must be >= 0"),
    ],
)
def test_bad_input_raises_naming_the_argument(kwargs, error, match):
    kwargs = {"num_negative_samples": 1, **kwargs}
    with pytest.raises(error, match=match):
        Interactions(**kwargs)


def test_user_with_every_item_is_rejected():
    with pytest.raises(ValueError, match="user 1 has interacted with all 3 items"):
        Interactions([0, 1, 1, 1], [0, 0, 1, 2], num_negative_samples=1)


def test_repr():
    x = Interactions(USERS, ITEMS, num_negative_samples=2)
    assert repr(x) == (
        "Interactions object with 6 interactions between 3 users and 4 items, "
        "returning 2 negative samples per interaction."
    )


def test_head():
    x = Interactions(USERS, ITEMS, ratings=[1, 2, 3, 4, 5, 6], num_negative_samples=1, timestamps=[6, 5, 4, 3, 2, 1])
    head = x.head(3)
    assert list(head.columns) == ["user_id", "item_id", "rating", "timestamp"]
    assert head.values.tolist() == [[0, 1, 1, 6], [0, 3, 2, 5], [1, 0, 3, 4]]
    assert len(x.head()) == 5 and len(x.head(100)) == 6
    assert "timestamp" not in Interactions(USERS, ITEMS, num_negative_samples=1).head().columns
    with pytest.raises(ValueError, match="n must be >= 0"):
        x.head(-1)


def test_getitem_int():
    x = synthetic_interactions(seed=1)
    (user, item), negatives = x[3]
    assert user.dtype == item.dtype == negatives.dtype == torch.int64
    assert user.ndim == item.ndim == 0 and negatives.shape == (x.num_negative_samples,)
    assert (user.item(), item.item()) == (x.users[3], x.items[3])
    (user, item), _ = x[-1]
    assert (user.item(), item.item()) == (x.users[-1], x.items[-1])
    for bad in (len(x), -len(x) - 1):
        with pytest.raises(IndexError):
            x[bad]


@pytest.mark.parametrize("index", [[0, 5, 5, 2], slice(3, 20, 2), np.arange(10), slice(None)])
def test_getitem_batch_negatives_never_positive(index):
    x = synthetic_interactions(seed=2, density=0.4)
    (users, items), negatives = x[index]
    expected = np.arange(len(x))[index]
    np.testing.assert_array_equal(users.numpy(), x.users[expected])
    np.testing.assert_array_equal(items.numpy(), x.items[expected])
    assert negatives.shape == (len(expected), x.num_negative_samples)
    assert not (x.mat.toarray() != 0)[users.numpy()[:, None], negatives.numpy()].any()


def test_getitem_near_saturated_users():
    x = near_saturated_interactions(num_negative_samples=3)
    (users, _), negatives = x[:]
    assert (negatives[users == 0] == 7).all()
    assert set(negatives[users == 1].unique().tolist()) == {0, 11}


def test_interactions_hold_no_random_state():
    x = synthetic_interactions(seed=3)
    assert not any(isinstance(v, np.random.Generator) for v in vars(x).values())
    torch.manual_seed(0)
    first = x[:][1]
    torch.manual_seed(0)
    assert torch.equal(x[:][1], first)  # indexing is seeded by torch's global RNG, one draw per call
    assert not torch.equal(x[:][1], first)
    with pytest.warns(DeprecationWarning, match="seed=.*deprecated and ignored"):
        Interactions([0, 1], [1, 0], num_negative_samples=1, seed=5)


def test_joblib_round_trip_same_matrix(tmp_path):
    x = synthetic_interactions(seed=4, with_timestamps=True)
    x[:5]  # build the sampling cache
    path = tmp_path / "x.joblib"
    joblib.dump(x, path)
    y = joblib.load(path)
    assert (y.mat != x.mat).nnz == 0 and y.mat.shape == x.mat.shape
    np.testing.assert_array_equal(y.timestamps, x.timestamps)
    assert repr(y) == repr(x)
    torch.manual_seed(1)
    expected = x[[1, 2]][1]
    torch.manual_seed(1)
    assert torch.equal(y[[1, 2]][1], expected)


def test_an_object_pickled_with_a_generator_loads_without_it(tmp_path):
    x = synthetic_interactions(seed=4)
    state = x.__getstate__()
    state.update(seed=3, _rng=np.random.default_rng(3))  # what earlier versions pickled
    y = Interactions.__new__(Interactions)
    y.__setstate__(state)
    assert not hasattr(y, "_rng") and (y.mat != x.mat).nnz == 0


def test_deepcopy_is_independent_and_cheap():
    x = synthetic_interactions(num_users=2000, num_items=500, density=0.05)
    x[:10]
    y = copy.deepcopy(x)
    assert y.mat is not x.mat and (y.mat != x.mat).nnz == 0
    y.mat.data[:] = 7
    assert x.mat.data.max() == 1


def test_real_movielens_implicit(ml100k_path):
    from coursekit.movielens import read_movielens_df
    from coursekit.utils import convert_to_implicit

    implicit = convert_to_implicit(read_movielens_df(data_path=ml100k_path.parent))
    x = Interactions(implicit.user_id, implicit.item_id, allow_missing_ids=True)
    assert repr(x) == (
        "Interactions object with 55375 interactions between 943 users and 1674 items, "
        "returning 10 negative samples per interaction."
    )
