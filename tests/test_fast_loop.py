"""CourseTrainer's fast loop: the same numbers as Lightning's loop, bit for bit, and Lightning wherever it is needed."""

from __future__ import annotations

import signal

import pytest
import torch
from pytorch_lightning.callbacks import Callback, LearningRateMonitor, ModelCheckpoint
from torch.optim.lr_scheduler import ReduceLROnPlateau, StepLR

from coursekit.cross_validation import random_split
from coursekit.interactions import ApproximateNegativeSamplingInteractionsDataLoader
from coursekit.losses import hinge
from coursekit.model import CourseTrainer, MatrixFactorizationModel
from coursekit.model.fast_loop import fast_loop_blockers
from tests.contracts import synthetic_interactions


def split():
    data = synthetic_interactions(num_users=60, num_items=40, density=0.15, seed=0, num_negative_samples=4)
    return random_split(data, test_p=0.25, seed=0)


def build(val: bool = True, approximate: bool = False, **kwargs) -> MatrixFactorizationModel:
    train, test = split()
    if approximate:
        train = ApproximateNegativeSamplingInteractionsDataLoader(train, batch_size=64, shuffle=True, seed=1)
        test = ApproximateNegativeSamplingInteractionsDataLoader(test, batch_size=64, shuffle=False, seed=2)
    settings = {"embedding_dim": 4, "lr": 5e-2, "batch_size": 64, "seed": 0, **kwargs}
    return MatrixFactorizationModel(train, test if val else None, **settings)


def step_lr(optimizer):
    return StepLR(optimizer, step_size=1, gamma=0.5)


def plateau_now(optimizer):
    return ReduceLROnPlateau(optimizer, patience=0, threshold=0.5)  # cuts the rates after most epochs


CONFIGURATIONS = {
    "default recipe": {},
    "no validation": {"val": False},
    "separate bias SGD": {"lr": 1e-2, "bias_lr": 1e-1, "optimizer": "adam", "bias_optimizer": "sgd"},
    "one optimizer": {"bias_optimizer": None},
    "constant lr": {"lr_scheduler_func": None},
    "lazy_adam": {"optimizer": "lazy_adam"},
    "lazy_adam, no validation": {"optimizer": "lazy_adam", "val": False},
    "row_sgd and row_adagrad": {"optimizer": "row_adagrad", "bias_optimizer": "row_sgd"},
    "sparse_adam": {"sparse": True, "optimizer": "sparse_adam"},
    "approximate loader": {"approximate": True},
    "approximate loader, no validation": {"approximate": True, "val": False},
    "weight decay, bpr": {"weight_decay": 1e-3, "loss": "bpr"},
    "dropout (draws from the global RNG)": {"dropout_p": 0.3},
    "mean hinge over all negatives": {"loss": hinge},
    "StepLR": {"lr_scheduler_func": step_lr},
    "plateau cutting the rates": {"lr_scheduler_func": plateau_now, "val": False},
}


def fit_both_ways(epochs: int = 4, **settings):
    """The same model fitted by Lightning's loop and by the fast loop, from the same global RNG state."""
    runs = []
    for fast in (False, True):
        torch.manual_seed(1234)
        model = build(**settings)
        trainer = CourseTrainer(model, max_epochs=epochs, enable_progress_bar=False, fast=fast)
        trainer.fit(model)
        assert trainer.used_fast_loop is fast, trainer.fast_loop_blockers
        runs.append((model, trainer, torch.get_rng_state()))
    return runs


def assert_same_training(lightning, fast):
    (model_l, trainer_l, rng_l), (model_f, trainer_f, rng_f) = lightning, fast
    for name, value in model_l.state_dict().items():
        assert torch.equal(value, model_f.state_dict()[name]), name
    history_l, history_f = trainer_l.history, trainer_f.history
    assert history_l.equals(history_f), f"\n{history_l}\n{history_f}"
    assert set(trainer_l.callback_metrics) == set(trainer_f.callback_metrics)
    for key, value in trainer_l.callback_metrics.items():
        assert torch.equal(value, trainer_f.callback_metrics[key]), key
    assert (trainer_l.current_epoch, trainer_l.global_step) == (trainer_f.current_epoch, trainer_f.global_step)
    assert [o.param_groups[0]["lr"] for o in trainer_l.optimizers] == [
        o.param_groups[0]["lr"] for o in trainer_f.optimizers
    ]
    assert torch.equal(rng_l, rng_f)  # dropout drew the same numbers, and nothing else drew
    assert model_l.training == model_f.training
    assert trainer_f.state.status == "finished" and trainer_f.lightning_module is model_f


@pytest.mark.parametrize("settings", CONFIGURATIONS.values(), ids=CONFIGURATIONS.keys())
def test_fast_loop_gives_lightnings_weights_losses_and_rates(settings):
    lightning, fast = fit_both_ways(**settings)
    assert_same_training(lightning, fast)
    history = fast[1].history
    assert len(history) == 4 and history.train_loss.notna().all()
    assert history.val_loss.notna().all() == settings.get("val", True)


def test_the_schedules_really_moved_the_rates():
    # So the comparisons above compare learning rates that change.
    _, (_, trainer, _) = fit_both_ways(lr_scheduler_func=plateau_now, val=False)
    assert trainer.history.lr.nunique() > 1
    _, (_, trainer, _) = fit_both_ways(lr_scheduler_func=step_lr)
    assert list(trainer.history.lr) == pytest.approx([5e-2, 2.5e-2, 1.25e-2, 6.25e-3])


def test_continuing_training_matches_lightning():
    runs = []
    for fast in (False, True):
        model = build()
        trainer = CourseTrainer(model, max_epochs=2, enable_progress_bar=False, fast=fast)
        trainer.fit(model)
        trainer.max_epochs = 4
        trainer.fit(model)  # Lightning starts fresh optimizers from epoch 2; so must the fast loop
        assert trainer.current_epoch == 4 and list(trainer.history.epoch) == [0, 1, 2, 3]
        runs.append((model, trainer, torch.get_rng_state()))
    assert_same_training(*runs)
    # A fit that has nothing left to do trains nothing.
    model, trainer, _ = runs[1]
    before = model.item_embeddings.weight.detach().clone()
    trainer.fit(model)
    assert torch.equal(before, model.item_embeddings.weight) and len(trainer.history) == 4


def test_the_fast_loop_can_hand_over_to_lightning_midway():
    model = build()
    trainer = CourseTrainer(model, max_epochs=2, enable_progress_bar=False)
    trainer.fit(model)
    assert trainer.used_fast_loop
    trainer.fast, trainer.max_epochs = False, 4
    trainer.fit(model)
    assert not trainer.used_fast_loop
    reference = build()
    lightning = CourseTrainer(reference, max_epochs=2, enable_progress_bar=False, fast=False)
    lightning.fit(reference)
    lightning.max_epochs = 4
    lightning.fit(reference)
    assert_same_training((reference, lightning, torch.get_rng_state()), (model, trainer, torch.get_rng_state()))


@pytest.mark.parametrize("fast", [True, False])
def test_both_loops_print_the_same_progress_line(fast, capsys):
    model = build()
    trainer = CourseTrainer(model, max_epochs=3, fast=fast)
    trainer.fit(model)
    out = capsys.readouterr().out
    assert trainer.used_fast_loop is fast
    assert 3 < out.count("\r") <= 3 + 2  # one redraw per epoch, never per batch
    last = trainer.history.iloc[-1]
    assert f"train_loss={last.train_loss:.4f}" in out and f"val_loss={last.val_loss:.4f}" in out and "3/3" in out


class Recorder(Callback):
    pass


class OwnTrainingStep(MatrixFactorizationModel):
    def training_step(self, batch, batch_idx):
        return super().training_step(batch, batch_idx)


class OwnEpochEnd(MatrixFactorizationModel):
    def on_train_epoch_end(self):
        super().on_train_epoch_end()


class NewName(MatrixFactorizationModel):
    """A subclass that changes nothing Lightning calls keeps the fast loop."""

    def __repr__(self) -> str:
        return "NewName"


LIGHTNING_CASES = {
    "fast=False": ({"fast": False}, {}, MatrixFactorizationModel, "fast=False"),
    "a callback": ({"callbacks": [Recorder()]}, {}, MatrixFactorizationModel, "callbacks Recorder"),
    "a checkpoint": ({"callbacks": [ModelCheckpoint()]}, {}, MatrixFactorizationModel, "ModelCheckpoint"),
    "a Lightning callback": (
        {"callbacks": [LearningRateMonitor()], "logger": False},
        {},
        MatrixFactorizationModel,
        "LearningRateMonitor",
    ),
    "a model summary": ({"enable_model_summary": True}, {}, MatrixFactorizationModel, "ModelSummary"),
    "gradient clipping": ({"gradient_clip_val": 1.0}, {}, MatrixFactorizationModel, "gradient_clip_val"),
    "batch limits": ({"limit_train_batches": 2}, {}, MatrixFactorizationModel, "limit_train_batches"),
    "accumulation": ({"accumulate_grad_batches": 2}, {}, MatrixFactorizationModel, "accumulate_grad_batches"),
    "64-bit precision": ({"precision": "64-true"}, {}, MatrixFactorizationModel, "precision 64-true"),
    "own dataloaders": ({}, {"val_dataloaders": "given"}, MatrixFactorizationModel, "more than the model"),
    "an overridden training_step": ({}, {}, OwnTrainingStep, "overrides training_step"),
    "an overridden on_train_epoch_end": ({}, {}, OwnEpochEnd, "overrides on_train_epoch_end"),
}


@pytest.mark.parametrize(
    "trainer_kwargs, fit_kwargs, model_class, reason", LIGHTNING_CASES.values(), ids=LIGHTNING_CASES.keys()
)
def test_what_needs_lightnings_loop_gets_it(trainer_kwargs, fit_kwargs, model_class, reason):
    train, val = split()
    model = model_class(train, val, embedding_dim=4, batch_size=64, seed=0)
    trainer = CourseTrainer(model, max_epochs=1, enable_progress_bar=False, **trainer_kwargs)
    reasons = fast_loop_blockers(trainer, model, (), fit_kwargs)
    assert any(reason in r for r in reasons), reasons


def test_lightning_really_runs_when_needed_and_the_rest_stays_fast(tmp_path):
    train, val = split()
    model = OwnTrainingStep(train, val, embedding_dim=4, batch_size=64, seed=0)
    trainer = CourseTrainer(model, max_epochs=1, enable_progress_bar=False)
    trainer.fit(model)
    assert trainer.used_fast_loop is False and "overrides training_step" in trainer.fast_loop_blockers[0]
    trainer = CourseTrainer(max_epochs=1, enable_progress_bar=False, callbacks=[ModelCheckpoint(dirpath=tmp_path)])
    trainer.fit(build())
    assert trainer.used_fast_loop is False and len(list(tmp_path.iterdir())) == 1
    model = NewName(train, val, embedding_dim=4, batch_size=64, seed=0)
    # Keywords the loop honours keep it: an explicit CPU, one device, no sanity check, no_grad validation.
    trainer = CourseTrainer(
        model,
        max_epochs=1,
        enable_progress_bar=False,
        accelerator="cpu",
        devices=1,
        num_sanity_val_steps=0,
        inference_mode=False,
        callbacks=[],
    )
    trainer.fit(model)
    assert trainer.used_fast_loop is True and trainer.fast_loop_blockers == []


def test_ctrl_c_in_the_fast_loop_stops_gracefully(capsys):
    model = build()
    batch_loss, calls = model._batch_loss, []

    def interrupt_in_epoch_one(batch):
        calls.append(torch.is_grad_enabled())
        if sum(calls) == len(model.train_dataloader()) + 2:  # the third training batch of epoch 1
            raise KeyboardInterrupt
        return batch_loss(batch)

    model._batch_loss = interrupt_in_epoch_one
    trainer = CourseTrainer(model, max_epochs=5)
    before = model.item_embeddings.weight.detach().clone()
    handler = signal.getsignal(signal.SIGINT)
    with pytest.warns(UserWarning, match="interrupted .* in epoch 1"):
        trainer.fit(model)
    assert trainer.used_fast_loop and trainer.interrupted and trainer.current_epoch == 1
    assert signal.getsignal(signal.SIGINT) is handler
    assert len(trainer.history) == 1  # the interrupted epoch is not recorded
    assert not torch.equal(before, model.item_embeddings.weight)
    assert capsys.readouterr().out.endswith("\n")  # the progress line was closed
    model._batch_loss = batch_loss
    more = CourseTrainer(model, max_epochs=1, enable_progress_bar=False)  # and it trains on
    more.fit(model)
    assert more.used_fast_loop and len(more.history) == 1


def test_other_errors_propagate_and_close_the_progress_line(capsys):
    model = build()

    def broken(batch):
        raise RuntimeError("broken loss")

    model._batch_loss = broken
    trainer = CourseTrainer(model, max_epochs=2)
    with pytest.raises(RuntimeError, match="broken loss"):
        trainer.fit(model)
    assert trainer.interrupted and trainer.current_epoch == 0
    assert capsys.readouterr().out.endswith("\n")
