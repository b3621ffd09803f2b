"""Vectorised negative sampling: exact negatives are never positives, approximate ones are uniform."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from coursekit.sampling import is_positive, sample_approximate, sample_exact, unseen_rank_index


def random_matrix(num_users: int, num_items: int, density: float, seed: int) -> sp.csr_matrix:
    rng = np.random.default_rng(seed)
    dense = rng.random((num_users, num_items)) < density
    dense[np.arange(num_users), rng.integers(0, num_items, num_users)] = False  # one unseen item each
    return sp.csr_matrix(dense.astype(np.float32))


def exact(mat, users, num_negatives, seed=0):
    return sample_exact(np.random.default_rng(seed), unseen_rank_index(mat), mat.shape[1], users, num_negatives)


@pytest.mark.parametrize("density", [0.05, 0.5, 0.95])
def test_exact_negatives_are_never_positive(density):
    mat = random_matrix(40, 30, density, seed=1)
    users = np.repeat(np.arange(40), 5)
    negatives = exact(mat, users, 8)
    assert negatives.shape == (200, 8) and negatives.dtype == np.int64
    assert negatives.min() >= 0 and negatives.max() < 30
    assert not mat.toarray()[users[:, None], negatives].any()


def test_exact_negatives_for_near_saturated_users():
    dense = np.ones((4, 10), dtype=bool)
    dense[0, 3] = False  # only item 3 is unseen
    dense[1, [0, 9]] = False  # the first and the last item
    dense[2] = False  # has seen nothing
    dense[3, ::2] = False
    mat = sp.csr_matrix(dense.astype(np.float32))
    users = np.repeat(np.arange(4), 250)
    negatives = exact(mat, users, 4)
    assert (negatives[users == 0] == 3).all()
    np.testing.assert_array_equal(np.unique(negatives[users == 1]), [0, 9])
    np.testing.assert_array_equal(np.unique(negatives[users == 2]), np.arange(10))
    np.testing.assert_array_equal(np.unique(negatives[users == 3]), np.arange(0, 10, 2))


def test_exact_negatives_are_uniform_over_unseen_items():
    dense = np.zeros((1, 8), dtype=bool)
    dense[0, [1, 2, 5]] = True
    mat = sp.csr_matrix(dense.astype(np.float32))
    negatives = exact(mat, np.zeros(4000, dtype=np.int64), 5)
    counts = np.bincount(negatives.ravel(), minlength=8)
    assert (counts[[1, 2, 5]] == 0).all()
    unseen = counts[[0, 3, 4, 6, 7]]
    expected = negatives.size / 5
    assert np.abs(unseen - expected).max() < 0.05 * expected  # ~4000 draws each; 5 % is > 6 sigma


def test_exact_ignores_duplicate_entries():
    # A matrix with a repeated (user, item) entry (duplicates kept on request) is not canonical.
    mat = sp.csr_matrix((np.ones(4, dtype=np.float32), [1, 1, 2, 0], [0, 3, 4]), shape=(2, 4))
    assert not mat.has_canonical_format
    users = np.repeat([0, 1], 300)
    negatives = exact(mat, users, 3)
    assert set(np.unique(negatives[users == 0])) == {0, 3}
    assert set(np.unique(negatives[users == 1])) == {1, 2, 3}


def test_exact_is_deterministic_given_rng():
    mat = random_matrix(20, 15, 0.3, seed=2)
    users = np.arange(20).repeat(3)
    np.testing.assert_array_equal(exact(mat, users, 4, seed=7), exact(mat, users, 4, seed=7))
    assert not np.array_equal(exact(mat, users, 4, seed=7), exact(mat, users, 4, seed=8))


def test_exact_handles_empty_batch():
    mat = random_matrix(5, 6, 0.3, seed=0)
    assert exact(mat, np.empty(0, dtype=np.int64), 3).shape == (0, 3)


def test_is_positive_matches_brute_force():
    mat = random_matrix(25, 18, 0.3, seed=3)
    rng = np.random.default_rng(0)
    users = rng.integers(0, 25, (60, 1))
    items = rng.integers(0, 18, (60, 7))
    result = is_positive(mat, users, items)
    assert result.shape == (60, 7) and result.dtype == bool
    dense = mat.toarray() != 0
    np.testing.assert_array_equal(result, dense[users, items])
    assert result.any() and not result.all()


def test_approximate_range_shape_and_determinism():
    negatives = sample_approximate(np.random.default_rng(0), 13, 500, 6)
    assert negatives.shape == (500, 6) and negatives.dtype == np.int64
    np.testing.assert_array_equal(np.unique(negatives), np.arange(13))
    np.testing.assert_array_equal(negatives, sample_approximate(np.random.default_rng(0), 13, 500, 6))
    assert not np.array_equal(negatives, sample_approximate(np.random.default_rng(1), 13, 500, 6))


@settings(max_examples=100, deadline=None)
@given(
    num_users=st.integers(1, 12),
    num_items=st.integers(2, 15),
    density=st.floats(0.0, 1.0),
    seed=st.integers(0, 2**32 - 1),
    num_negatives=st.integers(1, 6),
)
def test_property_exact_negatives_never_positive(num_users, num_items, density, seed, num_negatives):
    mat = random_matrix(num_users, num_items, density, seed)
    users = np.random.default_rng(seed).integers(0, num_users, 30)
    negatives = exact(mat, users, num_negatives, seed=seed)
    assert negatives.min() >= 0 and negatives.max() < num_items
    assert not mat.toarray()[users[:, None], negatives].any()
