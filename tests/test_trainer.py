"""CourseTrainer defaults, history, schedulers, interrupts, resuming, DDP (setup() is tested in test_setup.py)."""

from __future__ import annotations

import logging
import os
import signal
import warnings

import numpy as np
import pytest
import torch
from pytorch_lightning.callbacks import Callback, ModelCheckpoint
from torch.optim.lr_scheduler import ReduceLROnPlateau, StepLR

from coursekit.interactions import Interactions
from coursekit.model import CourseTrainer, MatrixFactorizationModel
from coursekit.model.trainer import LIGHTNING_LOGGERS


def two_tastes(seed: int = 0, num_users: int = 100, num_items: int = 40, per_user: int = 6) -> Interactions:
    """Even users like the first half of the items, odd users the second half."""
    rng = np.random.default_rng(seed)
    half = num_items // 2
    users = np.repeat(np.arange(num_users), per_user)
    items = np.concatenate([rng.choice(half, per_user, replace=False) + half * (u % 2) for u in range(num_users)])
    return Interactions(users=users, items=items, num_negative_samples=4)


def model(val: bool = True, **kwargs) -> MatrixFactorizationModel:
    settings = dict(embedding_dim=4, lr=5e-2, batch_size=100, seed=0)
    return MatrixFactorizationModel(two_tastes(), two_tastes(1) if val else None, **{**settings, **kwargs})


def weights(m: MatrixFactorizationModel) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in m.state_dict().items()}


def test_epoch_progress_bar_prints_one_update_per_epoch(capsys):
    trainer = CourseTrainer(max_epochs=3)
    trainer.fit(model(embedding_dim=2))
    out = capsys.readouterr().out
    assert trainer.num_training_batches > 1
    # The empty bar, one redraw per epoch, and the final one on close: never one per batch.
    assert 3 < out.count("\r") <= 3 + 2
    assert "3/3" in out and "train_loss=" in out and "val_loss=" in out


def test_a_lightning_progress_bar_replaces_the_epoch_bar():
    from pytorch_lightning.callbacks import TQDMProgressBar

    trainer = CourseTrainer(callbacks=[TQDMProgressBar(refresh_rate=5)])
    assert [type(c).__name__ for c in trainer.callbacks].count("EpochProgressBar") == 0
    assert CourseTrainer(enable_progress_bar=False).progress_bar_callback is None


def test_course_defaults_and_passthrough():
    trainer = CourseTrainer()
    assert trainer.max_epochs == 10 and trainer.logger is None and trainer.checkpoint_callback is None
    assert type(trainer.accelerator).__name__ == "CPUAccelerator"
    assert sum(type(c).__name__ == "EpochProgressBar" for c in trainer.callbacks) == 1
    assert not any(type(c).__name__ == "TQDMProgressBar" for c in trainer.callbacks)
    assert not any(type(c).__name__ == "ModelSummary" for c in trainer.callbacks)
    trainer = CourseTrainer(model(), max_epochs=3, limit_train_batches=2, callbacks=[ModelCheckpoint()])
    assert trainer.max_epochs == 3 and trainer.limit_train_batches == 2
    assert trainer.checkpoint_callback is not None  # a checkpoint callback turns checkpointing on
    with pytest.raises(TypeError, match="LightningModule"):
        CourseTrainer("my model")


def test_training_is_quiet_and_restores_logging(capfd):
    levels = [logging.getLogger(name).level for name in LIGHTNING_LOGGERS]
    m = model()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trainer = CourseTrainer(m, max_epochs=2, enable_progress_bar=False)
        trainer.fit(m)
    out, err = capfd.readouterr()
    assert out == "" and err == ""
    assert [str(w.message) for w in caught] == []
    assert [logging.getLogger(name).level for name in LIGHTNING_LOGGERS] == levels


def test_history_has_one_row_per_epoch_and_plots():
    m = model()
    trainer = CourseTrainer(m, max_epochs=4, enable_progress_bar=False)
    trainer.fit(m)
    history = trainer.history
    assert list(history.columns) == ["epoch", "train_loss", "val_loss", "lr", "bias_lr"]
    assert list(history.epoch) == [0, 1, 2, 3] and history.notna().all().all()
    assert history.train_loss.iloc[-1] < history.train_loss.iloc[0]
    ax = trainer.plot_history()
    assert [line.get_label() for line in ax.get_lines()] == ["train loss", "val loss"]
    assert list(ax.get_lines()[0].get_ydata()) == list(history.train_loss)


def test_epoch_losses_are_means_over_interactions():
    m = model(val=False, lr=0.0, bias_lr=0.0, lr_scheduler_func=None)
    trainer = CourseTrainer(m, max_epochs=1, enable_progress_bar=False)
    trainer.fit(m)
    # With nothing learned, recompute the epoch's loss from the same batches (the loader is epoch-seeded).
    loader = m.train_dataloader()
    loader.sampler.set_epoch(0)
    total = sum(m._batch_loss(batch)[0].item() * len(batch[1]) for batch in loader)
    assert trainer.history.train_loss.iloc[0] == pytest.approx(total / len(m._seen.data), rel=1e-5)


def test_same_seed_same_weights():
    runs = []
    for _ in range(2):
        m = model()
        CourseTrainer(m, max_epochs=2, enable_progress_bar=False).fit(m)
        runs.append(weights(m))
    for name in runs[0]:
        assert torch.equal(runs[0][name], runs[1][name]), name


class RecordingPlateau(ReduceLROnPlateau):
    seen: list[float] = []

    def step(self, metrics, *args, **kwargs):
        RecordingPlateau.seen.append(float(metrics))
        return super().step(metrics, *args, **kwargs)


@pytest.mark.parametrize("with_val, monitored", [(True, "val_loss"), (False, "train_loss")])
def test_plateau_schedulers_step_on_the_monitored_loss(with_val, monitored):
    RecordingPlateau.seen = []
    m = model(val=with_val, lr_scheduler_func=lambda opt: RecordingPlateau(opt, patience=0))
    trainer = CourseTrainer(m, max_epochs=3, enable_progress_bar=False)
    trainer.fit(m)
    expected = [value for value in trainer.history[monitored] for _ in range(2)]  # both optimizers
    assert RecordingPlateau.seen == pytest.approx(expected)


def test_learning_rates_follow_their_schedulers():
    m = model(lr=0.4, bias_lr=0.2, lr_scheduler_func=lambda opt: StepLR(opt, step_size=1, gamma=0.5))
    trainer = CourseTrainer(m, max_epochs=3, enable_progress_bar=False)
    trainer.fit(m)
    assert list(trainer.history.lr) == pytest.approx([0.4, 0.2, 0.1])
    assert list(trainer.history.bias_lr) == pytest.approx([0.2, 0.1, 0.05])
    # A loss that cannot improve makes the default plateau scheduler (patience 1) cut both rates.
    m = model(lr=0.4, bias_lr=0.2, loss=lambda pos, neg, num_items=None: (pos * 0).sum() + 1.0)
    trainer = CourseTrainer(m, max_epochs=4, enable_progress_bar=False)
    trainer.fit(m)
    assert list(trainer.history.lr) == pytest.approx([0.4, 0.4, 0.4, 0.04])
    assert list(trainer.history.bias_lr) == pytest.approx([0.2, 0.2, 0.2, 0.02])


class InterruptAt(Callback):
    def __init__(self, epoch: int, batch: int) -> None:
        self.at = (epoch, batch)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if (trainer.current_epoch, batch_idx) == self.at:
            raise KeyboardInterrupt


def test_keyboard_interrupt_stops_gracefully_and_keeps_the_model_usable():
    m = model()
    trainer = CourseTrainer(m, max_epochs=5, enable_progress_bar=False, callbacks=[InterruptAt(1, 2)])
    before = weights(m)
    handler = signal.getsignal(signal.SIGINT)
    with pytest.warns(UserWarning, match="interrupted .* in epoch 1"):
        trainer.fit(m)  # Lightning catches the KeyboardInterrupt; fit returns normally
    assert signal.getsignal(signal.SIGINT) is handler  # Ctrl-C still works afterwards
    assert trainer.interrupted and trainer.current_epoch == 1
    assert len(trainer.history) == 1  # the interrupted epoch is not recorded
    assert not torch.equal(before["factorization.item_embeddings.weight"], m.item_embeddings.weight)
    m.eval()
    assert torch.isfinite(m.score_all_items(torch.arange(5))).all()
    assert len(m.recommend(0, k=3, unseen_items_only=True)) == 3
    more = CourseTrainer(m, max_epochs=1, enable_progress_bar=False)  # and it can train on
    more.fit(m)
    assert len(more.history) == 1


@pytest.mark.slow
def test_resuming_from_an_epoch_checkpoint_matches_an_uninterrupted_run(tmp_path):
    uninterrupted = model()
    reference = CourseTrainer(uninterrupted, max_epochs=4, enable_progress_bar=False)
    reference.fit(uninterrupted)

    first_half = model()
    checkpoints = ModelCheckpoint(dirpath=tmp_path, filename="{epoch}", save_top_k=-1, every_n_epochs=1)
    CourseTrainer(first_half, max_epochs=2, enable_progress_bar=False, callbacks=[checkpoints]).fit(first_half)
    assert sorted(os.listdir(tmp_path)) == ["epoch=0.ckpt", "epoch=1.ckpt"]

    resumed = model()
    with torch.no_grad():  # spoil the weights: everything must come from the checkpoint
        for parameter in resumed.parameters():
            parameter.add_(1.0)
    trainer = CourseTrainer(
        resumed, max_epochs=4, enable_progress_bar=False, callbacks=[ModelCheckpoint(dirpath=tmp_path)]
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Lightning's note that the checkpoint came from other callbacks
        trainer.fit(resumed, ckpt_path=tmp_path / "epoch=1.ckpt")
    for name, value in weights(uninterrupted).items():
        assert torch.equal(value, resumed.state_dict()[name]), name
    assert trainer.history.equals(reference.history)  # history travels in the checkpoint too


def test_uses_a_cuda_gpu_when_available_unless_told_cpu(monkeypatch):
    from coursekit.model import trainer as trainer_module

    monkeypatch.setattr(trainer_module.torch.cuda, "is_available", lambda: True)
    assert trainer_module.default_accelerator() == "gpu"
    monkeypatch.setattr(trainer_module.torch.cuda, "is_available", lambda: False)
    assert trainer_module.default_accelerator() == "cpu"
    assert (
        CourseTrainer(accelerator="cpu", enable_progress_bar=False).accelerator.__class__.__name__ == "CPUAccelerator"
    )


def test_max_epochs_is_settable_to_continue_training():
    from tests.contracts import synthetic_interactions

    model = MatrixFactorizationModel(synthetic_interactions(), embedding_dim=4, seed=0)
    trainer = CourseTrainer(max_epochs=2, enable_progress_bar=False)
    trainer.fit(model)
    before = model.item_embeddings.weight.detach().clone()
    trainer.max_epochs = 4
    assert trainer.max_epochs == 4
    trainer.fit(model)
    assert trainer.current_epoch == 4 and trainer.history.epoch.tolist() == [0, 1, 2, 3]
    assert not torch.equal(before, model.item_embeddings.weight)
    with pytest.raises(ValueError, match="max_epochs=3 is below the 4 epochs already trained"):
        trainer.max_epochs = 3
    with pytest.raises(ValueError, match="whole number"):
        trainer.max_epochs = 2.5
