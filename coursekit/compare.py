"""Old home of the comparison helpers: they live in :mod:`coursekit.course` (course layer).

The names the lessons use work here without a warning, in the lessons' old argument order
``evaluate_model(model, validation, train)`` and ``compare_models(models, validation, train)``
as well as the new one (held-out data first; :mod:`coursekit.course.compare` warns about the old
order). ``TUNED`` here is the old dict (model keywords plus ``max_epochs``);
:data:`coursekit.course.recipes.TUNED` is the recipe. Other names warn with a ``DeprecationWarning``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from coursekit._deprecation import moved_names
from coursekit.course import compare as _compare
from coursekit.course.models import load_or_train_model, save_trained_model, train_tuned_model
from coursekit.course.recipes import TUNED as _TUNED_RECIPE
from coursekit.course.training import fit_timed

__all__ = [
    "TUNED",
    "compare_models",
    "evaluate_model",
    "fit_timed",
    "load_or_train_model",
    "popular_share",
    "save_trained_model",
    "train_tuned_model",
]

#: The tuned settings as the lessons print and unpack them: model keywords plus ``max_epochs``.
TUNED: dict[str, Any] = _TUNED_RECIPE.as_dict()


def evaluate_model(*args: Any, **kwargs: Any) -> dict[str, float]:
    """:func:`coursekit.course.evaluate_model`, also in the old order ``(model, validation, train, k)``."""
    if args and _compare._is_model(args[0]) and len(args) > 1:
        args = (args[1], args[0], *args[2:])
    return _compare.evaluate_model(*args, **kwargs)


def compare_models(*args: Any, **kwargs: Any) -> pd.DataFrame:
    """:func:`coursekit.course.compare_models`, also in the old order ``(models, validation, train, k)``."""
    if args and isinstance(args[0], Mapping) and len(args) > 1:
        args = (args[1], args[0], *args[2:])
    return _compare.compare_models(*args, **kwargs)


def popular_share(model: Any, train: Any, k: int = 10, head: int = 100) -> float:
    """:func:`coursekit.course.popular_share` with the old parameter name ``train``."""
    return _compare.popular_share(model, train, k=k, head=head)


_MOVED = {
    "METRIC_NAMES": "coursekit.course.compare",
    "model_path": "coursekit.course.models",
}


__getattr__ = moved_names(__name__, _MOVED)
