"""The headline table of lesson 06 and the README: each model once on test, with intervals over users.

:func:`report_on_test` is the one place that turns models and a test split into the figures the course
quotes: masked MAP@10 with its 95 % bootstrap interval over test users, NDCG@10, recall@10,
precision@10, the share of the catalogue anyone is recommended (coverage) and the share of the
lists taken by the 100 most popular movies. Lesson 06 prints it and ``benchmarks/quality.py --test``
writes it for the README, so the two cannot disagree.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from coursekit._checks import check_int

#: The columns of :func:`report_on_test`, in order.
REPORT_COLUMNS = ("MAP@10", "95% interval", "NDCG@10", "recall@10", "precision@10", "coverage", "top-100 share")


def per_user_scores(test_interactions: Any, model: Any, train_interactions: Any, k: int = 10) -> pd.DataFrame:
    """Masked MAP@k, NDCG@k, recall@k and precision@k of every test user (columns named as in the report)."""
    from coursekit.metrics import mapk, ndcg, per_user_metrics, precision, recall

    names = [f"MAP@{k}", f"NDCG@{k}", f"recall@{k}", f"precision@{k}"]
    return per_user_metrics(
        [mapk, ndcg, recall, precision],
        test_interactions,
        model,
        k=k,
        train_interactions=train_interactions,
        names=names,
    )


def report_on_test(
    test_interactions: Any,
    models: Mapping[str, Any],
    train_interactions: Any,
    n_resamples: int = 1000,
    seed: int = 0,
) -> pd.DataFrame:
    """One row per model: masked metrics at 10 on ``test_interactions`` and a bootstrap interval for MAP@10.

    Parameters
    ----------
    test_interactions
        The held-out test split (each user's training items are masked).
    models
        ``{name: trained model}``, in the order of the rows.
    train_interactions
        What the models trained on: masked in the rankings, and the popularity the catalogue columns use.
    n_resamples, seed
        Of the percentile bootstrap over test users (:func:`coursekit.intervals.bootstrap_interval`).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`REPORT_COLUMNS`; ``95% interval`` is text (``"[0.1290, 0.1480]"``).
    """
    from coursekit.catalogue import catalogue_coverage, popular_share
    from coursekit.intervals import bootstrap_interval

    if not isinstance(models, Mapping) or not models:
        raise ValueError(f"models must be a non-empty {{name: model}} mapping, got {models!r}")
    n_resamples = check_int("n_resamples", n_resamples, minimum=1)
    rows = {}
    for name, model in models.items():
        scores = per_user_scores(test_interactions, model, train_interactions)
        interval = bootstrap_interval(scores["MAP@10"], n_resamples=n_resamples, seed=seed)
        rows[name] = {
            "MAP@10": interval.mean,
            "95% interval": f"[{interval.low:.4f}, {interval.high:.4f}]",
            **scores.drop(columns="MAP@10").mean().to_dict(),
            "coverage": catalogue_coverage(model, train_interactions),
            "top-100 share": popular_share(model, train_interactions),
        }
    table = pd.DataFrame.from_dict(rows, orient="index")[list(REPORT_COLUMNS)]
    table.index.name = "model"
    return table


#: The baselines lesson 06 tries, by family: each family's settings are chosen on validation.
BASELINE_CANDIDATES: dict[str, list[dict[str, Any]]] = {
    "item-kNN": [{"neighbours": 50}, {"neighbours": 200}, {"neighbours": None}],
    "ALS": [{"factors": f, "regularization": r} for f in (16, 64) for r in (0.05, 1.0)],
    "BPR": [{"factors": 32, "learning_rate": lr} for lr in (0.005, 0.01)],
}


def _baseline_class(family: str) -> Any:
    from coursekit.model import ItemKNNModel, implicit_available

    if family == "item-kNN":
        return ItemKNNModel
    if not implicit_available():
        return None
    from coursekit.model import ImplicitALSModel, ImplicitBPRModel

    return {"ALS": ImplicitALSModel, "BPR": ImplicitBPRModel}[family]


def choose_baselines(train_interactions: Any, val_interactions: Any, seed: int = 0) -> tuple[dict[str, Any], pd.Series]:
    """Fit every :data:`BASELINE_CANDIDATES` setting on train and keep each family's best by masked MAP@10 on validation.

    ALS and BPR need the optional ``implicit`` library (``pip install "coursekit-recsys[baselines]"``);
    without it those families are left out and a note is printed.

    Returns
    -------
    (dict, pandas.Series)
        ``{family: best model}`` and every candidate's validation score (index ``"family, settings"``).
    """
    from coursekit.course.compare import evaluate_model

    best, scores = {}, {}
    for family, settings in BASELINE_CANDIDATES.items():
        cls = _baseline_class(family)
        if cls is None:
            print(f"implicit is not installed: {family} is skipped (pip install 'coursekit-recsys[baselines]')")
            continue
        family_scores = {}
        for options in settings:
            extra = {} if family == "item-kNN" else {"seed": seed}
            model = cls(train_interactions, **options, **extra)
            label = f"{family}, " + ", ".join(f"{key} {value}" for key, value in options.items())
            family_scores[label] = (evaluate_model(val_interactions, model, train_interactions)["MAP@10"], model)
        label = max(family_scores, key=lambda name: family_scores[name][0])  # first of equals wins
        best[family] = family_scores[label][1]
        scores.update({name: score for name, (score, _) in family_scores.items()})
    return best, pd.Series(scores, name="masked MAP@10 on validation")
