"""A plain training loop for ``CourseTrainer.fit``: Lightning's steps without Lightning's per-batch machinery.

Around every batch Lightning runs hooks, progress counters, result collections and a prefetching
data fetcher. For the course's small models that is a third of a step (0.4 ms on top of 0.8 ms of
real work per MovieLens batch), and setting up a fit costs a few hundred milliseconds more. A
lesson trains dozens of models, so :class:`~coursekit.model.CourseTrainer` runs this loop instead
whenever nothing needs those hooks (:func:`fast_loop_blockers` says when), and Lightning otherwise.

It runs the same computation in the same order, so it gives the same numbers, bit for bit on the
CPU (``tests/test_fast_loop.py`` checks weights, losses and learning rates against Lightning):

* each epoch tells the loaders the epoch (as Lightning's ``sampler.set_epoch``), trains on every
  batch with the model's own step (``MatrixFactorizationModel._fit_batch``: loss, ``zero_grad``,
  backward, every optimizer steps, row-sparse ones on the rows the loss read);
* then validates (eval mode, ``torch.inference_mode``), fills ``trainer.callback_metrics`` with
  the epoch's ``train_loss`` / ``val_loss`` means (summed as the model sums them for Lightning),
  calls the course's progress bar and :class:`~coursekit.model.trainer.History` as Lightning would,
  and steps the schedulers with the model's own rule (plateau on ``val_loss``, else ``train_loss``).

What it leaves out changes no number: Lightning's sanity check (two validation batches before
training, run with the random state saved and restored), logging (there is no logger) and
checkpoints (there is no checkpoint callback).
"""

from __future__ import annotations

from typing import Any

import pytorch_lightning as pl
import torch
from pytorch_lightning.accelerators import CPUAccelerator, CUDAAccelerator
from pytorch_lightning.core.hooks import CheckpointHooks, DataHooks, ModelHooks
from pytorch_lightning.strategies import SingleDeviceStrategy
from pytorch_lightning.trainer.states import TrainerFn, TrainerStatus
from pytorch_lightning.utilities.types import LRSchedulerConfig
from torch.optim.lr_scheduler import ReduceLROnPlateau

from coursekit.loaders import BatchLoader
from coursekit.model.callbacks import EpochProgressBar, History

#: ``CourseTrainer`` keywords the loop honours (checked below); any other keyword means Lightning's loop.
FAST_LOOP_KEYWORDS = frozenset(
    {
        "accelerator",  # 'cpu', or a CUDA GPU
        "devices",  # one device
        "strategy",  # one device, no DDP
        "precision",  # 32-bit only
        "callbacks",  # the course's own only
        "enable_progress_bar",
        "enable_model_summary",  # a summary is a callback: then Lightning's loop
        "enable_checkpointing",  # idem
        "logger",  # none
        "num_sanity_val_steps",  # the sanity check changes no number (see the module docstring)
        "inference_mode",  # validation under no_grad or inference_mode: the same numbers
        "default_root_dir",  # nothing is written without a logger or checkpoints
    }
)

# Lightning hooks the loop does not call: a model class that overrides one needs Lightning's loop.
_LIGHTNING_HOOKS = sorted(
    {name for hooks in (ModelHooks, DataHooks, CheckpointHooks) for name in vars(hooks) if not name.startswith("_")}
    | {
        "training_step",
        "validation_step",
        "configure_optimizers",
        "manual_backward",
        "optimizer_step",
        "optimizer_zero_grad",
        "lr_scheduler_step",
        "configure_gradient_clipping",
        "clip_gradients",
    }
)


def fast_loop_blockers(trainer: Any, model: Any, fit_args: tuple[Any, ...], fit_kwargs: dict[str, Any]) -> list[str]:
    """Why ``trainer.fit(model, *fit_args, **fit_kwargs)`` needs Lightning's loop; empty when the fast loop fits.

    The fast loop runs when all of these hold: ``CourseTrainer(fast=True)`` (the default);
    ``fit(model)`` with nothing else (no dataloaders, datamodule or ``ckpt_path``); the model is a
    ``MatrixFactorizationModel`` whose class overrides none of Lightning's hooks; its loaders are
    coursekit loaders (with ``len()``); ``max_epochs`` is a number of epochs (not -1); the trainer
    was built with no keyword outside :data:`FAST_LOOP_KEYWORDS`, has no logger, no callbacks but
    the course's progress bar and history (so no checkpoints, early stopping, model summary, or
    Lightning progress bar), 32-bit precision, and one CPU or CUDA device without a distributed strategy.
    """
    from coursekit.model.matrix_factorization import MatrixFactorizationModel

    reasons = []
    if not trainer.fast:
        reasons.append("CourseTrainer(fast=False)")
    if fit_args or fit_kwargs:
        reasons.append("fit() was given more than the model")
    if not isinstance(model, MatrixFactorizationModel):
        reasons.append(f"{type(model).__name__} is not a MatrixFactorizationModel")
    else:
        cls = type(model)
        overridden = [
            name for name in _LIGHTNING_HOOKS if getattr(cls, name) is not getattr(MatrixFactorizationModel, name)
        ]
        if overridden:
            reasons.append(f"{cls.__name__} overrides {', '.join(overridden)}")
        loaders = [model._train_loader] + ([] if model._val_loader is None else [model._val_loader])
        if not all(isinstance(loader, BatchLoader) for loader in loaders):
            reasons.append("a loader is not a coursekit loader")
    others = sorted(set(trainer.trainer_keywords) - FAST_LOOP_KEYWORDS)
    if others:
        reasons.append(f"trainer keywords {', '.join(others)}")
    extra = [type(c).__name__ for c in trainer.callbacks if type(c) not in (EpochProgressBar, History)]
    if extra:
        reasons.append(f"callbacks {', '.join(extra)}")
    if trainer.loggers:
        reasons.append("a logger")
    if trainer.max_epochs is None or trainer.max_epochs < 0:
        reasons.append(f"max_epochs={trainer.max_epochs}")
    if type(trainer.strategy) is not SingleDeviceStrategy:
        reasons.append(f"strategy {type(trainer.strategy).__name__}")
    if type(trainer.accelerator) not in (CPUAccelerator, CUDAAccelerator):
        reasons.append(f"accelerator {type(trainer.accelerator).__name__}")
    if trainer.precision != "32-true":
        reasons.append(f"precision {trainer.precision}")
    return reasons


def fit_epochs(trainer: pl.Trainer, model: Any) -> None:
    """Train ``model`` from ``trainer.current_epoch`` to ``trainer.max_epochs``, as Lightning's ``fit`` would.

    Only call it where :func:`fast_loop_blockers` is empty. Like Lightning: fresh optimizers from
    ``model.configure_optimizers()`` at every call, the model on the trainer's device while it
    trains and back on the CPU afterwards, ``trainer.state.status`` ``'interrupted'`` when an
    exception (Ctrl-C included) stops it, and the callbacks' ``on_exception`` called then.
    """
    device = trainer.strategy.root_device
    callbacks = trainer.callbacks  # the course's progress bar and History (fast_loop_blockers checks)
    trainer.state.fn, trainer.state.status = TrainerFn.FITTING, TrainerStatus.RUNNING
    trainer.should_stop = False
    trainer.strategy.connect(model)
    model.trainer = trainer
    trainer._logger_connector.reset_metrics()  # as each Lightning fit starts
    metrics = trainer.callback_metrics  # a plain dict outside Lightning's loops
    try:
        if device.type == "cuda":
            torch.cuda.set_device(device)
        model.to(device)
        optimizers, schedulers = _configure_optimizers(model)
        trainer.strategy.optimizers = optimizers
        trainer.strategy.lr_scheduler_configs = [
            LRSchedulerConfig(scheduler, reduce_on_plateau=isinstance(scheduler, ReduceLROnPlateau))
            for scheduler in schedulers
        ]
        model.zero_grad()
        model.on_fit_start()  # train mode
        for callback in callbacks:
            callback.on_train_start(trainer, model)
        while trainer.current_epoch < trainer.max_epochs:
            _train_one_epoch(trainer, model, optimizers, schedulers, metrics, device)
        for callback in callbacks:
            callback.on_train_end(trainer, model)
    except BaseException as exception:
        trainer.state.status = TrainerStatus.INTERRUPTED
        for callback in callbacks:
            callback.on_exception(trainer, model, exception)
        raise
    finally:
        _optimizers_to_cpu(trainer.optimizers)
        model.cpu()
    trainer.state.status = TrainerStatus.FINISHED


def _train_one_epoch(
    trainer: pl.Trainer,
    model: Any,
    optimizers: list[torch.optim.Optimizer],
    schedulers: list[Any],
    metrics: dict[str, torch.Tensor],
    device: torch.device,
) -> None:
    """Train on every batch, validate, record the epoch, step the schedulers."""
    epoch = trainer.current_epoch
    progress = trainer.fit_loop.epoch_progress
    progress.increment_ready()
    progress.increment_started()

    model._train_loader.sampler.set_epoch(epoch)  # batches depend on the seed and the epoch only
    sum_and_count = None
    for batch_idx, batch in enumerate(model._train_loader):
        loss, size = model._fit_batch(_to_device(batch, device), optimizers, backward=model.backward)
        sum_and_count = model._add_to_epoch_sum("train_loss", loss, size, batch_idx)
        # trainer.global_step counts optimizer steps, as Lightning's manual optimization does.
        trainer.fit_loop.epoch_loop.manual_optimization.optim_step_progress.increment_by(len(optimizers))
    if sum_and_count is not None:
        metrics["train_loss"] = sum_and_count[0] / sum_and_count[1]

    if model._val_loader is not None:
        model._val_loader.sampler.set_epoch(epoch)
        modes = {module: module.training for module in model.modules()}
        model.eval()
        sum_and_count = None
        with torch.inference_mode():
            for batch_idx, batch in enumerate(model._val_loader):
                loss, size = model._batch_loss(_to_device(batch, device))
                sum_and_count = model._add_to_epoch_sum("val_loss", loss, size, batch_idx)
        for module, training in modes.items():
            module.train(training)
        if sum_and_count is not None:
            metrics["val_loss"] = sum_and_count[0] / sum_and_count[1]

    for callback in trainer.callbacks:  # before the schedulers: History records the rates this epoch used
        callback.on_train_epoch_end(trainer, model)
    model._step_schedulers(schedulers)
    progress.increment_processed()
    progress.increment_completed()


def _to_device(batch: Any, device: torch.device) -> Any:
    """``batch`` (nested tuples of tensors) on ``device``, as Lightning's ``batch_to_device`` moves it."""
    if device.type == "cpu":
        return batch  # coursekit loaders build CPU tensors
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    return type(batch)(_to_device(part, device) for part in batch)


def _configure_optimizers(model: Any) -> tuple[list[torch.optim.Optimizer], list[Any]]:
    """The model's optimizers and schedulers (``configure_optimizers`` returns either a list or both)."""
    configured = model.configure_optimizers()
    if isinstance(configured, tuple):
        return list(configured[0]), list(configured[1])
    return list(configured), []


def _optimizers_to_cpu(optimizers: list[torch.optim.Optimizer]) -> None:
    """Move optimizer state to the CPU with the model, as Lightning's teardown does."""
    for optimizer in optimizers:
        for state in optimizer.state.values():
            for key, value in state.items():
                if isinstance(value, torch.Tensor) and value.device.type != "cpu":
                    state[key] = value.cpu()
