"""coursekit.course.search: random search over a recipe's settings on a tiny data set."""

from __future__ import annotations

import pandas as pd
import pytest

from coursekit.course import recipes
from coursekit.course.search import SearchResult, _draw, random_search
from tests.contracts import clustered_split

QUICK = recipes.Recipe("quick", "2 epochs of a tiny model.", {"embedding_dim": 4, "lr": 5e-2, "batch_size": 64}, 2)


@pytest.fixture(scope="module")
def data():
    return clustered_split(num_users=40, num_items=20, clusters=4, per_user=4, seed=0)


def test_search_ranks_trials_and_returns_the_best_recipe(data):
    train, val = data
    space = {"lr": [1e-3, 5e-2], "embedding_dim": [2, 4], "max_epochs": [1, 2]}
    result = random_search(QUICK, space, train, val, n_trials=3, seed=0, progress=False)
    assert isinstance(result, SearchResult)
    trials = result.trials
    assert len(trials) == 3 and trials.index.name == "trial"
    assert list(trials.columns) == ["lr", "embedding_dim", "max_epochs", "MAP@10", "MRR", "AUC", "fit seconds"]
    assert trials["MAP@10"].is_monotonic_decreasing
    assert len(trials[["lr", "embedding_dim", "max_epochs"]].drop_duplicates()) == 3  # distinct settings
    best = result.best
    assert best.name == "searched" and best.kind == "mf"
    assert result.best_settings == {name: trials.iloc[0][name] for name in space}
    assert best.model["lr"] == trials.iloc[0]["lr"] and best.max_epochs == trials.iloc[0]["max_epochs"]
    assert best.model["batch_size"] == 64  # settings outside the space stay as the recipe has them
    # The best trial's score is what refitting the best recipe from fit_seed gives (same seed, same CPU).
    from coursekit.course.compare import evaluate_model

    model, _, _ = best.fit(train, val, seed=22)
    assert evaluate_model(val, model, train)["MAP@10"] == pytest.approx(trials.iloc[0]["MAP@10"], abs=1e-9)
    assert "3 trials by masked MAP@10" in str(result)


def test_the_same_seed_draws_the_same_settings_and_a_small_grid_is_searched_whole():
    import numpy as np

    space = {"lr": [1, 2, 3], "embedding_dim": [4, 5]}
    first = _draw(space, 4, np.random.default_rng(7))
    assert first == _draw(space, 4, np.random.default_rng(7))
    assert len({tuple(d.values()) for d in first}) == 4
    whole = _draw(space, 10, np.random.default_rng(7))
    assert sorted(tuple(d.values()) for d in whole) == [(a, b) for a in (1, 2, 3) for b in (4, 5)]


def test_unmasked_metric_and_other_names(data):
    train, val = data
    result = random_search(
        QUICK, {"lr": [1e-2]}, train, val, n_trials=1, seed=0, metric=("unmasked", "AUC"), progress=False
    )
    assert result.metric == ("unmasked", "AUC") and isinstance(result.trials, pd.DataFrame)


def test_bad_searches_are_named(data):
    train, val = data
    with pytest.raises(ValueError, match="'colour', which is not a MatrixFactorizationModel keyword"):
        random_search(QUICK, {"colour": [1]}, train, val, n_trials=1, seed=0)
    with pytest.raises(ValueError, match="non-empty list"):
        random_search(QUICK, {"lr": []}, train, val, n_trials=1, seed=0)
    with pytest.raises(ValueError, match="metric"):
        random_search(QUICK, {"lr": [1e-2]}, train, val, n_trials=1, seed=0, metric=("masked", "F1"))
    with pytest.raises(ValueError, match="no settings to search"):
        random_search(recipes.POPULARITY, {"lr": [1e-2]}, train, val, n_trials=1, seed=0)
    with pytest.raises(ValueError, match="n_trials must be >= 1"):
        random_search(QUICK, {"lr": [1e-2]}, train, val, n_trials=0, seed=0)
