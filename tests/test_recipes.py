"""coursekit.course.recipes: one copy of each named recipe, trained from explicit seeds only."""

from __future__ import annotations

import json

import pytest
import torch

from coursekit.course import artifacts, data, models, recipes
from coursekit.loaders import ApproximateNegativeSamplingInteractionsDataLoader, InteractionsDataLoader
from coursekit.model import MatrixFactorizationModel, PopularityModel
from tests.contracts import synthetic_interactions

QUICK_EPOCHS = 1


@pytest.fixture(scope="module")
def split():
    from coursekit.cross_validation import stratified_split

    return stratified_split(synthetic_interactions(), test_p=0.2, seed=0)


def weights(model):
    return {name: tensor.clone() for name, tensor in model.state_dict().items()}


@pytest.mark.parametrize(
    "name", [n for n, r in recipes.RECIPES.items() if r.kind == "mf"]
)  # explicit: test_explicit.py
def test_every_recipe_trains_from_its_seed_alone(split, name):
    train, validation = split
    recipe = recipes.RECIPES[name].replace(max_epochs=QUICK_EPOCHS)
    torch.manual_seed(123)  # global state must not matter: change it between the two runs
    first, trainer, seconds = recipe.fit(train, validation, seed=7)
    torch.manual_seed(456)
    second, _, _ = recipe.fit(train, validation, seed=7)
    other, _, _ = recipe.fit(train, validation, seed=8)
    assert isinstance(first, MatrixFactorizationModel) and not first.training and seconds > 0
    assert len(trainer.history) == QUICK_EPOCHS
    a, b, c = weights(first), weights(second), weights(other)
    assert all(torch.equal(a[key], b[key]) for key in a)
    assert not all(torch.equal(a[key], c[key]) for key in a)
    assert first.hparams.seed == 7
    for key, value in recipe.model.items():
        if key not in ("lr_scheduler_func", "metadata_for_loss"):  # a callable; names of matrices (buffers)
            assert first.hparams[key] == value, key


def test_the_collie_lesson_recipe_uses_approximate_loaders_with_derived_seeds(split):
    train, validation = split
    model = recipes.COLLIE_APPROXIMATE.build(train, validation, seed=10)
    assert isinstance(model.train_dataloader(), ApproximateNegativeSamplingInteractionsDataLoader)
    assert isinstance(model.val_dataloader(), ApproximateNegativeSamplingInteractionsDataLoader)
    assert (model.train_dataloader().seed, model.val_dataloader().seed) == (11, 12)
    assert model.train_dataloader().batch_size == 1024 and model.train_dataloader().shuffle
    exact = recipes.LESSON03.build(train, validation, seed=10)
    assert isinstance(exact.train_dataloader(), InteractionsDataLoader)
    assert exact.train_dataloader().seed == 11  # the model's own convention, so the two differ only in sampling


def test_the_recipes_hold_the_lessons_settings():
    assert dict(recipes.LESSON03.model) == {"embedding_dim": 10, "lr": 1e-2}
    assert dict(recipes.COLLIE_SEPARATE_BIAS.model) == {
        "embedding_dim": 10,
        "lr": 1e-2,
        "bias_lr": 1e-1,
        "optimizer": "adam",
        "bias_optimizer": "sgd",
    }
    assert recipes.TUNED.as_dict() == {
        "embedding_dim": 64,
        "lr": 2e-3,
        "bias_lr": 1e-1,
        "optimizer": "adam",
        "bias_optimizer": "sgd",
        "loss": "adaptive_hinge",
        "weight_decay": 1e-4,
        "lr_scheduler_func": None,
        "max_epochs": 10,
    }
    assert list(recipes.TUNED.as_dict())[-1] == "max_epochs"  # the order lesson 04 prints


def test_popularity_recipe(split):
    train, _ = split
    model, trainer, _ = recipes.POPULARITY.fit(train, seed=0)
    assert isinstance(model, PopularityModel) and trainer is None


def test_recipes_are_immutable_and_replace_makes_a_copy():
    changed = recipes.TUNED.replace(lr=1e-2, name="faster")
    assert changed.model["lr"] == 1e-2 and recipes.TUNED.model["lr"] == 2e-3 and changed.name == "faster"
    with pytest.raises(TypeError):
        recipes.TUNED.model["lr"] = 1.0
    with pytest.raises(AttributeError):
        recipes.TUNED.max_epochs = 3
    json.dumps(recipes.TUNED.settings())  # plain values: artefacts are keyed by them
    assert recipes.get_recipe("tuned") is recipes.TUNED and recipes.get_recipe(changed) is changed


def test_load_or_train_trains_once_per_recipe_and_seed(split, tmp_path, monkeypatch):
    monkeypatch.setenv("DATA_PATH", str(tmp_path))
    monkeypatch.setattr(data, "tutorial_split", lambda: split)
    recipe = recipes.LESSON03.replace(name="quick", max_epochs=QUICK_EPOCHS)
    calls = []
    real_fit = recipes.Recipe.fit
    monkeypatch.setattr(recipes.Recipe, "fit", lambda self, *a, **k: calls.append(k["seed"]) or real_fit(self, *a, **k))
    first = models.load_or_train(recipe, seed=3)
    second = models.load_or_train(recipe, seed=3)
    models.load_or_train(recipe, seed=4)
    assert calls == [3, 4]
    assert (tmp_path / "artifacts" / "quick-seed3.pt").exists()
    assert torch.equal(first.item_embeddings.weight, second.item_embeddings.weight)
    manifest = json.loads((tmp_path / "artifacts" / "quick-seed3.manifest.json").read_text())
    assert manifest["settings"]["recipe"] == recipe.settings() and manifest["settings"]["seed"] == 3


def test_the_lesson_models_are_registered_with_their_recipe():
    for name, recipe in (("mf_lesson03", recipes.LESSON03), ("mf_tuned", recipes.TUNED)):
        entry = artifacts.registered(name)
        assert entry.settings["recipe"] == recipe.settings() and entry.settings["seed"] == models.LESSON_SEED
