"""``CourseTrainer``: a Lightning ``Trainer`` with quiet, reproducible course defaults and a loss history."""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import warnings
from typing import Any, Iterator

import pandas as pd
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Callback
from pytorch_lightning.callbacks.progress import ProgressBar

from coursekit.model.callbacks import EpochProgressBar, History
from coursekit.model.fast_loop import fast_loop_blockers, fit_epochs

# Lightning announces hardware ("GPU available: False ...") at INFO on these loggers.
LIGHTNING_LOGGERS = ("pytorch_lightning", "lightning.pytorch", "lightning_fabric", "lightning.fabric")

# Warnings that say nothing actionable about coursekit's loaders and small CPU runs.
NOISY_WARNINGS = (
    r".*does not have many workers",  # our loaders build batches with numpy, not worker processes
    r".*smaller than the logging interval",  # small data sets have few batches per epoch
    r".*isinstance\(treespec, LeafSpec\)",  # Lightning calling a newer torch's deprecated API
    r".*Checkpoint directory .* exists and is not empty",
    r"Total length of `list` across ranks is zero",  # a model without validation data
)


def ignore_noisy_warnings() -> None:
    """Add ``ignore`` filters for ``NOISY_WARNINGS`` to the current warning filters."""
    for pattern in NOISY_WARNINGS:
        warnings.filterwarnings("ignore", message=pattern)


@contextlib.contextmanager
def quiet_lightning() -> Iterator[None]:
    """Silence Lightning's INFO messages and its noisy warnings inside the block, then restore both."""
    loggers = [logging.getLogger(name) for name in LIGHTNING_LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(max(logger.getEffectiveLevel(), logging.WARNING))
    try:
        with warnings.catch_warnings():
            ignore_noisy_warnings()
            yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def default_accelerator() -> str:
    """``'gpu'`` when a CUDA GPU is available, else ``'cpu'`` (Apple's MPS is not chosen by default:
    sparse embeddings and the fused optimizers do not run there)."""
    return "gpu" if torch.cuda.is_available() else "cpu"


class CourseTrainer(pl.Trainer):
    """A ``pytorch_lightning.Trainer`` with the course's defaults.

    A CUDA GPU when one is available (else the CPU; pass ``accelerator='cpu'`` to stay on the CPU),
    deterministic, 10 epochs, no logger or checkpoint files unless asked, no model
    summary or hardware messages, one progress line advanced per epoch (:class:`EpochProgressBar`;
    pass Lightning's ``TQDMProgressBar`` in ``callbacks`` for per-batch updates), and ``history``:
    one row per epoch with the losses and learning rates. Every other keyword goes straight to Lightning
    (``accelerator``, ``devices``, ``strategy``, ``callbacks``, ...).

    Parameters
    ----------
    model
        Accepted for Collie compatibility and only checked: pass the model to ``fit``.
    max_epochs
        Number of passes over the training data. Settable, as in Collie: after ``fit``, set
        ``trainer.max_epochs = 20`` and call ``fit(model)`` again to continue for ten more epochs.
    deterministic
        Use deterministic algorithms, so a seeded run repeats exactly.
    fast
        Train a ``MatrixFactorizationModel`` with a plain loop (:mod:`coursekit.model.fast_loop`)
        instead of Lightning's when nothing needs Lightning's per-batch hooks: the same numbers,
        bit for bit on the CPU, in less time. Any callback, logger, strategy or keyword the loop
        does not reproduce (gradient clipping, batch limits, ...) means Lightning's loop; after
        ``fit``, ``used_fast_loop`` says which ran and ``fast_loop_blockers`` why not the fast one.
        ``fast=False``: always Lightning's loop.

    Notes
    -----
    Pressing Ctrl-C (KeyboardInterrupt, or a notebook's stop button) during ``fit`` stops
    training gracefully after the current batch: Lightning catches it, ``fit`` returns with a
    warning, ``trainer.interrupted`` is true, and the model keeps the weights learned so far.
    With spawned processes (``strategy='ddp_spawn'``) the weights come back but ``history``
    stays empty, since it was recorded in the worker processes.
    """

    def __init__(
        self,
        model: pl.LightningModule | None = None,
        max_epochs: int = 10,
        deterministic: bool = True,
        fast: bool = True,
        **kwargs: Any,
    ) -> None:
        if model is not None and not isinstance(model, pl.LightningModule):
            raise TypeError(f"model must be a LightningModule (or None), got {type(model).__name__}")
        self.fast = bool(fast)
        self.trainer_keywords = frozenset(kwargs)  # what fast_loop_blockers checks
        self.used_fast_loop: bool | None = None  # set by fit
        self.fast_loop_blockers: list[str] = []
        self.history_callback = History()
        callbacks = kwargs.pop("callbacks", None) or []
        callbacks = [callbacks] if isinstance(callbacks, Callback) else list(callbacks)
        defaults = {
            "accelerator": default_accelerator(),
            "logger": False,
            "enable_checkpointing": any(isinstance(c, pl.callbacks.Checkpoint) for c in callbacks),
            "enable_model_summary": False,
            "enable_progress_bar": True,
        }
        if kwargs.get("enable_progress_bar", True) and not any(isinstance(c, ProgressBar) for c in callbacks):
            callbacks.append(EpochProgressBar())
        with quiet_lightning():
            super().__init__(
                max_epochs=max_epochs,
                deterministic=deterministic,
                callbacks=[*callbacks, self.history_callback],
                **{**defaults, **kwargs},
            )

    @property
    def max_epochs(self) -> int | None:
        """Epochs to train in total; set it higher and call ``fit`` again to continue training."""
        return self.fit_loop.max_epochs

    @max_epochs.setter
    def max_epochs(self, value: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < -1:
            raise ValueError(f"max_epochs must be a whole number of epochs (or -1 for no limit), got {value!r}")
        if value != -1 and value < self.current_epoch:
            raise ValueError(
                f"max_epochs={value} is below the {self.current_epoch} epochs already trained; "
                "to train further, set it higher"
            )
        self.fit_loop.max_epochs = value

    @property
    def history(self) -> pd.DataFrame:
        """Per-epoch ``epoch``, ``train_loss``, ``val_loss`` and learning rates (``lr``, ``bias_lr``)."""
        return self.history_callback.frame()

    def plot_history(self, ax: Any = None) -> Any:
        """Plot training and validation loss per epoch; returns the matplotlib Axes."""
        import matplotlib.pyplot as plt

        history = self.history
        if ax is None:
            _, ax = plt.subplots(figsize=(6, 4))
        for column in ("train_loss", "val_loss"):
            if column in history and history[column].notna().any():
                ax.plot(history["epoch"], history[column], marker="o", label=column.replace("_", " "))
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss")
        ax.legend()
        return ax

    def fit(self, model: pl.LightningModule, *args: Any, **kwargs: Any) -> None:
        """Train ``model`` (Lightning's ``fit``; with the fast loop when it can, see ``fast``)."""
        given = {key: value for key, value in kwargs.items() if value is not None}
        self.fast_loop_blockers = fast_loop_blockers(self, model, args, given)
        self.used_fast_loop = not self.fast_loop_blockers
        if self.used_fast_loop:
            return self._run_quietly(fit_epochs, self, model)
        # Lightning logs its hardware and rank messages when a run starts, not only at construction.
        return self._run_quietly(super().fit, model, *args, **kwargs)

    def validate(self, *args: Any, **kwargs: Any) -> Any:
        return self._run_quietly(super().validate, *args, **kwargs)

    def test(self, *args: Any, **kwargs: Any) -> Any:
        return self._run_quietly(super().test, *args, **kwargs)

    def predict(self, *args: Any, **kwargs: Any) -> Any:
        return self._run_quietly(super().predict, *args, **kwargs)

    def _run_quietly(self, run: Any, *args: Any, **kwargs: Any) -> Any:
        # On Ctrl-C Lightning shuts down gracefully, then ignores SIGINT for good and calls
        # sys.exit(1): in a notebook that would leave a kernel that can no longer be interrupted.
        # Restore the handler and return normally instead; the model keeps its weights.
        main_thread = threading.current_thread() is threading.main_thread()
        handler = signal.getsignal(signal.SIGINT) if main_thread else None
        try:
            with quiet_lightning():
                return run(*args, **kwargs)
        except (SystemExit, KeyboardInterrupt):  # SystemExit from Lightning, KeyboardInterrupt from the fast loop
            if not self.interrupted:
                raise
            warnings.warn(
                f"training interrupted (KeyboardInterrupt) in epoch {self.current_epoch}; "
                "the model keeps the weights learned so far",
                stacklevel=3,
            )
            return None
        finally:
            if main_thread and handler is not None:
                signal.signal(signal.SIGINT, handler)
