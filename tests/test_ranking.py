"""The shared ranking helpers: item popularity and top-k (of unseen items) with one tie rule."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from coursekit.interactions import InteractionsDataLoader
from coursekit.ranking import item_popularity, top_k_items, top_k_unseen
from tests.contracts import synthetic_interactions


def test_item_popularity_counts_training_interactions_per_item():
    x = synthetic_interactions()
    expected = (x.mat.toarray() != 0).sum(axis=0)
    np.testing.assert_array_equal(item_popularity(x), expected)
    np.testing.assert_array_equal(item_popularity(InteractionsDataLoader(x)), expected)
    np.testing.assert_array_equal(item_popularity(x.mat), expected)
    assert item_popularity(x).dtype == np.int64
    with pytest.raises(TypeError, match="in-memory Interactions"):
        item_popularity([1, 2])


@pytest.mark.parametrize("ties", [False, True])
def test_top_k_is_a_stable_descending_sort_cut_at_k(ties):
    rng = np.random.default_rng(ties)
    values = rng.integers(0, 3, (20, 30)) if ties else rng.standard_normal((20, 30))
    scores = torch.tensor(values, dtype=torch.float32)
    for k in (1, 7, 30, 40):
        expected = torch.sort(scores, dim=1, descending=True, stable=True).indices[:, :k]
        assert torch.equal(top_k_items(scores, k), expected)


def test_top_k_unseen_leaves_out_seen_items_and_keeps_the_tie_rule():
    scores = torch.tensor([[1.0, 1.0, 2.0, 0.0], [0.0, 0.0, 0.0, 0.0]])
    seen = sp.csr_matrix(np.array([[0, 0, 1, 0], [1, 1, 1, 0], [0, 0, 0, 1]]))
    first, second = top_k_unseen(scores, 3, seen, users=[0, 1])
    assert first.tolist() == [0, 1, 3] and second.tolist() == [3]
    assert [row.tolist() for row in top_k_unseen(scores, 2)] == [[2, 0], [0, 1]]
    assert top_k_unseen(scores[:1], 2, seen, users=[2])[0].tolist() == [2, 0]
