"""The in-memory loaders against the shared loader contract, plus what is specific to them."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from coursekit.interactions import (
    ApproximateNegativeSamplingInteractionsDataLoader,
    InteractionsDataLoader,
)
from tests.contracts import ExactNegativesContract, LoaderContract, epoch_arrays, synthetic_interactions


class TestInteractionsDataLoader(ExactNegativesContract):
    def make_loader(self, interactions, **kwargs):
        return InteractionsDataLoader(interactions, **kwargs)

    def test_negatives_never_positive_on_dense_matrix(self):
        # Every user has all items but one or two: exact sampling must find exactly those.
        rng = np.random.default_rng(0)
        present = np.ones((30, 25), dtype=bool)
        present[np.arange(30), rng.integers(0, 25, 30)] = False
        present[np.arange(0, 30, 2), rng.integers(0, 25, 15)] = False
        from coursekit.interactions import Interactions

        data = Interactions(*np.nonzero(present), num_negative_samples=4)
        users, _, negatives, _ = epoch_arrays(InteractionsDataLoader(data, batch_size=64, shuffle=True, seed=0))
        assert not present[users[:, None], negatives].any()


class TestApproximateNegativeSamplingInteractionsDataLoader(LoaderContract):
    def make_loader(self, interactions, **kwargs):
        return ApproximateNegativeSamplingInteractionsDataLoader(interactions, **kwargs)

    def test_negatives_are_uniform_and_may_hit_positives(self):
        data = synthetic_interactions(density=0.5, num_negative_samples=20)
        loader = ApproximateNegativeSamplingInteractionsDataLoader(data, batch_size=256, seed=0)
        users, _, negatives, _ = epoch_arrays(loader)
        hit = (data.mat.toarray() != 0)[users[:, None], negatives]
        # Unchecked draws hit positives at about the users' share of the catalogue.
        assert 0.3 < hit.mean() < 0.8
        counts = np.bincount(negatives.ravel(), minlength=data.num_items)
        assert counts.min() > 0.5 * counts.mean()


@pytest.mark.parametrize("loader_class", [InteractionsDataLoader, ApproximateNegativeSamplingInteractionsDataLoader])
def test_loader_argument_errors(loader_class):
    data = synthetic_interactions()
    with pytest.raises(TypeError, match="interactions"):
        loader_class(object())
    with pytest.raises(ValueError, match="batch_size"):
        loader_class(data, batch_size=0)
    with pytest.raises(TypeError, match="batch_size"):
        loader_class(data, batch_size=2.5)
    with pytest.raises(ValueError, match="seed"):
        loader_class(data, seed=-1)


def test_default_seed_follows_torch_global_rng():
    data = synthetic_interactions()
    torch.manual_seed(123)
    first = list(InteractionsDataLoader(data, batch_size=64, shuffle=True))
    torch.manual_seed(123)
    second = list(InteractionsDataLoader(data, batch_size=64, shuffle=True))
    for ((u1, i1), n1), ((u2, i2), n2) in zip(first, second):
        assert torch.equal(u1, u2) and torch.equal(i1, i2) and torch.equal(n1, n2)


def test_loaders_are_importable_from_loaders_module():
    import coursekit.loaders as loaders

    assert loaders.InteractionsDataLoader is InteractionsDataLoader
