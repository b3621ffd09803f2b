"""Evaluate and compare models in one table, and check comparisons over several seeds.

The lessons compare several models on the same held-out data, each twice:

* **unmasked**: every item is ranked, including the ones the user already interacted with
  in training. A model that re-recommends those is rewarded for nothing, and punished
  for ranking them above held-out items it has no way to tell apart from them;
* **masked** (``train_interactions=train``): training items are removed from the ranking,
  which is what a recommender shows a user. This is the honest number.

One training run is one draw: another seed gives other numbers. :func:`seed_study` trains a
recipe over several seeds and reports each metric's mean and spread; :func:`paired_comparison`
trains two recipes on the same seeds and reports their difference and how often each wins.

Argument order follows Collie's ``evaluate_in_batches(metric_list, test_interactions, model)``:
held-out data first, then the model(s), then ``train_interactions`` (masking). The old order
``(model, validation, train)`` still works for one release, with a ``DeprecationWarning``.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from coursekit._checks import check_int
from coursekit.course.recipes import Recipe, get_recipe
from coursekit.course.training import fit_timed

__all__ = [
    "METRIC_NAMES",
    "PairedComparison",
    "SeedStudy",
    "compare_models",
    "evaluate_model",
    "fit_timed",
    "paired_comparison",
    "popular_share",
    "seed_study",
]

#: Column names of :func:`evaluate_model`, in order (the first names ``k``).
METRIC_NAMES = ("MAP@10", "MRR", "AUC")
#: Seeds used when a study is given a count: ``range(n)``.
DEFAULT_SEEDS = 5


def _is_model(obj: Any) -> bool:
    return hasattr(obj, "score_all_items")


def _deprecated_order(function: str, old: str, new: str) -> None:
    warnings.warn(
        f"{function}({old}) is deprecated: pass {new} (held-out data first, as in evaluate_in_batches)",
        DeprecationWarning,
        stacklevel=3,
    )


def evaluate_model(test_interactions: Any, model: Any, train_interactions: Any = None, k: int = 10) -> dict[str, float]:
    """MAP@k, MRR and AUC of ``model`` on ``test_interactions``, masking ``train_interactions`` items when given.

    Returns
    -------
    dict
        ``{"MAP@10": ..., "MRR": ..., "AUC": ...}`` (the first key names ``k``).
    """
    from coursekit.metrics import auc, evaluate_in_batches, mapk, mrr

    if _is_model(test_interactions) and not _is_model(model):
        _deprecated_order(
            "evaluate_model", "model, validation, train", "(test_interactions, model, train_interactions)"
        )
        test_interactions, model = model, test_interactions
    k = check_int("k", k, minimum=1)
    values = evaluate_in_batches(
        [mapk, mrr, auc], test_interactions, model, k=k, train_interactions=train_interactions, progress=False
    )
    return dict(zip((f"MAP@{k}", *METRIC_NAMES[1:]), values))


def compare_models(test_interactions: Any, models: Any, train_interactions: Any = None, k: int = 10) -> pd.DataFrame:
    """One row per model: its metrics unmasked and, with ``train_interactions``, masked.

    Parameters
    ----------
    test_interactions
        Held-out interactions.
    models
        ``{name: model}``, in the order the rows should appear.
    train_interactions
        The training interactions, masked in the ``masked`` columns (no masked columns without).
    k
        Cut-off of MAP@k.

    Returns
    -------
    pandas.DataFrame
        Index: model names. Columns: two levels, ``("unmasked" | "masked", metric)``.
    """
    if isinstance(test_interactions, Mapping):
        _deprecated_order(
            "compare_models", "models, validation, train", "(test_interactions, models, train_interactions)"
        )
        test_interactions, models = models, test_interactions
    if not isinstance(models, Mapping) or len(models) == 0:
        raise ValueError(f"models must be a non-empty {{name: model}} mapping, got {models!r}")
    rows = {name: _row(test_interactions, model, train_interactions, k) for name, model in models.items()}
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.columns = pd.MultiIndex.from_tuples(table.columns, names=["evaluation", "metric"])
    table.index.name = "model"
    return table


def _row(test_interactions: Any, model: Any, train_interactions: Any, k: int) -> dict[tuple[str, str], float]:
    row = {("unmasked", metric): value for metric, value in evaluate_model(test_interactions, model, None, k).items()}
    if train_interactions is not None:
        masked = evaluate_model(test_interactions, model, train_interactions, k)
        row.update({("masked", metric): value for metric, value in masked.items()})
    return row


def popular_share(
    model: Any, train_interactions: Any = None, k: int = 10, head: int = 100, *, train: Any = None
) -> float:
    """Share of the model's top-``k`` recommendations that are among the ``head`` most popular items.

    Recommendations leave out each user's training items, as a recommender would; every user
    with training interactions counts once. Popularity counts training interactions (ties go to
    the lower item id). 1.0 means every list is made of blockbusters only; even
    ``PopularityModel`` scores below 1.0 when users have already seen much of the head,
    since seen items are left out. (``train=`` is the old name of ``train_interactions``.)
    The library's :func:`coursekit.catalogue.popular_share` computes it.
    """
    from coursekit import catalogue

    if train is not None:
        warnings.warn(
            "popular_share(train=...) is deprecated: use train_interactions=", DeprecationWarning, stacklevel=2
        )
        train_interactions = train if train_interactions is None else train_interactions
    if train_interactions is None:
        raise TypeError("popular_share needs train_interactions, the interactions the model was trained on")
    return catalogue.popular_share(model, train_interactions, k=k, head=head)


# -- over seeds -----------------------------------------------------------------------------------

#: An extra per-model measurement for the studies: ``f(model, train_interactions) -> float``.
Extra = Callable[[Any, Any], float]


@dataclasses.dataclass(frozen=True)
class SeedStudy:
    """One recipe trained from several seeds: per-seed metrics and their mean and spread."""

    recipe: str
    seeds: tuple[int, ...]
    per_seed: pd.DataFrame  # index: seed; columns: (evaluation, metric)
    fit_seconds: tuple[float, ...]

    @property
    def summary(self) -> pd.DataFrame:
        """One row per metric: ``mean``, ``std`` (sample standard deviation over seeds), ``min``, ``max``, ``n``."""
        values = self.per_seed
        return pd.DataFrame(
            {
                "mean": values.mean(),
                "std": values.std(ddof=1) if len(values) > 1 else np.nan,
                "min": values.min(),
                "max": values.max(),
                "n": len(values),
            }
        )

    def __str__(self) -> str:
        return f"{self.recipe} over seeds {list(self.seeds)}:\n{self.summary.round(4).to_string()}"


@dataclasses.dataclass(frozen=True)
class PairedComparison:
    """Two recipes trained from the same seeds: ``difference = second - first`` per seed and overall."""

    first: SeedStudy
    second: SeedStudy

    @property
    def differences(self) -> pd.DataFrame:
        """``second - first`` for every seed (rows) and metric (columns)."""
        return self.second.per_seed - self.first.per_seed

    @property
    def summary(self) -> pd.DataFrame:
        """Per metric: both means, the difference's mean and spread (sample std), and the second's wins out of ``n``."""
        differences = self.differences
        return pd.DataFrame(
            {
                f"{self.first.recipe} mean": self.first.per_seed.mean(),
                f"{self.second.recipe} mean": self.second.per_seed.mean(),
                "difference mean": differences.mean(),
                "difference std": differences.std(ddof=1) if len(differences) > 1 else np.nan,
                "wins": (differences > 0).sum(),
                "n": len(differences),
            }
        )

    def __str__(self) -> str:
        return (
            f"{self.second.recipe} - {self.first.recipe} over seeds {list(self.first.seeds)} "
            f"(wins: seeds where {self.second.recipe} is higher):\n{self.summary.round(4).to_string()}"
        )


def seed_study(
    test_interactions: Any,
    recipe: str | Recipe,
    train_interactions: Any,
    seeds: int | Sequence[int] = DEFAULT_SEEDS,
    val: Any = None,
    k: int = 10,
    extra: Mapping[str, Extra] | None = None,
) -> SeedStudy:
    """Train ``recipe`` on ``train_interactions`` once per seed and evaluate each model on ``test_interactions``.

    Parameters
    ----------
    test_interactions
        Held-out interactions the models are scored on (unmasked and masked).
    recipe
        A :class:`~coursekit.course.recipes.Recipe` or the name of one.
    train_interactions
        What the models train on (and what the masked columns leave out).
    seeds
        The seeds, or how many (``n`` means ``0, 1, ..., n - 1``); at least 2 for a spread.
    val
        Passed to the model as ``val`` (its loss is what the default schedule watches).
    k
        Cut-off of MAP@k.
    extra
        ``{column: f(model, train_interactions)}``, e.g. ``{"popular share": popular_share}``.

    Returns
    -------
    SeedStudy
        ``per_seed`` (one row per seed) and ``summary`` (mean, std, min, max per metric).
    """
    recipe = get_recipe(recipe)
    seeds = _seeds(seeds)
    k = check_int("k", k, minimum=1)
    extra = dict(extra or {})
    rows, seconds = {}, []
    for seed in seeds:
        model, _, fit_time = recipe.fit(train_interactions, val, seed=seed)
        row = _row(test_interactions, model, train_interactions, k)
        row.update({("other", name): float(measure(model, train_interactions)) for name, measure in extra.items()})
        rows[seed] = row
        seconds.append(fit_time)
    per_seed = pd.DataFrame.from_dict(rows, orient="index")
    per_seed.columns = pd.MultiIndex.from_tuples(per_seed.columns, names=["evaluation", "metric"])
    per_seed.index.name = "seed"
    return SeedStudy(recipe.name, seeds, per_seed, tuple(seconds))


def paired_comparison(
    test_interactions: Any,
    first: str | Recipe,
    second: str | Recipe,
    train_interactions: Any,
    seeds: int | Sequence[int] = DEFAULT_SEEDS,
    val: Any = None,
    k: int = 10,
    extra: Mapping[str, Extra] | None = None,
) -> PairedComparison:
    """Train two recipes from the same seeds and compare them seed by seed (see :func:`seed_study`).

    A paired comparison cancels what both runs of one seed share, so its spread is usually
    smaller than either recipe's own. ``summary`` gives ``second - first``: its mean, its spread
    and in how many of the ``n`` seeds ``second`` scored higher.
    """
    first, second = get_recipe(first), get_recipe(second)
    if first.name == second.name:
        raise ValueError(f"first and second must be different recipes, got {first.name!r} twice")
    seeds = _seeds(seeds)
    return PairedComparison(
        seed_study(test_interactions, first, train_interactions, seeds, val, k, extra),
        seed_study(test_interactions, second, train_interactions, seeds, val, k, extra),
    )


def _seeds(seeds: int | Sequence[int]) -> tuple[int, ...]:
    if isinstance(seeds, (int, np.integer)) and not isinstance(seeds, bool):
        return tuple(range(check_int("seeds", int(seeds), minimum=1)))
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, Sequence) or len(seeds) == 0:
        raise ValueError(f"seeds must be a count or a non-empty sequence of seeds, got {seeds!r}")
    result = tuple(check_int("seeds", seed, minimum=0) for seed in seeds)
    if len(set(result)) != len(result):
        raise ValueError(f"seeds must be distinct, got {list(seeds)}")
    return result
