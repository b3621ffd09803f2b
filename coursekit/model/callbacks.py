"""The course's two training callbacks: a per-epoch loss and learning-rate ``History``, and a one-line progress bar.

Both serve Lightning's loop and :mod:`coursekit.model.fast_loop` alike, which is why they live apart
from :class:`~coursekit.model.trainer.CourseTrainer` (re-exported there).
"""

from __future__ import annotations

import math
import sys
from typing import Any

import pandas as pd
import pytorch_lightning as pl
from pytorch_lightning.callbacks import Callback
from pytorch_lightning.callbacks.progress import ProgressBar
from tqdm import tqdm


class History(Callback):
    """Records one row per training epoch: epoch, train_loss, val_loss and each optimizer's learning rate."""

    def __init__(self) -> None:
        self.rows: list[dict[str, float]] = []

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # Runs before the module's own on_train_epoch_end, so the rates are those this epoch used.
        metrics = trainer.callback_metrics
        row: dict[str, float] = {"epoch": trainer.current_epoch}
        for key in ("train_loss", "val_loss"):
            row[key] = float(metrics[key]) if key in metrics else math.nan
        names = list(getattr(pl_module, "optimizer_names", []))
        for i, optimizer in enumerate(trainer.optimizers):
            name = names[i] if i < len(names) else f"lr_{i}"
            row[name] = float(optimizer.param_groups[0]["lr"])
        self.rows = [r for r in self.rows if r["epoch"] != row["epoch"]] + [row]

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=None if self.rows else ["epoch", "train_loss", "val_loss"])

    # Kept in checkpoints, so a resumed run's history covers every epoch.
    def state_dict(self) -> dict[str, Any]:
        return {"rows": list(self.rows)}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.rows = list(state_dict["rows"])


class EpochProgressBar(ProgressBar):
    """One progress line for the whole fit, advanced once per epoch with the latest losses.

    Lightning's own bar redraws every few batches; in a notebook each redraw is stored in the
    cell's output (hundreds of kilobytes for a ten-epoch fit). One update per epoch says what a
    learner needs: how far training is, and where the losses are going.
    """

    def __init__(self) -> None:
        super().__init__()
        self._enabled = True
        self._bar: tqdm | None = None

    def enable(self) -> None:
        self._enabled = True

    def disable(self) -> None:
        self._enabled = False

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._enabled and trainer.is_global_zero:
            total = trainer.max_epochs if trainer.max_epochs and trainer.max_epochs > 0 else None
            # mininterval=0: redraw at every epoch however fast, so the output has one line per epoch.
            self._bar = tqdm(
                total=total,
                initial=trainer.current_epoch,
                desc="training",
                unit="epoch",
                file=sys.stdout,
                mininterval=0,
            )

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._bar is not None:
            metrics = trainer.callback_metrics
            losses = {key: f"{float(metrics[key]):.4f}" for key in ("train_loss", "val_loss") if key in metrics}
            self._bar.set_postfix(losses, refresh=False)
            self._bar.update(1)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        self.on_train_end(trainer, pl_module)  # Ctrl-C: close the line so the output stays tidy
