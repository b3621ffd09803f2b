"""Matrix factorization for explicit ratings: predict the rating, trained with mean squared error.

The same score as the implicit model (``p_u . q_i + b_u + b_i``, the plain ``nn.Module``
:class:`coursekit.model.factorization.MatrixFactorization`), the same optimizers, schedules,
logging and saving: this class is :class:`coursekit.model.MatrixFactorizationModel` with another
batch and another loss. Where the implicit model compares an observed item with sampled
negatives, this one regresses each observed rating: ``loss = mean((r_hat_ui - r_ui)**2)``.

With ``y_range=(low, high)`` the prediction is squashed into the rating scale as in Collie,
``r_hat = low + (high - low) * sigmoid(score)``: a model cannot predict 7 stars. The squash is
monotonic, so the ranking of items (``score_all_items``, ``recommend``) is the score's.

Why a subclass rather than a ``loss='mse'`` option of ``MatrixFactorizationModel``: the batches
differ (``(users, items, ratings)``, no negatives) and so do the outputs (ratings in a range),
so an option would branch the training step, the loaders and every scoring method of the
implicit model; a subclass overrides the three methods that differ and leaves it untouched.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import torch

from coursekit.explicit import ExplicitInteractions, ExplicitInteractionsDataLoader
from coursekit.model.matrix_factorization import MatrixFactorizationModel, default_lr_scheduler

__all__ = ["ExplicitMatrixFactorizationModel"]


class ExplicitMatrixFactorizationModel(MatrixFactorizationModel):
    """Matrix factorization of explicit ratings, trained with mean squared error.

    Parameters
    ----------
    train
        :class:`~coursekit.explicit.ExplicitInteractions` (wrapped in a shuffling
        :class:`~coursekit.explicit.ExplicitInteractionsDataLoader`) or such a loader.
    val
        Optional validation ratings, same kinds as ``train`` (not shuffled).
    y_range
        ``(low, high)``: predictions are ``low + (high - low) * sigmoid(score)`` (Collie's
        ``y_range``). ``None``: the score itself is the prediction.
    embedding_dim, dropout_p, sparse, lr, bias_lr, lr_scheduler_func, weight_decay, optimizer, bias_optimizer, batch_size, seed, num_users, num_items
        As in :class:`coursekit.model.MatrixFactorizationModel` (``batch_size``: ratings per batch).
    loss
        Always ``'mse'`` (the name is accepted so saved settings and checkpoints rebuild the model).
    """

    def __init__(
        self,
        train: Any = None,
        val: Any = None,
        y_range: tuple[float, float] | None = None,
        embedding_dim: int = 30,
        dropout_p: float = 0.0,
        sparse: bool = False,
        lr: float = 1e-3,
        bias_lr: float | str = 1e-2,
        lr_scheduler_func: Callable[[torch.optim.Optimizer], Any] | None = default_lr_scheduler,
        weight_decay: float = 0.0,
        optimizer: str | type[torch.optim.Optimizer] = "adam",
        bias_optimizer: str | type[torch.optim.Optimizer] | None = "sgd",
        batch_size: int = 1024,
        seed: int | None = None,
        *,
        num_users: int | None = None,
        num_items: int | None = None,
        loss: str = "mse",
    ) -> None:
        if loss != "mse":  # accepted so a Lightning checkpoint's hparams rebuild the model
            raise ValueError(f"ExplicitMatrixFactorizationModel trains with loss='mse' only, got {loss!r}")
        for name, data in (("train", train), ("val", val)):
            if data is not None and not isinstance(getattr(data, "interactions", data), ExplicitInteractions):
                raise TypeError(
                    f"{name} must be ExplicitInteractions or an ExplicitInteractionsDataLoader, got "
                    f"{type(data).__name__} (implicit Interactions train MatrixFactorizationModel)"
                )
        if train is not None:
            train_data = getattr(train, "interactions", train)
            num_users, num_items = train_data.num_users, train_data.num_items
        y_range = _check_y_range(y_range)
        # The parent builds the factorization, optimizers and checks; the data and loss are set here.
        super().__init__(
            None,
            None,
            embedding_dim=embedding_dim,
            dropout_p=dropout_p,
            sparse=sparse,
            lr=lr,
            bias_lr=bias_lr,
            lr_scheduler_func=lr_scheduler_func,
            weight_decay=weight_decay,
            optimizer=optimizer,
            bias_optimizer=bias_optimizer,
            batch_size=batch_size,
            seed=seed,
            num_users=num_users,
            num_items=num_items,
        )
        self.hparams["loss"] = "mse"
        self.hparams["y_range"] = None if y_range is None else list(y_range)
        self.loss_function = mse
        seed = self.hparams.seed
        if train is not None:
            self._seen = getattr(train, "interactions", train).mat
            self._train_loader = _as_loader(train, batch_size, shuffle=True, seed=seed + 1)
        if val is not None:
            val_data = getattr(val, "interactions", val)
            if (val_data.num_users, val_data.num_items) != (self.num_users, self.num_items):
                raise ValueError(
                    f"val has {val_data.num_users} users x {val_data.num_items} items, but the model has "
                    f"{self.num_users} x {self.num_items}; split one ExplicitInteractions to get both"
                )
            self._val_loader = _as_loader(val, batch_size, shuffle=False, seed=seed + 2)

    @property
    def y_range(self) -> tuple[float, float] | None:
        """``(low, high)`` of the predictions, or ``None`` when unbounded."""
        y_range = self.hparams.y_range
        return None if y_range is None else (float(y_range[0]), float(y_range[1]))

    def _squash(self, scores: torch.Tensor, inplace: bool = False) -> torch.Tensor:
        """Scores as predicted ratings: Collie's ``low + (high - low) * sigmoid(score)``, or as they are."""
        if self.y_range is None:
            return scores
        low, high = self.y_range
        if inplace:  # a fresh score buffer nothing else reads: no second [B, num_items] tensor
            return scores.sigmoid_().mul_(high - low).add_(low)
        return torch.sigmoid(scores) * (high - low) + low

    # -- predictions: ratings, ranked in the same order as the scores -------------------------

    def forward(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """Predicted ratings of paired ``users`` and ``items`` (broadcast together)."""
        users, items = self._check_pairs(users, items)
        return self._squash(self.factorization(users, items))

    @torch.no_grad()
    def score_all_items(self, user_ids: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
        """Predicted ratings ``[B, num_items]`` of every item for each user (no dropout, no gradients)."""
        return self._squash(super().score_all_items(user_ids, out=out), inplace=True)

    # -- training --------------------------------------------------------------------------------

    def _batch_loss(self, batch: Any) -> tuple[torch.Tensor, int]:
        users, items, ratings = batch
        self._graph_rows = (users, items)  # the rows this loss reads, for row-sparse optimizers
        predictions = self._squash(self.factorization(users, items))
        return self.loss_function(predictions, ratings.to(predictions.dtype)), len(users)

    # -- persistence -----------------------------------------------------------------------------

    def _config(self) -> dict[str, Any]:
        return {**super()._config(), "loss": "mse"}  # the parent maps names it does not know to 'hinge'

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.num_users} users, {self.num_items} items, "
            f"embedding_dim={self.hparams.embedding_dim}, y_range={self.y_range})"
        )


def mse(predictions: torch.Tensor, ratings: torch.Tensor) -> torch.Tensor:
    """Mean squared error of predicted ratings, ``mean((r_hat - r)**2)``."""
    return (predictions - ratings).pow(2).mean()


def _check_y_range(y_range: Any) -> tuple[float, float] | None:
    if y_range is None:
        return None
    try:
        low, high = (float(value) for value in y_range)
    except (TypeError, ValueError):
        raise TypeError(f"y_range must be a pair (low, high) of numbers or None, got {y_range!r}") from None
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise ValueError(f"y_range must be finite with low < high, got {y_range!r}")
    return low, high


def _as_loader(data: Any, batch_size: int, shuffle: bool, seed: int) -> Any:
    if isinstance(data, ExplicitInteractionsDataLoader):
        return data
    return ExplicitInteractionsDataLoader(data, batch_size=batch_size, shuffle=shuffle, seed=seed)
