"""``fit_timed``: train a model with a quiet ``CourseTrainer`` and say how long it took."""

from __future__ import annotations

import time
from typing import Any

from coursekit._checks import check_int


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
