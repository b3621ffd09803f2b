"""Matrix factorization for implicit feedback, trained with Lightning.

The score itself (``p_u . q_i + b_u + b_i``) is the plain ``nn.Module``
:class:`coursekit.model.factorization.MatrixFactorization`; this module wraps it with what
training needs: loaders, the loss, an optimizer for the vectors and one for the biases,
learning-rate schedules, and logging.
"""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Mapping
from typing import Any, Callable

import pytorch_lightning as pl
import scipy.sparse as sp
import torch
from torch.optim.lr_scheduler import ReduceLROnPlateau

from coursekit._checks import check_fraction, check_int, default_seed
from coursekit.loaders import InteractionsDataLoader
from coursekit.losses import (
    LOSSES,
    adaptive_bpr,
    adaptive_hinge,
    check_metadata_for_loss,
    get_loss,
    ideal_difference_from_metadata,
)
from coursekit.model.base import RecommenderMixin, interactions_of, seen_matrix
from coursekit.model.factorization import INIT_STD, MatrixFactorization  # noqa: F401  (INIT_STD re-exported)
from coursekit.optim import LazyAdam, RowAdagrad, RowSGD, RowSparseOptimizer

OPTIMIZERS: dict[str, type[torch.optim.Optimizer]] = {
    "adam": torch.optim.Adam,
    "sgd": torch.optim.SGD,
    "adagrad": torch.optim.Adagrad,
    "sparse_adam": torch.optim.SparseAdam,
    # Dense tables, but each step updates only the rows the batch used (coursekit.optim).
    "lazy_adam": LazyAdam,
    "row_sgd": RowSGD,
    "row_adagrad": RowAdagrad,
}
# Optimizers that accept sparse gradients (``sparse=True``).
_SPARSE_OK = (torch.optim.SGD, torch.optim.Adagrad, torch.optim.SparseAdam, RowSparseOptimizer)

#: Default scheduler: divide the learning rate by 10 when the monitored loss stops improving.
default_lr_scheduler = functools.partial(ReduceLROnPlateau, patience=1)

# state_dict keys of files and checkpoints written before the score moved into MatrixFactorization.
_LEGACY_KEYS = ("user_embeddings.weight", "item_embeddings.weight", "user_biases.weight", "item_biases.weight")


class MatrixFactorizationModel(RecommenderMixin, pl.LightningModule):
    """Implicit-feedback matrix factorization, trained with a pairwise loss on sampled negatives.

    Parameters
    ----------
    train
        Training data: ``Interactions`` (wrapped in a shuffling ``InteractionsDataLoader``
        with exact negatives) or any coursekit loader (used as is).
    val
        Optional validation data, same kinds as ``train`` (not shuffled).
    embedding_dim
        Length of each user and item vector.
    dropout_p
        Dropout probability on the embeddings while training.
    sparse
        Row-sparse gradients: each step's gradient holds only the rows the batch read (written by
        :mod:`coursekit.model.row_gradients`), so a step costs the same whatever the size of the
        tables. Pair it with the row-sparse optimizers (``'lazy_adam'``, ``'row_sgd'``,
        ``'row_adagrad'``) or torch's ``'sgd'``, ``'adagrad'`` and ``'sparse_adam'``. The scale
        benchmark trains this way (``sparse=True``, ``'lazy_adam'`` + ``'row_sgd'``); on MovieLens 100K
        the dense default is as fast.
    lr, bias_lr
        Learning rates of the embedding optimizer and of the bias optimizer; ``bias_lr='infer'``
        (Collie's spelling) uses ``lr``.
    lr_scheduler_func
        ``optimizer -> scheduler``; each optimizer gets its own, stepped once per epoch
        on the validation loss (the training loss without validation data). ``None``: constant rates.
    weight_decay
        L2 penalty on the embeddings (applied by the embedding optimizer).
    optimizer, bias_optimizer
        A name in ``OPTIMIZERS`` or a ``torch.optim.Optimizer`` class. Every bias parameter is
        trained by ``bias_optimizer`` at ``bias_lr``; with ``bias_optimizer=None`` one
        ``optimizer`` at ``lr`` trains everything; ``bias_optimizer='infer'`` (Collie) gives the biases
        their own optimizer of the same class as ``optimizer``. Optimizers whose ``step`` needs a
        closure (``torch.optim.LBFGS``) are refused here, not at the first training step.
    loss
        A name known to ``coursekit.losses`` or a callable
        ``loss(positive_scores[B], negative_scores[B, N], num_items=...) -> scalar``. As in Collie,
        the names ``'hinge'`` and ``'bpr'`` train their *adaptive* form when the loader gives several
        negatives (the hardest negative of each row counts); the first such model in a process
        prints one line saying so, and ``model.loss_name`` names the loss that trains. Pass
        ``'adaptive_hinge'`` to say it explicitly, or the function ``coursekit.losses.hinge`` to
        average over all negatives. Unlike Collie, ``'warp'`` and the adaptive losses also accept a
        single negative (WARP then weighs one trial; an adaptive loss equals its plain form).
        The default, ``'adaptive_hinge'``, is what Collie's default ``'hinge'`` trains with several
        negatives (and equals ``'hinge'`` with one).
    batch_size
        Interactions per batch of the loaders built from ``Interactions`` (``evaluate_in_batches``
        counts users per batch instead).
    seed
        Seeds the initial embeddings and the loaders built here (default: drawn from torch's
        global RNG, so ``seed_everything`` makes runs reproducible).
    num_users, num_items
        Size of an untrained model built without ``train`` (as ``load_model`` does).
    metadata_for_loss, metadata_for_loss_weights
        Partial credit (Collie's ``metadata_for_loss``): ``{name: matrix [num_items, F]}`` of
        non-negative item features (multi-hot genres, one-hot categories) and ``{name: weight}``
        with the same keys, weights in ``[0, 1]`` summing to at most 1. A sampled negative that
        shares metadata with the positive then needs a smaller score gap,
        ``1 - sum_k weight_k * overlap_k`` (``coursekit.losses.ideal_difference_from_metadata``;
        overlap: shared features / features of either, the Jaccard index for 0/1 rows). Every
        named loss takes it; a custom loss needs an ``ideal_difference`` keyword. The matrices are
        kept as buffers (``model.loss_metadata``), so ``save_model`` / ``load_model`` keep them.
    """

    def __init__(
        self,
        train: Any = None,
        val: Any = None,
        embedding_dim: int = 30,
        dropout_p: float = 0.0,
        sparse: bool = False,
        lr: float = 1e-3,
        bias_lr: float | str = 1e-2,
        lr_scheduler_func: Callable[[torch.optim.Optimizer], Any] | None = default_lr_scheduler,
        weight_decay: float = 0.0,
        optimizer: str | type[torch.optim.Optimizer] = "adam",
        bias_optimizer: str | type[torch.optim.Optimizer] | None = "sgd",
        loss: str | Callable[..., torch.Tensor] = "adaptive_hinge",
        batch_size: int = 1024,
        seed: int | None = None,
        *,
        num_users: int | None = None,
        num_items: int | None = None,
        metadata_for_loss: Mapping[str, Any] | None = None,
        metadata_for_loss_weights: Mapping[str, float] | None = None,
    ) -> None:
        super().__init__()
        # Collie's 'infer': the biases use the same learning rate / optimizer class as the vectors.
        if isinstance(bias_lr, str) and bias_lr == "infer":
            bias_lr = lr
        if isinstance(bias_optimizer, str) and bias_optimizer == "infer":
            bias_optimizer = optimizer
        embedding_dim = check_int("embedding_dim", embedding_dim, minimum=1)
        dropout_p = check_fraction("dropout_p", dropout_p, allow_zero=True)
        batch_size = check_int("batch_size", batch_size, minimum=1)
        for name, value in (("lr", lr), ("bias_lr", bias_lr), ("weight_decay", weight_decay)):
            # `not 0 <= value < inf` also rejects NaN and infinity, which would train to NaN weights.
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < math.inf:
                raise ValueError(f"{name} must be a non-negative number, got {value!r}")
        if lr_scheduler_func is not None and not callable(lr_scheduler_func):
            raise TypeError(
                f"lr_scheduler_func must be None or a function optimizer -> scheduler, got {lr_scheduler_func!r}"
            )
        # Before save_hyperparameters, which compares every argument with == (a DataFrame would fail there).
        for name, data in (("train", train), ("val", val)):
            if data is not None:
                interactions_of(data, name)
        optimizer_class = _optimizer_class("optimizer", optimizer, sparse)
        bias_class = None if bias_optimizer is None else _optimizer_class("bias_optimizer", bias_optimizer, sparse)
        if weight_decay and issubclass(optimizer_class, RowSparseOptimizer):
            # Decaying every row each step is the dense pass these optimizers exist to avoid.
            raise ValueError(
                f"weight_decay={weight_decay} needs a dense optimizer; {optimizer!r} updates only the rows a "
                "batch used: use optimizer='adam', or weight_decay=0"
            )
        if sparse and weight_decay:
            raise ValueError(f"weight_decay needs dense gradients; got weight_decay={weight_decay} with sparse=True")
        seed = default_seed(seed)

        # Only plain values go into hparams: Lightning checkpoints and save_model files then load
        # with torch.load(weights_only=True). Callables and classes are kept as attributes instead.
        names = {cls: name for name, cls in OPTIMIZERS.items()}
        settings = {
            "embedding_dim": embedding_dim,
            "dropout_p": dropout_p,
            "sparse": bool(sparse),
            "lr": lr,
            "bias_lr": bias_lr,
            "weight_decay": weight_decay,
            "optimizer": names.get(optimizer_class, optimizer_class.__name__),
            "bias_optimizer": None if bias_class is None else names.get(bias_class, bias_class.__name__),
            "loss": loss if isinstance(loss, str) else getattr(loss, "__name__", type(loss).__name__),
            "batch_size": batch_size,
            "seed": seed,  # the seed actually used, so the run can be repeated
        }
        if lr_scheduler_func is None:
            settings["lr_scheduler_func"] = None
        self.save_hyperparameters(settings)
        self.automatic_optimization = False  # one backward per batch, then every optimizer steps
        self._optimizer_classes = (optimizer_class, bias_class)
        self._lr_scheduler_func = lr_scheduler_func
        self._loss_sums: dict[str, tuple[torch.Tensor, int]] = {}

        self._train_loader = self._val_loader = None
        self._seen: sp.csr_matrix | None = None
        if train is not None:
            train_data = interactions_of(train)
            num_users, num_items = train_data.num_users, train_data.num_items
            self._seen = seen_matrix(train)
            self._train_loader = _as_loader(train, batch_size, shuffle=True, seed=seed + 1)
        elif num_users is None or num_items is None:
            raise ValueError("MatrixFactorizationModel needs train (or num_users and num_items)")
        self.num_users = check_int("num_users", num_users, minimum=1)
        self.num_items = check_int("num_items", num_items, minimum=1)
        if val is not None:
            val_data = interactions_of(val)
            if (val_data.num_users, val_data.num_items) != (self.num_users, self.num_items):
                raise ValueError(
                    f"val has {val_data.num_users} users x {val_data.num_items} items, but train has "
                    f"{self.num_users} x {self.num_items}; split one Interactions to get both"
                )
            self._val_loader = _as_loader(val, batch_size, shuffle=False, seed=seed + 2)
        negatives = getattr(self._train_loader, "num_negative_samples", 1)
        self.loss_function = get_loss(loss, negatives)
        if isinstance(loss, str) and self.loss_function is not LOSSES[loss.strip().lower()]:
            _announce_adaptive(loss, self.loss_name, negatives)

        # The math: a plain nn.Module (its parameters are this module's, under "factorization.").
        self.factorization = MatrixFactorization(
            self.num_users, self.num_items, embedding_dim, dropout_p=dropout_p, sparse=sparse, seed=seed
        )
        self._set_loss_metadata(metadata_for_loss, metadata_for_loss_weights, loss)
        self._register_load_state_dict_pre_hook(_upgrade_legacy_keys)

    # The tables, as lessons and plots read them: model.item_embeddings.weight, ...
    user_embeddings = property(lambda self: self.factorization.user_embeddings, doc="``p_u``, ``[num_users, d]``.")
    item_embeddings = property(lambda self: self.factorization.item_embeddings, doc="``q_i``, ``[num_items, d]``.")
    user_biases = property(lambda self: self.factorization.user_biases, doc="``b_u``, ``[num_users, 1]``.")
    item_biases = property(lambda self: self.factorization.item_biases, doc="``b_i``, ``[num_items, 1]``.")
    dropout = property(lambda self: self.factorization.dropout)

    # -- scoring -------------------------------------------------------------------------------

    def _pair_scores(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """Scores ``[B, M]`` of users ``[B]`` against items ``[B, M]``."""
        return self.factorization(users.unsqueeze(1), items)

    def forward(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """Scores of paired ``users`` and ``items`` (broadcast together; output has their shape)."""
        users, items = self._check_pairs(users, items)
        return self.factorization(users, items)

    @torch.no_grad()
    def score_all_items(self, user_ids: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
        """Scores ``[B, num_items]`` of every item for each user (no dropout, no gradients), into ``out`` if given."""
        users = self._check_user_tensor(user_ids).to(self.device)
        return self.factorization.score_all_items(users, out=out)

    def _user_vectors(self) -> torch.Tensor:
        return self.user_embeddings.weight.detach()

    def _item_vectors(self) -> torch.Tensor:
        return self.item_embeddings.weight.detach()

    # -- training ------------------------------------------------------------------------------

    def _batch_loss(self, batch: Any) -> tuple[torch.Tensor, int]:
        (users, positives), negatives = batch
        if self._trains_hardest_only(negatives):
            # An adaptive loss backpropagates through the hardest negative alone: find it without
            # building a graph, then score just the positive and that negative with one. Same loss
            # and gradients as scoring all negatives with autograd, for a fraction of the work.
            with torch.no_grad():
                hardest = self._pair_scores(users, negatives).max(dim=1).indices  # the index max() backprops to
            negatives = negatives.gather(1, hardest.unsqueeze(1))
        items = torch.cat([positives.unsqueeze(1), negatives], dim=1)
        self._graph_rows = (users, items)  # the rows this loss reads, for row-sparse optimizers
        scores = self._pair_scores(users, items)
        partial_credit = {}
        if self._loss_weights is not None:  # the ideal gap of each pair (after the hardest-only selection)
            metadata = dict(self.loss_metadata.named_buffers())
            partial_credit["ideal_difference"] = ideal_difference_from_metadata(
                positives, negatives, metadata, self._loss_weights
            )
        loss = self.loss_function(scores[:, 0], scores[:, 1:], num_items=self.num_items, **partial_credit)
        return loss, len(users)

    def _set_loss_metadata(self, metadata: Any, weights: Any, loss: Any) -> None:
        """Check ``metadata_for_loss`` and keep each matrix as a buffer of ``self.loss_metadata``."""
        checked = check_metadata_for_loss(metadata, weights, self.num_items)
        self._loss_weights: dict[str, float] | None = None
        if checked is None:
            return
        matrices, self._loss_weights = checked
        self.hparams["metadata_for_loss_weights"] = dict(self._loss_weights)  # plain floats, saved with the settings
        self.loss_metadata = torch.nn.Module()  # buffers move with .to(device) and are saved with the weights
        for name, matrix in matrices.items():
            self.loss_metadata.register_buffer(name, torch.from_numpy(matrix))
        try:
            takes_it = "ideal_difference" in inspect.signature(self.loss_function).parameters
        except (TypeError, ValueError):  # a builtin or C function: let the first step say so
            takes_it = True
        if not takes_it:
            raise TypeError(
                f"loss {loss!r} takes no ideal_difference keyword, so it cannot use metadata_for_loss; use a named "
                "loss ('hinge', 'bpr', 'adaptive_hinge', ...) or add the keyword to your loss"
            )

    def _trains_hardest_only(self, negatives: torch.Tensor) -> bool:
        """Whether only the hardest of several negatives gets a gradient (and dropout cannot differ)."""
        return (
            self.loss_function in (adaptive_hinge, adaptive_bpr)
            and negatives.dim() == 2
            and negatives.shape[1] > 1
            and torch.is_grad_enabled()
            and not (self.training and self.hparams.dropout_p > 0)  # a second pass would draw other masks
        )

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        optimizers = self.optimizers()
        loss, size = self._fit_batch(batch, optimizers if isinstance(optimizers, list) else [optimizers])
        self._log_epoch_mean("train_loss", loss, size, batch_idx, self.trainer.num_training_batches)
        return loss

    def _fit_batch(
        self, batch: Any, optimizers: list[Any], backward: Callable[[torch.Tensor], None] | None = None
    ) -> tuple[torch.Tensor, int]:
        """One training step on ``batch`` (loss, backward, every optimizer steps); returns ``(loss, batch size)``.

        Shared by ``training_step`` (Lightning's optimizer wrappers, ``manual_backward``) and
        :func:`coursekit.model.fast_loop.fit_epochs` (the plain optimizers, the module's ``backward``,
        which is what ``manual_backward`` calls in the end).
        """
        loss, size = self._batch_loss(batch)
        for optimizer in optimizers:
            optimizer.zero_grad()
        (self.manual_backward if backward is None else backward)(loss)
        # Row-sparse optimizers update the rows the loss read (with an adaptive loss: the positive and
        # the hardest negative, as SparseAdam's sparse gradients would hold), not every sampled row.
        rows = {"rows": self.factorization.rows_used(*self._graph_rows)}
        for optimizer in optimizers:
            plain = getattr(optimizer, "optimizer", optimizer)  # Lightning wraps each optimizer
            optimizer.step(**(rows if isinstance(plain, RowSparseOptimizer) else {}))
        return loss, size

    def validation_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        loss, size = self._batch_loss(batch)
        trainer = self.trainer
        batches = trainer.num_sanity_val_batches if trainer.sanity_checking else trainer.num_val_batches
        self._log_epoch_mean("val_loss", loss, size, batch_idx, batches[0])
        return loss

    def _log_epoch_mean(self, name: str, loss: torch.Tensor, size: int, batch_idx: int, num_batches: float) -> None:
        """Log the epoch's mean loss per interaction, as ``self.log(..., on_epoch=True)`` would.

        ``self.log`` costs about a millisecond per call, a third of a training step on
        MovieLens 100K, so sum the losses here and call it once, on the epoch's last batch.
        """
        log = functools.partial(self.log, name, on_step=False, on_epoch=True, prog_bar=True, sync_dist=True)
        if not math.isfinite(num_batches):  # a loader without len(): log every batch
            log(loss, batch_size=size)
            return
        total, count = self._add_to_epoch_sum(name, loss, size, batch_idx)
        if batch_idx + 1 >= num_batches:
            log(total / count, batch_size=1)

    def _add_to_epoch_sum(self, name: str, loss: torch.Tensor, size: int, batch_idx: int) -> tuple[torch.Tensor, int]:
        """Add batch ``batch_idx``'s ``loss * size`` to this epoch's sum for ``name``; return ``(sum, count)``."""
        if batch_idx == 0 or name not in self._loss_sums:
            self._loss_sums[name] = (torch.zeros(()), 0)
        total, count = self._loss_sums[name]
        self._loss_sums[name] = (total + loss.detach().cpu() * size, count + size)
        return self._loss_sums[name]

    def on_fit_start(self) -> None:
        # Lightning keeps the mode it finds; lessons call model.eval() to predict, then train again.
        self.train()

    def on_train_epoch_end(self) -> None:
        # Manual optimization leaves schedulers to us: step each on this epoch's monitored loss.
        schedulers = self.lr_schedulers()
        if schedulers is not None:
            self._step_schedulers(schedulers if isinstance(schedulers, list) else [schedulers])

    def _step_schedulers(self, schedulers: list[Any]) -> None:
        """Step each scheduler once; a plateau scheduler on ``val_loss`` (``train_loss`` without validation data)."""
        metrics = self.trainer.callback_metrics
        monitored = metrics.get("val_loss", metrics.get("train_loss"))
        for scheduler in schedulers:
            if isinstance(scheduler, ReduceLROnPlateau):
                if monitored is not None:
                    scheduler.step(float(monitored))
            else:
                scheduler.step()

    def configure_optimizers(self) -> Any:
        hp = self.hparams
        optimizer_class, bias_class = self._optimizer_classes
        if bias_class is None:
            groups = [(optimizer_class, list(self.parameters()), hp.lr)]
        else:
            named = list(self.named_parameters())
            groups = [
                (optimizer_class, [p for n, p in named if "bias" not in n], hp.lr),
                (bias_class, [p for n, p in named if "bias" in n], hp.bias_lr),
            ]
        optimizers = []
        for i, (cls, params, lr) in enumerate(groups):
            kwargs = {"lr": lr}
            if i == 0 and hp.weight_decay:
                kwargs["weight_decay"] = hp.weight_decay  # L2 on the embeddings only, never the biases
            if _can_fuse(cls, params):
                # Same update, one fused kernel instead of a dozen passes over every parameter:
                # dense Adam over 4.5M embedding values took 26 ms per step, fused 9 ms (5M benchmark).
                kwargs["fused"] = True
            optimizers.append(cls(params, **kwargs))
        if self._lr_scheduler_func is None:
            return optimizers
        return optimizers, [self._lr_scheduler_func(optimizer) for optimizer in optimizers]

    @property
    def optimizer_names(self) -> list[str]:
        """Names of the optimizers' learning rates, in ``configure_optimizers`` order."""
        return ["lr"] if self._optimizer_classes[1] is None else ["lr", "bias_lr"]

    def train_dataloader(self) -> Any:
        if self._train_loader is None:
            raise ValueError("this model has no training data; build it with train=...")
        return self._train_loader

    def val_dataloader(self) -> Any:
        return [] if self._val_loader is None else self._val_loader

    # -- persistence ---------------------------------------------------------------------------

    def _config(self) -> dict[str, Any]:
        """Constructor arguments a saved model is rebuilt from (plain values only)."""
        config = dict(self.hparams)
        # Names of custom optimizer classes and loss functions cannot be rebuilt from data:
        # fall back to settings that predict the same ('sgd' works with any `sparse`).
        for key in ("optimizer", "bias_optimizer"):
            if config[key] is not None and config[key] not in OPTIMIZERS:
                config[key] = "sgd"
        if config["loss"] not in LOSSES:
            config["loss"] = "hinge"
        if self._loss_weights is not None:
            # The matrices travel in the state_dict; their widths let load_model build the buffers to fill.
            config["metadata_for_loss_features"] = {
                name: int(matrix.shape[1]) for name, matrix in self.loss_metadata.named_buffers()
            }
        return {**config, "num_users": self.num_users, "num_items": self.num_items}

    @classmethod
    def _from_config(cls, config: dict[str, Any]) -> MatrixFactorizationModel:
        config = dict(config)
        features = config.pop("metadata_for_loss_features", None)
        if features:
            # Zeros of the saved shape: load_model's load_state_dict then copies the saved matrices in.
            config["metadata_for_loss"] = {
                name: torch.zeros(config["num_items"], width) for name, width in features.items()
            }
        return cls(**config)

    @classmethod
    def _state_shapes(cls, config: dict[str, Any]) -> dict[str, tuple[int, ...]]:
        users, items, dim = config["num_users"], config["num_items"], config["embedding_dim"]
        return {
            "factorization.user_embeddings.weight": (users, dim),
            "factorization.item_embeddings.weight": (items, dim),
            "factorization.user_biases.weight": (users, 1),
            "factorization.item_biases.weight": (items, 1),
            **{f"loss_metadata.{name}": (items, width) for name, width in _features(config).items()},
        }

    @classmethod
    def _upgrade_state_dict(cls, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """``state`` with the keys of files saved before ``factorization.`` existed renamed."""
        return {("factorization." + key if key in _LEGACY_KEYS else key): value for key, value in state.items()}

    @property
    def loss_name(self) -> str:
        """Name of the loss that trains (``'adaptive_hinge'`` for ``loss='hinge'`` with several negatives)."""
        return getattr(self.loss_function, "__name__", type(self.loss_function).__name__)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.num_users} users, {self.num_items} items, "
            f"embedding_dim={self.hparams.embedding_dim})"
        )


def _features(config: dict[str, Any]) -> dict[str, int]:
    """``{name: width}`` of the partial-credit matrices a saved config describes (none in older files)."""
    features = config.get("metadata_for_loss_features") or {}
    if not isinstance(features, dict) or not all(
        isinstance(width, int) and not isinstance(width, bool) and width >= 1 for width in features.values()
    ):
        raise ValueError(f"metadata_for_loss_features must map names to widths >= 1, got {features!r}")
    return features


def _optimizer_class(name: str, value: Any, sparse: bool) -> type[torch.optim.Optimizer]:
    if isinstance(value, str):
        if value not in OPTIMIZERS:
            raise ValueError(f"{name} must be one of {sorted(OPTIMIZERS)} or an optimizer class, got {value!r}")
        cls = OPTIMIZERS[value]
    elif isinstance(value, type) and issubclass(value, torch.optim.Optimizer):
        cls = value
    else:
        raise TypeError(f"{name} must be an optimizer name or a torch.optim.Optimizer class, got {value!r}")
    if issubclass(cls, torch.optim.LBFGS):
        # Its step() needs a closure that re-evaluates the loss; training here calls step() once per batch.
        raise ValueError(
            f"{name}={value!r} needs a closure in step() (it re-evaluates the loss several times per step), "
            "which this model's training step does not provide; use 'adam', 'sgd' or 'adagrad'"
        )
    if cls is torch.optim.SparseAdam and not sparse:
        raise ValueError(f"{name}={value!r} needs sparse gradients: pass sparse=True, or use 'adam'")
    if sparse and not issubclass(cls, _SPARSE_OK):
        raise ValueError(
            f"{name}={value!r} cannot use the sparse gradients of sparse=True; "
            "use 'lazy_adam', 'row_sgd', 'row_adagrad', 'sparse_adam', 'sgd' or 'adagrad', or sparse=False"
        )
    return cls


def _can_fuse(cls: type[torch.optim.Optimizer], params: list[torch.Tensor]) -> bool:
    """Whether ``cls`` is torch's own Adam/AdamW and every parameter suits its fused kernel."""
    return (
        cls in (torch.optim.Adam, torch.optim.AdamW)
        and len(params) > 0
        and all(p.device.type in ("cpu", "cuda") and p.dtype in (torch.float32, torch.float64) for p in params)
    )


_ANNOUNCED: set[tuple[str, str]] = set()


def _announce_adaptive(asked: str, trains: str, negatives: int) -> None:
    """Say once per process that a loss name switched to its adaptive form (Collie's rule)."""
    if (asked, trains) not in _ANNOUNCED:
        _ANNOUNCED.add((asked, trains))
        print(
            f"loss={asked!r} with {negatives} negatives trains {trains} (Collie's rule: the hardest negative "
            f"of each row); say loss={trains!r} to make it explicit, or pass coursekit.losses.{asked.strip().lower()} "
            "to average over all negatives"
        )


def _upgrade_legacy_keys(state_dict: dict[str, Any], prefix: str, *args: Any) -> None:
    """``load_state_dict`` pre-hook: accept checkpoints and files with the old, unprefixed keys."""
    for key in _LEGACY_KEYS:
        if prefix + key in state_dict:
            state_dict[prefix + "factorization." + key] = state_dict.pop(prefix + key)


def _as_loader(data: Any, batch_size: int, shuffle: bool, seed: int) -> Any:
    if hasattr(data, "interactions") and hasattr(data, "__iter__"):
        return data  # already a coursekit loader
    return InteractionsDataLoader(interactions_of(data), batch_size=batch_size, shuffle=shuffle, seed=seed)
