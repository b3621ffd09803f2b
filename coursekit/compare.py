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
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd

from coursekit._checks import check_int

M = TypeVar("M")

# evaluate_in_batches imports tqdm.auto, which warns on stderr ("IProgress not found") in a Jupyter
# kernel without ipywidgets, although its progress bar is never shown there. Import it once, quietly.
# (Belongs in coursekit.course.setup(); kept here until it moves there.)
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import tqdm.auto  # noqa: F401

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


def model_path(name: str) -> Path:
    """Where the trained model ``name`` is kept: ``<data path>/artifacts/<name>.pt``."""
    from coursekit.lessons import artifact_path

    return artifact_path(name).with_suffix(".pt")


def load_or_train_model(name: str, build: Callable[[], M]) -> M:
    """Load the model a lesson saved as ``name``, or ``build()`` one, save it, and return it.

    ``build`` trains and returns a coursekit model; it is only called when no model was saved.
    The loaded model is on the CPU and in eval mode; so is a freshly built one.
    """
    from coursekit.model import load_model

    if not callable(build):
        raise TypeError(f"build must be a function of no arguments, got {type(build).__name__}")
    path = model_path(name)
    if path.exists():
        return load_model(path)
    model = build()
    save_trained_model(model, name)
    return model.eval()


def save_trained_model(model: Any, name: str) -> Path:
    """Save ``model`` (atomically) as ``name`` for :func:`load_or_train_model`; return the path."""
    from coursekit.model import save_model

    path = model_path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    return save_model(model, os.fspath(path))
