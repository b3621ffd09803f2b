"""Explicit ratings: ExplicitInteractions, its loader and splits, the MSE model, evaluate_explicit, lesson 10's course layer."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from coursekit.cross_validation import random_split, stratified_split, temporal_split
from coursekit.explicit import ExplicitInteractions, ExplicitInteractionsDataLoader, evaluate_explicit
from coursekit.interactions import Interactions
from coursekit.model import CourseTrainer, ExplicitMatrixFactorizationModel, MatrixFactorizationModel, load_model


def coded(num_users: int = 30, num_items: int = 20, density: float = 0.4, seed: int = 0) -> ExplicitInteractions:
    """Ratings that encode their own pair, ``rating = 1000 * user + item``: misalignment cannot hide."""
    rng = np.random.default_rng(seed)
    present = rng.random((num_users, num_items)) < density
    present[:, 0] = True  # every user and item occurs
    present[0, :] = True
    users, items = np.nonzero(present)
    order = rng.permutation(len(users))  # given in no particular order
    users, items = users[order], items[order]
    return ExplicitInteractions(
        users, items, 1000.0 * users + items, timestamps=rng.integers(0, 10**6, len(users)), num_items=num_items
    )


def low_rank(num_users: int = 80, num_items: int = 60, rank: int = 2, observed: float = 0.5, seed: int = 0):
    """``(train, test)`` stars in 1..5 from a planted rank-2 taste matrix, half the entries observed."""
    rng = np.random.default_rng(seed)
    user_factors = rng.normal(size=(num_users, rank))
    item_factors = rng.normal(size=(num_items, rank))
    full = np.clip(3 + 0.9 * user_factors @ item_factors.T, 1, 5)
    users, items = np.nonzero(rng.random((num_users, num_items)) < observed)
    data = ExplicitInteractions(users, items, full[users, items], rating_range=(1, 5), num_items=num_items)
    return stratified_split(data, test_p=0.2, seed=0)


QUICK = dict(embedding_dim=4, lr=3e-2, bias_lr=3e-2, batch_size=128, lr_scheduler_func=None, y_range=(1, 5))


# -- the data: bad input fails with a clear message -----------------------------------------------


def test_nan_rating_is_refused_with_its_position():
    with pytest.raises(ValueError, match=r"ratings contains 1 NaN or infinite values \(the first at position 2\)"):
        ExplicitInteractions([0, 1, 1], [0, 0, 1], [4.0, 3.0, np.nan])


def test_rating_outside_the_stated_range_is_refused():
    with pytest.raises(ValueError, match=r"1 ratings lie outside rating_range=\(1, 5\), e.g. 6 at position 1"):
        ExplicitInteractions([0, 1], [0, 1], [5, 6], rating_range=(1, 5))
    with pytest.raises(ValueError, match="low < high"):
        ExplicitInteractions([0, 1], [0, 1], [5, 4], rating_range=(5, 1))
    with pytest.raises(TypeError, match="rating_range must be a pair"):
        ExplicitInteractions([0, 1], [0, 1], [5, 4], rating_range=5)


@pytest.mark.parametrize(
    "users, items, ratings, message",
    [
        ([0, 1], [0], [1, 2], "users and items differ in length: 2 != 1"),
        ([0, 1], [0, 1], [1, 2, 3], r"ratings must have one value per interaction \(2\), got shape \(3,\)"),
        ([0, 1], [0, 1], None, "needs ratings"),
        ([], [], [], "at least one rating"),
        ([0, 0, 1], [1, 1, 0], [3, 4, 2], r"1 \(user, item\) pairs are rated more than once \(e.g. user 0, item 1\)"),
    ],
)
def test_wrong_shapes_and_repeated_pairs_are_refused(users, items, ratings, message):
    with pytest.raises(ValueError, match=message):
        ExplicitInteractions(users, items, ratings)


def test_non_numeric_ratings_and_missing_ids_are_refused():
    with pytest.raises(TypeError, match="ratings must be numbers"):
        ExplicitInteractions([0, 1], [0, 1], ["good", "bad"])
    with pytest.raises(ValueError, match="items"):  # item 1 never occurs: ids not encoded
        ExplicitInteractions([0, 1], [0, 2], [1, 2])
    assert ExplicitInteractions([0, 1], [0, 2], [1, 2], allow_missing_ids=True).num_items == 3


def test_the_matrix_holds_the_ratings_and_the_sizes():
    data = coded()
    assert (data.num_users, data.num_items, len(data)) == (30, 20, data.mat.nnz)
    dense = data.mat.toarray()
    np.testing.assert_array_equal(dense[data.users, data.items], 1000.0 * data.users + data.items)
    np.testing.assert_array_equal(data.ratings, data.mat.data)
    assert data.ratings.dtype == np.float32 and data.mat.shape == (30, 20)
    zero = ExplicitInteractions([0, 1], [0, 1], [0.0, 2.0])  # a rating of 0 is a rating, kept in the matrix
    assert zero.mat.nnz == 2 and len(zero) == 2
    assert "1-5 scale" in repr(ExplicitInteractions([0], [0], [3], rating_range=(1, 5)))


def test_to_implicit_keeps_the_high_ratings_and_the_sizes():
    data = ExplicitInteractions([0, 0, 1, 2], [0, 1, 1, 2], [5, 2, 4, 1], rating_range=(1, 5))
    implicit = data.to_implicit(4, num_negative_samples=1)
    assert isinstance(implicit, Interactions)
    assert (implicit.num_users, implicit.num_items) == (3, 3)
    assert sorted(zip(implicit.users.tolist(), implicit.items.tolist())) == [(0, 0), (1, 1)]
    with pytest.raises(ValueError, match="no rating is at least"):
        data.to_implicit(6)


# -- splits keep the ratings aligned --------------------------------------------------------------


@pytest.mark.parametrize("split", [random_split, stratified_split, temporal_split])
@pytest.mark.parametrize("val_p", [0.0, 0.2])
def test_splits_keep_ratings_aligned_with_their_pairs(split, val_p):
    data = coded()
    parts = split(data, val_p=val_p, test_p=0.2, seed=3)
    assert len(parts) == (3 if val_p else 2)
    seen = set()
    for part in parts:
        assert isinstance(part, ExplicitInteractions)
        assert (part.num_users, part.num_items, part.rating_range) == (data.num_users, data.num_items, None)
        np.testing.assert_array_equal(part.ratings, 1000.0 * part.users + part.items)
        pairs = set(zip(part.users.tolist(), part.items.tolist()))
        assert not pairs & seen
        seen |= pairs
    assert seen == set(zip(data.users.tolist(), data.items.tolist()))


def test_stratified_split_holds_out_a_share_of_every_user_and_keeps_the_range():
    train, test = low_rank()
    assert train.rating_range == test.rating_range == (1.0, 5.0)
    counts = np.bincount(train.users, minlength=train.num_users) + np.bincount(test.users, minlength=test.num_users)
    np.testing.assert_array_equal(np.bincount(test.users, minlength=test.num_users), np.ceil(0.2 * counts - 1e-9))


# -- the loader -----------------------------------------------------------------------------------


def test_loader_batches_every_rating_once_with_its_pair():
    data = coded()
    loader = ExplicitInteractionsDataLoader(data, batch_size=16, shuffle=True, seed=5)
    batches = list(loader)
    assert len(batches) == len(loader) == int(np.ceil(len(data) / 16))
    users, items, ratings = (torch.cat(column).numpy() for column in zip(*batches))
    assert batches[0][0].dtype == batches[0][1].dtype == torch.int64 and batches[0][2].dtype == torch.float32
    np.testing.assert_array_equal(ratings, 1000.0 * users + items)
    assert sorted(zip(users.tolist(), items.tolist())) == sorted(zip(data.users.tolist(), data.items.tolist()))
    # Seeded per epoch: the same seed repeats epoch 0, the next epoch and another seed differ.
    again = [b[0] for b in ExplicitInteractionsDataLoader(data, batch_size=16, shuffle=True, seed=5)]
    assert all(torch.equal(a, b[0]) for a, b in zip(again, batches))
    second_epoch = torch.cat([b[0] for b in loader])
    assert not torch.equal(second_epoch, torch.from_numpy(users))
    other = torch.cat([b[0] for b in ExplicitInteractionsDataLoader(data, batch_size=16, shuffle=True, seed=6)])
    assert not torch.equal(other, torch.from_numpy(users))
    assert len(list(ExplicitInteractionsDataLoader(data, batch_size=16, drop_last=True, seed=0))) == len(data) // 16


def test_loader_and_model_refuse_implicit_interactions():
    implicit = Interactions([0, 1, 2], [0, 1, 2], num_negative_samples=1)
    with pytest.raises(TypeError, match="interactions must be ExplicitInteractions"):
        ExplicitInteractionsDataLoader(implicit)
    with pytest.raises(TypeError, match="train must be ExplicitInteractions"):
        ExplicitMatrixFactorizationModel(implicit)
    with pytest.raises(ValueError, match="y_range must be finite with low < high"):
        ExplicitMatrixFactorizationModel(coded(), y_range=(5, 1))


# -- the model ------------------------------------------------------------------------------------


def fit(train, val=None, epochs: int = 30, seed: int = 0, **settings):
    model = ExplicitMatrixFactorizationModel(train, val, seed=seed, **{**QUICK, **settings})
    CourseTrainer(model, max_epochs=epochs, enable_progress_bar=False).fit(model)
    return model.eval()


@pytest.fixture(scope="module")
def planted():
    train, test = low_rank()
    return train, test, fit(train, test)


def test_mse_model_learns_a_planted_low_rank_structure(planted):
    train, test, model = planted
    baseline = float(np.sqrt(np.mean((test.ratings - train.ratings.mean()) ** 2)))  # predict the mean
    result = evaluate_explicit(test, model)
    assert result["RMSE"] < 0.3 * baseline, (result, baseline)  # about 0.1 vs 1.0 here
    assert result["MAE"] <= result["RMSE"] and result["MSE"] == pytest.approx(result["RMSE"] ** 2)
    assert model.loss_name == "mse" and model.hparams.loss == "mse"
    assert isinstance(model, MatrixFactorizationModel)  # the implicit model's training, another batch and loss


def test_predictions_stay_in_y_range_and_rank_like_the_raw_score(planted):
    train, _, trained = planted
    model = copy.deepcopy(trained)  # the fixture stays as trained
    with torch.no_grad():  # push the scores far beyond the scale: the sigmoid still bounds them
        model.item_biases.weight.mul_(50)
    users = torch.arange(train.num_users)
    predictions = model.score_all_items(users)
    assert predictions.min() >= 1 and predictions.max() <= 5
    raw = model.factorization.score_all_items(users)
    torch.testing.assert_close(predictions, 1 + 4 * torch.sigmoid(raw))
    unbounded = ExplicitMatrixFactorizationModel(train, seed=0, y_range=None)
    torch.testing.assert_close(unbounded.score_all_items(users), unbounded.factorization.score_all_items(users))


def test_save_load_round_trip_keeps_y_range_and_predictions(planted, tmp_path):
    _, test, model = planted
    loaded = load_model(model.save_model(tmp_path / "explicit.pt"))
    assert type(loaded) is ExplicitMatrixFactorizationModel and loaded.y_range == (1.0, 5.0)
    assert evaluate_explicit(test, loaded) == evaluate_explicit(test, model)
    users = torch.arange(model.num_users)
    torch.testing.assert_close(loaded.score_all_items(users), model.score_all_items(users), rtol=0, atol=0)


def test_training_is_repeatable_from_the_seed():
    train, test = low_rank(num_users=30, num_items=20)
    first, second = fit(train, test, epochs=2, seed=4), fit(train, test, epochs=2, seed=4)
    other = fit(train, test, epochs=2, seed=5)
    users = torch.arange(train.num_users)
    assert torch.equal(first.score_all_items(users), second.score_all_items(users))
    assert not torch.equal(first.score_all_items(users), other.score_all_items(users))


# -- evaluate_explicit ----------------------------------------------------------------------------


class Constant(torch.nn.Module):
    """Predicts ``value + item`` for every pair (the formula checks the alignment of pairs too)."""

    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = value

    def forward(self, users, items):
        return torch.full(users.shape, self.value) + items


def test_evaluate_explicit_is_the_formula_and_restores_the_mode():
    data = ExplicitInteractions([0, 0, 1, 2], [0, 1, 1, 2], [5, 2, 4, 1])
    model = Constant(3.0).train()
    result = evaluate_explicit(data, model, batch_size=3)  # batches of 3 rows: 2 batches
    errors = 3.0 + data.items - data.ratings
    assert result["RMSE"] == pytest.approx(np.sqrt(np.mean(errors**2)))
    assert result["MAE"] == pytest.approx(np.mean(np.abs(errors)))
    assert result["MSE"] == pytest.approx(np.mean(errors**2))
    assert model.training
    with pytest.raises(TypeError, match="test_interactions must be ExplicitInteractions"):
        evaluate_explicit(data.to_implicit(4, num_negative_samples=1), model)


# -- the course layer -----------------------------------------------------------------------------


def test_the_explicit_recipe_trains_from_its_seed_alone():
    from coursekit.course.recipes import EXPLICIT_MSE, get_recipe

    assert get_recipe("explicit_mse") is EXPLICIT_MSE
    train, test = low_rank(num_users=30, num_items=20)
    recipe = EXPLICIT_MSE.replace(max_epochs=1)
    torch.manual_seed(1)
    first, trainer, seconds = recipe.fit(train, test, seed=7)
    torch.manual_seed(2)
    second, _, _ = recipe.fit(train, test, seed=7)
    assert isinstance(first, ExplicitMatrixFactorizationModel) and not first.training and seconds > 0
    assert first.y_range == (1.0, 5.0) and first.hparams.embedding_dim == 10 and first.hparams.seed == 7
    assert len(trainer.history) == 1
    assert all(torch.equal(a, b) for a, b in zip(first.state_dict().values(), second.state_dict().values()))


def test_an_explicit_split_is_an_artefact_that_round_trips(tmp_path, monkeypatch):
    from coursekit.course import artifacts

    monkeypatch.setenv("DATA_PATH", str(tmp_path))
    parts = low_rank(num_users=30, num_items=20)
    artifacts.save_artifact(parts, "explicit_test_split", {"what": "test"})
    loaded = artifacts.load_artifact("explicit_test_split", {"what": "test"})
    assert len(loaded) == 2
    for part, again in zip(parts, loaded):
        assert isinstance(again, ExplicitInteractions) and again.rating_range == (1.0, 5.0)
        np.testing.assert_array_equal(again.users, part.users)
        np.testing.assert_array_equal(again.items, part.items)
        np.testing.assert_array_equal(again.ratings, part.ratings)


def test_the_lesson_split_is_collies(ml100k_path, tmp_path, monkeypatch):
    import shutil

    from coursekit.course import data

    shutil.copytree(ml100k_path, tmp_path / "ml-100k")
    monkeypatch.setenv("DATA_PATH", str(tmp_path))
    train, test = data.explicit_split()
    assert (len(train), len(test)) == (89_561, 10_439)  # what Collie's tutorial 07 prints
    assert (train.num_users, train.num_items) == (943, 1682) and train.rating_range == (1.0, 5.0)
    assert set(np.unique(test.ratings).tolist()) == {1.0, 2.0, 3.0, 4.0, 5.0}
    assert (tmp_path / "artifacts" / "explicit_split.npz").exists()


def test_a_lightning_checkpoint_rebuilds_the_model(planted, tmp_path):
    train, test, trained = planted
    model = copy.deepcopy(trained)
    trainer = CourseTrainer(model, max_epochs=1, enable_progress_bar=False)
    trainer.fit(model)
    trainer.save_checkpoint(tmp_path / "explicit.ckpt")
    # Plain hparams (weights_only loads them); the data comes back as an argument, as for the implicit model.
    restored = ExplicitMatrixFactorizationModel.load_from_checkpoint(
        tmp_path / "explicit.ckpt", train=train, weights_only=True
    )
    assert restored.y_range == (1.0, 5.0)
    assert evaluate_explicit(test, restored.eval()) == evaluate_explicit(test, model.eval())
    with pytest.raises(ValueError, match="loss='mse' only"):
        ExplicitMatrixFactorizationModel(train, loss="hinge")
