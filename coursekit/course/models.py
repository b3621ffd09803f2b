"""Trained models as artefacts: the lesson models (``mf_lesson03``, ``mf_tuned``) and any recipe's.

A trained model is saved with the recipe settings, seed and data that made it, so a changed recipe
retrains instead of reusing a stale model (see :mod:`coursekit.course.artifacts`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from coursekit._checks import check_int
from coursekit.course import artifacts, data
from coursekit.course.recipes import LESSON03, TUNED, Recipe, get_recipe

M = TypeVar("M")

#: Seed of the models the lessons save for later lessons.
LESSON_SEED = 22


def model_path(name: str) -> Path:
    """Where the trained model ``name`` is kept: ``<data path>/artifacts/<name>.pt``."""
    return artifacts.artifact_path(name, "model")


def recipe_settings(recipe: str | Recipe, seed: int, data_settings: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """What a model trained by ``recipe`` from ``seed`` on the described data is keyed by."""
    recipe = get_recipe(recipe)
    return {"recipe": recipe.settings(), "seed": check_int("seed", seed, minimum=0), "data": dict(data_settings or {})}


def train_on_tutorial_split(recipe: str | Recipe, seed: int = LESSON_SEED) -> Any:
    """``recipe`` trained on the tutorial split (validation passed, as the lessons do) from ``seed``."""
    train, validation = data.tutorial_split()
    model, _, _ = get_recipe(recipe).fit(train, validation, seed=seed)
    return model


def load_or_train(recipe: str | Recipe, seed: int = LESSON_SEED, name: str | None = None) -> Any:
    """The model ``recipe`` trains on the tutorial split from ``seed``: loaded when saved with these settings, else trained and saved.

    ``name`` defaults to ``"<recipe name>-seed<seed>"``.
    """
    recipe = get_recipe(recipe)
    name = f"{recipe.name}-seed{seed}" if name is None else name
    settings = recipe_settings(recipe, seed, data.TUTORIAL_SPLIT_SETTINGS)
    return artifacts.load_or_build(name, lambda: train_on_tutorial_split(recipe, seed), settings)


def save_trained_model(model: Any, name: str, settings: Mapping[str, Any] | None = None) -> Path:
    """Save ``model`` (atomically, with a manifest) as ``name``; return the ``.pt`` path."""
    return artifacts.save_artifact(model, name, settings)


def load_or_train_model(name: str, build: Callable[[], M], settings: Mapping[str, Any] | None = None) -> M:
    """Load the model a lesson saved as ``name``, or ``build()`` one, save it, and return it.

    ``build`` trains and returns a coursekit model; it is called when no valid model with these
    ``settings`` (default: the registered ones of ``name``) was saved. The loaded model is on the
    CPU and in eval mode; so is a freshly built one.
    """
    if not callable(build):
        raise TypeError(f"build must be a function of no arguments, got {type(build).__name__}")
    return artifacts.load_or_build(name, lambda: build().eval(), settings)


def train_tuned_model(
    train: Any, validation: Any = None, settings: Mapping[str, Any] | None = None, seed: int | None = None
) -> Any:
    """A ``MatrixFactorizationModel`` trained on ``train`` with ``settings`` (default: the TUNED recipe).

    ``settings`` holds model keywords and ``max_epochs`` (the old ``TUNED`` dict's shape). ``seed=None``
    draws the model's seed from torch's global RNG, as the lessons did before recipes took seeds.
    """
    from coursekit.course.training import fit_timed
    from coursekit.model import MatrixFactorizationModel

    settings = dict(TUNED.as_dict() if settings is None else settings)
    max_epochs = settings.pop("max_epochs", 10)
    model = MatrixFactorizationModel(train=train, val=validation, seed=seed, **settings)
    fit_timed(model, max_epochs=max_epochs)
    return model


def _register_lesson_model(name: str, recipe: Recipe) -> None:
    settings = recipe_settings(recipe, LESSON_SEED, data.TUTORIAL_SPLIT_SETTINGS)
    artifacts.register(name, lambda: train_on_tutorial_split(recipe, LESSON_SEED), settings)


_register_lesson_model("mf_lesson03", LESSON03)
_register_lesson_model("mf_tuned", TUNED)
