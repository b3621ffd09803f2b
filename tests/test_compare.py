"""coursekit.compare: timed training, evaluation tables, popularity share, saved models."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from coursekit import compare
from coursekit.interactions import Interactions
from coursekit.metrics import auc, evaluate_in_batches, mapk, mrr
from coursekit.model import MatrixFactorizationModel, PopularityModel

NUM_USERS, NUM_ITEMS = 40, 30


def split(seed: int = 0) -> tuple[Interactions, Interactions]:
    rng = np.random.default_rng(seed)
    chosen = np.stack([rng.choice(NUM_ITEMS, 8, replace=False, p=_skewed()) for _ in range(NUM_USERS)])
    users = np.repeat(np.arange(NUM_USERS), 6)

    def build(part: np.ndarray, rows: np.ndarray) -> Interactions:
        return Interactions(
            users=rows, items=part.ravel(), num_users=NUM_USERS, num_items=NUM_ITEMS,
            allow_missing_ids=True, num_negative_samples=3, seed=seed,
        )

    return build(chosen[:, :6], users), build(chosen[:, 6:], np.repeat(np.arange(NUM_USERS), 2))


def _skewed() -> np.ndarray:
    weights = 1.0 / np.arange(1, NUM_ITEMS + 1)
    return weights / weights.sum()


@pytest.fixture
def data():
    return split()


def test_fit_timed_trains_quietly_and_leaves_eval_mode(data, capfd):
    train, validation = data
    model = MatrixFactorizationModel(train=train, val=validation, embedding_dim=4, seed=0)
    before = model.item_embeddings.weight.detach().clone()
    trainer, seconds = compare.fit_timed(model, max_epochs=2)
    assert seconds > 0 and not model.training
    assert len(trainer.history) == 2
    assert not torch.equal(before, model.item_embeddings.weight)
    assert capfd.readouterr().err == ""


def test_evaluate_model_matches_evaluate_in_batches(data):
    train, validation = data
    popularity = PopularityModel(train=train)
    result = compare.evaluate_model(popularity, validation, train, k=5)
    expected = evaluate_in_batches([mapk, mrr, auc], validation, popularity, k=5, train_interactions=train)
    assert list(result) == ["MAP@5", "MRR", "AUC"]
    assert np.allclose(list(result.values()), expected)


def test_compare_models_has_masked_and_unmasked_columns_in_order(data):
    train, validation = data
    models = {"b": PopularityModel(train=train), "a": MatrixFactorizationModel(train=train, seed=0)}
    table = compare.compare_models(models, validation, train)
    assert list(table.index) == ["b", "a"]
    assert list(table.columns) == [(e, m) for e in ("unmasked", "masked") for m in ("MAP@10", "MRR", "AUC")]
    unmasked = evaluate_in_batches([mapk, mrr, auc], validation, models["b"])
    assert np.allclose(table.loc["b", "unmasked"].to_numpy(), unmasked)
    assert not np.allclose(table.loc["b", "masked"].to_numpy(), unmasked)


def test_compare_models_rejects_no_models(data):
    with pytest.raises(ValueError, match="models"):
        compare.compare_models({}, data[1], data[0])


def test_popular_share_is_one_for_popularity_and_counts_head_items(data):
    train, _ = data
    popularity = PopularityModel(train=train)
    assert compare.popular_share(popularity, train, k=3, head=3 + 6) == 1.0  # 6 seen items per user at most
    # A model that scores the least popular items highest never recommends the head.
    counts = np.bincount(train.items, minlength=NUM_ITEMS)

    class Contrarian(PopularityModel):
        def score_all_items(self, user_ids):
            return -torch.as_tensor(counts, dtype=torch.float32).expand(len(user_ids), -1).clone()

    share = compare.popular_share(Contrarian(train=train), train, k=2, head=5)
    assert share == 0.0


def test_load_or_train_model_builds_once_then_loads(data, tmp_path, monkeypatch):
    monkeypatch.setenv("DATA_PATH", str(tmp_path))
    train, validation = data
    calls = []

    def build():
        calls.append(1)
        model = MatrixFactorizationModel(train=train, embedding_dim=4, seed=0)
        compare.fit_timed(model, max_epochs=1)
        return model

    first = compare.load_or_train_model("tiny", build)
    second = compare.load_or_train_model("tiny", build)
    assert calls == [1]
    assert compare.model_path("tiny") == tmp_path / "artifacts" / "tiny.pt"
    users = torch.arange(NUM_USERS)
    assert torch.allclose(first.score_all_items(users), second.score_all_items(users))
    assert pd.Series(second.recommend(0, k=3)["item_id"]).isin(train.mat[0].indices).sum() == 0  # still knows seen items
    with pytest.raises(TypeError, match="build"):
        compare.load_or_train_model("other", None)


def test_tuned_settings_build_and_train_a_model(data):
    train, validation = data
    model = compare.train_tuned_model(train, validation, settings={**compare.TUNED, "max_epochs": 1})
    assert model.hparams.embedding_dim == compare.TUNED["embedding_dim"]
    assert not model.training
