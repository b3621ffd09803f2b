"""A small random search over a recipe's settings, scored on validation data with masking.

``random_search(TUNED, {"lr": [1e-3, 2e-3, 5e-3], "embedding_dim": [32, 64]}, train, val,
n_trials=4, seed=0)`` draws 4 distinct settings from the grid (all of them, in random order, when
``n_trials`` is at least the grid's size), trains each with the same ``fit_seed`` and ranks them by
the validation metric. The best score is optimistic: it was picked on the data it is measured on;
confirm on test data (or over seeds) before quoting it.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from tqdm import tqdm

from coursekit._checks import check_int
from coursekit.course.compare import METRIC_NAMES, evaluate_model
from coursekit.course.recipes import Recipe, get_recipe

__all__ = ["SearchResult", "random_search"]

_EVALUATIONS = ("masked", "unmasked")


@dataclasses.dataclass(frozen=True)
class SearchResult:
    """The trials of :func:`random_search`, best first, and the best recipe.

    ``trials``: one row per trial (index: trial number in drawing order), a column per searched
    setting, then the metrics (``masked`` or ``unmasked``, as searched) and ``fit seconds``,
    sorted by ``metric`` (highest first; equal scores keep drawing order).
    """

    trials: pd.DataFrame
    best: Recipe
    metric: tuple[str, str]
    searched: tuple[str, ...]  # the settings in the search space, in its order

    @property
    def best_settings(self) -> dict[str, Any]:
        """The searched settings of the best trial, e.g. ``{"lr": 0.002, "embedding_dim": 64}``."""
        return {name: self.best.max_epochs if name == "max_epochs" else self.best.model[name] for name in self.searched}

    def __str__(self) -> str:
        return (
            f"{len(self.trials)} trials by {self.metric[0]} {self.metric[1]}, best first:\n"
            f"{self.trials.to_string(float_format='{:.4f}'.format)}"
        )


def _searchable(recipe: Recipe) -> set[str]:
    if recipe.kind != "mf":
        raise ValueError(f"recipe {recipe.name!r} is a {recipe.kind} recipe: it has no settings to search")
    from coursekit.model import MatrixFactorizationModel

    parameters = inspect.signature(MatrixFactorizationModel.__init__).parameters
    return {name for name in parameters if name not in ("self", "train", "val", "seed")} | {"max_epochs"}


def _check_space(space: Any, recipe: Recipe) -> dict[str, list[Any]]:
    if not isinstance(space, Mapping) or len(space) == 0:
        raise ValueError(f"space must be a non-empty {{setting: [values]}} mapping, got {space!r}")
    allowed = _searchable(recipe)
    checked = {}
    for name, values in space.items():
        if name not in allowed:
            raise ValueError(
                f"space has {name!r}, which is not a MatrixFactorizationModel keyword or max_epochs; "
                f"choose from {sorted(allowed)}"
            )
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or len(values) == 0:
            raise ValueError(f"space[{name!r}] must be a non-empty list of values, got {values!r}")
        checked[name] = list(values)
    return checked


def _check_metric(metric: Any) -> tuple[str, str, int]:
    """``(evaluation, name, k)`` from e.g. ``("masked", "MAP@10")``."""
    if not (isinstance(metric, tuple) and len(metric) == 2 and metric[0] in _EVALUATIONS):
        raise ValueError(
            f"metric must be ('masked' or 'unmasked', metric name), e.g. ('masked', 'MAP@10'); got {metric!r}"
        )
    name = metric[1]
    if isinstance(name, str) and name.startswith("MAP@") and name[4:].isdigit() and int(name[4:]) >= 1:
        return metric[0], name, int(name[4:])
    if name in METRIC_NAMES[1:]:
        return metric[0], name, 10
    raise ValueError(f"metric name must be 'MAP@<k>', 'MRR' or 'AUC', got {name!r}")


def _draw(space: dict[str, list[Any]], n_trials: int, rng: np.random.Generator) -> list[dict[str, Any]]:
    """``n_trials`` distinct settings of the grid (all of it, shuffled, when it is that small)."""
    sizes = [len(values) for values in space.values()]
    grid = math.prod(sizes)
    if grid <= 2**62:
        picks = rng.permutation(grid)[:n_trials] if n_trials >= grid else rng.choice(grid, n_trials, replace=False)
        # Mixed-radix digits of each grid index: one value index per setting.
        positions = np.stack(np.unravel_index(np.asarray(picks, dtype=np.int64), sizes), axis=1)
    else:  # too many combinations to number: draw each setting independently (repeats are unlikely)
        positions = np.stack([rng.integers(0, size, n_trials) for size in sizes], axis=1)
    names = list(space)
    return [{name: space[name][int(i)] for name, i in zip(names, row)} for row in positions]


def random_search(
    recipe: str | Recipe,
    space: Mapping[str, Sequence[Any]],
    train: Any,
    val: Any,
    n_trials: int,
    seed: int,
    metric: tuple[str, str] = ("masked", "MAP@10"),
    fit_seed: int = 22,
    progress: bool = True,
) -> SearchResult:
    """Train ``recipe`` with ``n_trials`` settings drawn from ``space`` and rank them on ``val``.

    Parameters
    ----------
    recipe
        A :class:`~coursekit.course.recipes.Recipe` (of kind ``'mf'``) or its name: the settings
        not in ``space`` stay as it has them.
    space
        ``{setting: [values]}``; settings are ``MatrixFactorizationModel`` keywords or ``max_epochs``.
    train, val
        What the models train on, and what they are scored on (``val`` is also passed to the model,
        as :meth:`Recipe.fit` does, for a schedule watching its loss).
    n_trials
        How many distinct settings to try (at most the grid's size).
    seed
        Seed of the draws (``numpy.random.default_rng(seed)``).
    metric
        ``(evaluation, name)`` to rank by: ``"masked"`` (training items left out) or
        ``"unmasked"``, and ``"MAP@<k>"``, ``"MRR"`` or ``"AUC"``.
    fit_seed
        The seed every trial's model trains from, so trials differ only in their settings.
    progress
        A tqdm bar over the trials.

    Returns
    -------
    SearchResult
        ``trials`` (a DataFrame, best first) and ``best``: the recipe with the best settings,
        named ``"searched"``.
    """
    recipe = get_recipe(recipe)
    space = _check_space(space, recipe)
    evaluation, name, k = _check_metric(metric)
    n_trials = check_int("n_trials", n_trials, minimum=1)
    seed = check_int("seed", seed, minimum=0)
    fit_seed = check_int("fit_seed", fit_seed, minimum=0)
    settings = _draw(space, n_trials, np.random.default_rng(seed))
    rows = []
    for trial in tqdm(settings, desc="random search", disable=not progress, leave=False):
        candidate = recipe.replace(**trial)
        model, _, seconds = candidate.fit(train, val, seed=fit_seed)
        scores = evaluate_model(val, model, train if evaluation == "masked" else None, k=k)
        rows.append({**trial, **scores, "fit seconds": seconds})
    trials = pd.DataFrame(rows)
    trials.index.name = "trial"
    trials = trials.sort_values(name, ascending=False, kind="stable")
    best = recipe.replace(name="searched", **settings[int(trials.index[0])])
    best = dataclasses.replace(
        best, description=f"{recipe.name} with {settings[int(trials.index[0])]} (random search, {evaluation} {name})"
    )
    return SearchResult(trials, best, (evaluation, name), tuple(space))
