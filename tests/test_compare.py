"""coursekit.course.compare: timed training, evaluation tables, popularity share, studies over seeds."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import torch

from coursekit import compare as legacy
from coursekit.course import compare, models, recipes
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
            users=rows,
            items=part.ravel(),
            num_users=NUM_USERS,
            num_items=NUM_ITEMS,
            allow_missing_ids=True,
            num_negative_samples=3,
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
    result = compare.evaluate_model(validation, popularity, train, k=5)
    expected = evaluate_in_batches([mapk, mrr, auc], validation, popularity, k=5, train_interactions=train)
    assert list(result) == ["MAP@5", "MRR", "AUC"]
    assert np.allclose(list(result.values()), expected)
    unmasked = compare.evaluate_model(validation, popularity)
    assert np.allclose(list(unmasked.values()), evaluate_in_batches([mapk, mrr, auc], validation, popularity))


def test_the_old_argument_order_warns_in_the_course_layer_and_not_on_the_old_path(data):
    train, validation = data
    popularity = PopularityModel(train=train)
    new = compare.evaluate_model(validation, popularity, train)
    with pytest.warns(DeprecationWarning, match=r"evaluate_model\(model, validation, train\) is deprecated"):
        assert compare.evaluate_model(popularity, validation, train) == new
    table = compare.compare_models(validation, {"p": popularity}, train)
    with pytest.warns(DeprecationWarning, match=r"compare_models\(models, validation, train\) is deprecated"):
        pd.testing.assert_frame_equal(compare.compare_models({"p": popularity}, validation, train), table)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the lessons' calls, unchanged, stay silent
        assert legacy.evaluate_model(popularity, validation, train) == new
        assert legacy.evaluate_model(validation, popularity, train) == new
        pd.testing.assert_frame_equal(legacy.compare_models({"p": popularity}, validation, train), table)
        pd.testing.assert_frame_equal(legacy.compare_models(validation, {"p": popularity}, train), table)
        assert legacy.popular_share(popularity, train) == compare.popular_share(popularity, train)
    with pytest.warns(DeprecationWarning, match="train_interactions"):
        assert compare.popular_share(popularity, train=train) == compare.popular_share(popularity, train)


def test_compare_models_has_masked_and_unmasked_columns_in_order(data):
    train, validation = data
    models_ = {"b": PopularityModel(train=train), "a": MatrixFactorizationModel(train=train, seed=0)}
    table = compare.compare_models(validation, models_, train)
    assert list(table.index) == ["b", "a"]
    assert list(table.columns) == [(e, m) for e in ("unmasked", "masked") for m in ("MAP@10", "MRR", "AUC")]
    unmasked = evaluate_in_batches([mapk, mrr, auc], validation, models_["b"])
    assert np.allclose(table.loc["b", "unmasked"].to_numpy(), unmasked)
    assert not np.allclose(table.loc["b", "masked"].to_numpy(), unmasked)
    only_unmasked = compare.compare_models(validation, models_)
    assert list(only_unmasked.columns.get_level_values(0).unique()) == ["unmasked"]


def test_compare_models_rejects_no_models(data):
    with pytest.raises(ValueError, match="models"):
        compare.compare_models(data[1], {}, data[0])


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
    train, _ = data
    calls = []

    def build():
        calls.append(1)
        model = MatrixFactorizationModel(train=train, embedding_dim=4, seed=0)
        compare.fit_timed(model, max_epochs=1)
        return model

    first = models.load_or_train_model("tiny", build)
    second = legacy.load_or_train_model("tiny", build)
    assert calls == [1]
    assert models.model_path("tiny") == tmp_path / "artifacts" / "tiny.pt"
    users = torch.arange(NUM_USERS)
    assert torch.allclose(first.score_all_items(users), second.score_all_items(users))
    assert (
        pd.Series(second.recommend(0, k=3, unseen_items_only=True)["item_id"]).isin(train.mat[0].indices).sum() == 0
    )  # still knows seen items
    with pytest.raises(TypeError, match="build"):
        models.load_or_train_model("other", None)


def test_tuned_settings_build_and_train_a_model(data):
    train, validation = data
    model = legacy.train_tuned_model(train, validation, settings={**legacy.TUNED, "max_epochs": 1}, seed=0)
    assert model.hparams.embedding_dim == recipes.TUNED.model["embedding_dim"]
    assert not model.training
    assert legacy.TUNED == {**recipes.TUNED.model, "max_epochs": recipes.TUNED.max_epochs}


# -- over seeds -----------------------------------------------------------------------------------

QUICK = recipes.LESSON03.replace(name="quick", max_epochs=2, embedding_dim=4, lr=5e-2)


def test_seed_study_trains_each_seed_and_summarises(data):
    train, validation = data
    study = compare.seed_study(validation, QUICK, train, seeds=3, extra={"popular share": compare.popular_share})
    assert study.seeds == (0, 1, 2) and len(study.fit_seconds) == 3
    assert list(study.per_seed.index) == [0, 1, 2]
    assert ("masked", "MAP@10") in study.per_seed.columns and ("other", "popular share") in study.per_seed.columns
    # Each row is what training that seed alone gives.
    model, _, _ = QUICK.fit(train, seed=1)
    expected = compare.evaluate_model(validation, model, train)
    assert np.allclose(study.per_seed.loc[1, "masked"].to_numpy(), list(expected.values()))
    summary = study.summary
    column = ("masked", "AUC")
    assert np.isclose(summary.loc[column, "mean"], study.per_seed[column].mean())
    assert np.isclose(summary.loc[column, "std"], study.per_seed[column].std(ddof=1))
    assert summary.loc[column, "min"] <= summary.loc[column, "mean"] <= summary.loc[column, "max"]
    assert (summary["n"] == 3).all()
    assert study.per_seed[column].nunique() > 1  # seeds do change the result
    assert "quick over seeds [0, 1, 2]" in str(study)


def test_paired_comparison_uses_the_same_seeds_and_counts_wins(data):
    train, validation = data
    untrained = QUICK.replace(name="untrained", max_epochs=1, lr=0.0, bias_lr=0.0)  # random scores
    paired = compare.paired_comparison(validation, untrained, "popularity", train, seeds=[3, 4, 5])
    assert paired.first.seeds == paired.second.seeds == (3, 4, 5)
    differences = paired.differences
    assert np.allclose(differences.to_numpy(), (paired.second.per_seed - paired.first.per_seed).to_numpy())
    summary = paired.summary
    column = ("masked", "AUC")
    assert summary.loc[column, "wins"] == int((differences[column] > 0).sum())
    assert np.isclose(summary.loc[column, "difference mean"], differences[column].mean())
    assert summary.loc[column, "wins"] == 3  # popularity beats random scores for every seed
    assert paired.first.per_seed[column].nunique() == 3 and paired.second.per_seed[column].nunique() == 1
    assert "popularity - untrained" in str(paired)


def test_popularity_recipe_needs_no_training(data):
    train, validation = data
    study = compare.seed_study(validation, "popularity", train, seeds=2)
    assert study.per_seed.loc[0].equals(study.per_seed.loc[1])  # nothing random in popularity


@pytest.mark.parametrize(
    "seeds, message", [(0, "seeds must be >= 1"), ([], "non-empty"), ([1, 1], "distinct"), ("ab", "count")]
)
def test_seed_study_checks_its_seeds(data, seeds, message):
    with pytest.raises(ValueError, match=message):
        compare.seed_study(data[1], QUICK, data[0], seeds=seeds)


def test_paired_comparison_needs_two_recipes(data):
    with pytest.raises(ValueError, match="different recipes"):
        compare.paired_comparison(data[1], QUICK, QUICK, data[0])
