"""Train, time, evaluate and compare models in one table; keep trained models for later lessons.

The lessons compare several models on the same validation data, each twice:

* **unmasked**: every item is ranked, including the ones the user already interacted with
  in training. A model that re-recommends those is rewarded for nothing, and punished
  for ranking them above held-out items it has no way to tell apart from them;
* **masked** (``train_interactions=train``): training items are removed from the ranking,
  which is what a recommender shows a user. This is the honest number.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd

from coursekit._checks import check_int

M = TypeVar("M")

#: The course's tuned model (lesson 04, ``benchmarks/quality.py``): ``MatrixFactorizationModel``
#: keywords plus ``max_epochs``. Chosen by a small grid search (embedding size, learning rates, loss,
#: negatives, weight decay) scored by masked MAP@10 on the tutorial split's validation part, so that
#: score is optimistic. No learning-rate schedule: the validation loss it would watch counts a user's
#: training items as negatives, and cut the rate while rankings still improved.
TUNED: dict[str, Any] = {
    "embedding_dim": 64,
    "lr": 2e-3,
    "bias_lr": 1e-1,
    "optimizer": "adam",
    "bias_optimizer": "sgd",
    "loss": "hinge",  # adaptive_hinge with the tutorial split's 10 negatives: the hardest one counts
    "weight_decay": 1e-4,  # L2 on the embeddings; biases are not decayed
    "lr_scheduler_func": None,
    "max_epochs": 10,
}

#: Column names of :func:`evaluate_model`, in order.
METRIC_NAMES = ("MAP@10", "MRR", "AUC")


def fit_timed(model: Any, max_epochs: int = 10, **trainer_kwargs: Any) -> tuple[Any, float]:
    """Train ``model`` with a quiet ``CourseTrainer``; return ``(trainer, seconds)``.

    The model is left in eval mode, ready to score. ``trainer_kwargs`` go to
    :class:`coursekit.model.CourseTrainer` (the progress bar is off unless asked for).
    """
    from coursekit.model import CourseTrainer

    max_epochs = check_int("max_epochs", max_epochs, minimum=1)
    trainer_kwargs.setdefault("enable_progress_bar", False)
    trainer = CourseTrainer(model, max_epochs=max_epochs, **trainer_kwargs)
    started = time.perf_counter()
    trainer.fit(model)
    seconds = time.perf_counter() - started
    model.eval()
    return trainer, seconds


def train_tuned_model(train: Any, validation: Any = None, settings: Mapping[str, Any] | None = None) -> Any:
    """A ``MatrixFactorizationModel`` trained on ``train`` with ``settings`` (default :data:`TUNED`).

    ``settings`` holds model keywords and ``max_epochs``; the model comes back in eval mode.
    """
    from coursekit.model import MatrixFactorizationModel

    settings = dict(TUNED if settings is None else settings)
    max_epochs = settings.pop("max_epochs", 10)
    model = MatrixFactorizationModel(train=train, val=validation, **settings)
    fit_timed(model, max_epochs=max_epochs)
    return model


def evaluate_model(model: Any, validation: Any, train: Any = None, k: int = 10) -> dict[str, float]:
    """MAP@k, MRR and AUC of ``model`` on ``validation``, masking ``train`` items when given.

    Returns
    -------
    dict
        ``{"MAP@10": ..., "MRR": ..., "AUC": ...}`` (the first key names ``k``).
    """
    from coursekit.metrics import auc, evaluate_in_batches, mapk, mrr

    k = check_int("k", k, minimum=1)
    values = evaluate_in_batches([mapk, mrr, auc], validation, model, k=k, train_interactions=train, progress=False)
    names = (f"MAP@{k}", *METRIC_NAMES[1:])
    return dict(zip(names, values))


def compare_models(models: Mapping[str, Any], validation: Any, train: Any, k: int = 10) -> pd.DataFrame:
    """One row per model: its metrics unmasked and masked by ``train``.

    Parameters
    ----------
    models
        ``{name: model}``, in the order the rows should appear.
    validation
        Held-out interactions.
    train
        The training interactions, masked in the ``masked`` columns.
    k
        Cut-off of MAP@k.

    Returns
    -------
    pandas.DataFrame
        Index: model names. Columns: two levels, ``("unmasked" | "masked", metric)``.
    """
    if not isinstance(models, Mapping) or len(models) == 0:
        raise ValueError(f"models must be a non-empty {{name: model}} mapping, got {models!r}")
    rows = {}
    for name, model in models.items():
        unmasked = evaluate_model(model, validation, None, k)
        masked = evaluate_model(model, validation, train, k)
        rows[name] = {
            **{("unmasked", metric): value for metric, value in unmasked.items()},
            **{("masked", metric): value for metric, value in masked.items()},
        }
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.columns = pd.MultiIndex.from_tuples(table.columns, names=["evaluation", "metric"])
    table.index.name = "model"
    return table


def popular_share(model: Any, train: Any, k: int = 10, head: int = 100) -> float:
    """Share of the model's top-``k`` recommendations that are among the ``head`` most popular items.

    Recommendations leave out each user's training items, as a recommender would; every user
    with training interactions counts once. Popularity counts training interactions (ties go to
    the lower item id). 1.0 means every list is made of blockbusters only; even
    ``PopularityModel`` scores below 1.0 when users have already seen much of the head,
    since seen items are left out.
    """
    import numpy as np
    import torch

    k = check_int("k", k, minimum=1)
    head = check_int("head", head, minimum=1)
    mat = train.mat.tocsr()
    if (model.num_users, model.num_items) != mat.shape:
        raise ValueError(f"model is {model.num_users}x{model.num_items} but train is {mat.shape[0]}x{mat.shape[1]}")
    counts = np.bincount(mat.indices, minlength=mat.shape[1])
    popular = np.argsort(-counts, kind="stable")[:head]
    users = np.flatnonzero(np.diff(mat.indptr) > 0)
    with torch.no_grad():
        scores = model.score_all_items(torch.as_tensor(users, dtype=torch.int64)).detach().cpu().float().clone()
    seen = mat[users].tocoo()
    scores[torch.as_tensor(seen.row, dtype=torch.int64), torch.as_tensor(seen.col, dtype=torch.int64)] = float("-inf")
    top = scores.topk(min(k, mat.shape[1]), dim=1).indices.numpy()
    return float(np.isin(top, popular).mean())


def model_path(name: str) -> Path:
    """Where the trained model ``name`` is kept: ``<data path>/artifacts/<name>.pt``."""
    from coursekit.lessons import artifact_path

    return artifact_path(name).with_suffix(".pt")


def load_or_train_model(name: str, build: Callable[[], M]) -> M:
    """Load the model a lesson saved as ``name``, or ``build()`` one, save it, and return it.

    ``build`` trains and returns a coursekit model; it is only called when no model was saved.
    The loaded model is on the CPU and in eval mode; so is a freshly built one.
    """
    from coursekit.lessons import load_or_build
    from coursekit.model import load_model

    if not callable(build):
        raise TypeError(f"build must be a function of no arguments, got {type(build).__name__}")
    def load(model_name: str) -> M:
        return load_model(model_path(model_name))

    return load_or_build(name, lambda: build().eval(), load=load, save=save_trained_model)


def save_trained_model(model: Any, name: str) -> Path:
    """Save ``model`` (atomically) as ``name`` for :func:`load_or_train_model`; return the path."""
    from coursekit.model import save_model

    path = model_path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    return save_model(model, os.fspath(path))
