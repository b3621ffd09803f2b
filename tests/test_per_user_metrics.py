"""coursekit.metrics.per_user_metrics: the per-user values evaluate_in_batches averages."""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import pytest
import torch

from coursekit.metrics import auc, evaluate_in_batches, mapk, mrr, ndcg, per_user_metrics, precision, recall
from coursekit.model import MatrixFactorizationModel, PopularityModel
from tests.contracts import synthetic_interactions


@pytest.fixture(scope="module")
def parts():
    from coursekit.cross_validation import stratified_split

    data = synthetic_interactions(num_users=70, num_items=45, density=0.15, seed=3)
    return stratified_split(data, test_p=0.3, seed=1)


@pytest.fixture(scope="module")
def model(parts):
    model = MatrixFactorizationModel(parts[0], embedding_dim=4, seed=0)
    with torch.no_grad():  # distinct scores, and some ties from repeated biases
        model.item_biases.weight.copy_(torch.linspace(-1, 1, model.num_items).round(decimals=1)[:, None])
    return model.eval()


METRICS = [mapk, mrr, auc, ndcg, precision, recall]


@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("batch_size", [7, 1024])
def test_column_means_equal_evaluate_in_batches_exactly(parts, model, masked, batch_size):
    train, test = parts
    mask = train if masked else None
    table = per_user_metrics(METRICS, test, model, k=5, train_interactions=mask, batch_size=batch_size)
    expected = evaluate_in_batches(METRICS, test, model, k=5, train_interactions=mask, progress=False)
    assert list(table.columns) == ["mapk", "mrr", "auc", "ndcg", "precision", "recall"]
    assert [table[c].mean() for c in table.columns] == expected  # exactly, not approximately
    # Batching does not change any user's value.
    other = per_user_metrics(METRICS, test, model, k=5, train_interactions=mask, batch_size=3)
    pd.testing.assert_frame_equal(table, other)


def test_index_is_the_users_with_test_data_and_values_match_the_definitions(parts, model):
    train, test = parts
    table = per_user_metrics([mapk, auc], test, model, train_interactions=train)
    users = np.flatnonzero(np.diff(test.mat.tocsr().indptr) > 0)
    assert table.index.name == "user_id" and list(table.index) == list(users)
    assert table.dtypes.tolist() == [np.float64, np.float64]
    # The readable definitions on the masked scores give the same per-user values.
    scores = model.score_all_items(torch.as_tensor(users)).clone()
    seen = train.mat.tocsr()[users].toarray() > 0
    scores[torch.as_tensor(seen)] = float("-inf")
    targets = torch.as_tensor(test.mat.tocsr()[users].toarray() > 0)
    np.testing.assert_allclose(table["mapk"], mapk(scores, targets).numpy(), rtol=1e-12)
    np.testing.assert_allclose(table["auc"], auc(scores, targets).numpy(), rtol=1e-12)


def test_evaluate_in_batches_per_user_flag_is_deprecated_and_returns_the_table(parts, model):
    train, test = parts
    with pytest.warns(DeprecationWarning, match="per_user_metrics"):
        table = evaluate_in_batches([mapk, mrr], test, model, train_interactions=train, per_user=True)
    pd.testing.assert_frame_equal(table, per_user_metrics([mapk, mrr], test, model, train_interactions=train))


def test_column_names_repeated_metrics_and_custom_metrics(parts):
    train, test = parts
    model = PopularityModel(train)
    at3 = functools.partial(mapk, k=3)

    def hits(scores, targets):  # a metric outside coursekit.metrics: one value per user
        top = scores.argmax(dim=1, keepdim=True)
        return targets.gather(1, top).squeeze(1).to(torch.float64)

    table = per_user_metrics([mapk, at3, hits], test, model, train_interactions=train)
    assert list(table.columns) == ["mapk", "mapk_2", "hits"]
    expected = evaluate_in_batches([mapk, at3, hits], test, model, train_interactions=train, progress=False)
    assert [table[c].mean() for c in table.columns] == expected
    named = per_user_metrics([mapk, at3], test, model, names=["MAP@10", "MAP@3"])
    assert list(named.columns) == ["MAP@10", "MAP@3"]
    with pytest.raises(ValueError, match="one column name per metric"):
        per_user_metrics([mapk, at3], test, model, names=["only one"])
    with pytest.raises(ValueError, match="distinct"):
        per_user_metrics([mapk, at3], test, model, names=["x", "x"])


def test_a_metric_without_per_user_values_is_refused(parts):
    train, test = parts

    def total(scores, targets):
        return targets.sum().to(torch.float64)

    with pytest.raises(ValueError, match="one value per user.*total"):
        per_user_metrics([total], test, PopularityModel(train))
