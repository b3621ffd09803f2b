"""Adaptive losses score every negative without a graph, then train the hardest: same numbers."""

from __future__ import annotations

import pytest
import torch

from coursekit.model import MatrixFactorizationModel
from tests.test_model import clustered


def loss_and_gradients(model: MatrixFactorizationModel, batch, shortcut: bool, monkeypatch) -> tuple:
    monkeypatch.setattr(MatrixFactorizationModel, "_trains_hardest_only", lambda self, negatives: shortcut)
    model.zero_grad(set_to_none=True)
    loss, _ = model._batch_loss(batch)
    loss.backward()
    return loss.detach(), {name: p.grad.clone() for name, p in model.named_parameters()}


@pytest.mark.parametrize("loss", ["adaptive_hinge", "adaptive_bpr"])
def test_training_only_the_hardest_negative_gives_the_same_loss_and_gradients(loss, monkeypatch):
    model = MatrixFactorizationModel(train=clustered(), embedding_dim=4, loss=loss, batch_size=64, seed=1)
    with torch.no_grad():  # spread the scores so that hinges are active and the hardest negative matters
        for p in model.parameters():
            p.normal_(0, 0.5, generator=torch.Generator().manual_seed(2))
    batch = next(iter(model.train_dataloader()))
    assert batch[1].shape[1] == 5 and model._trains_hardest_only(batch[1])
    short_loss, short_grads = loss_and_gradients(model, batch, True, monkeypatch)
    full_loss, full_grads = loss_and_gradients(model, batch, False, monkeypatch)
    assert short_loss > 0 and torch.equal(short_loss, full_loss)
    assert full_grads["factorization.item_embeddings.weight"].abs().sum() > 0
    for name, grad in full_grads.items():  # (user biases cancel in pos - neg: their gradient is 0)
        assert torch.equal(short_grads[name], grad), name  # bit-identical: the extra terms are exact zeros


def test_the_shortcut_is_not_taken_when_it_would_change_results():
    negatives = torch.zeros(3, 5, dtype=torch.long)
    dropout = MatrixFactorizationModel(train=clustered(), dropout_p=0.5, seed=0).train()
    assert not dropout._trains_hardest_only(negatives)  # a second pass would draw other dropout masks
    assert dropout.eval()._trains_hardest_only(negatives)
    assert not MatrixFactorizationModel(train=clustered(), loss="warp", seed=0)._trains_hardest_only(negatives)
    model = MatrixFactorizationModel(train=clustered(), seed=0)
    assert not model._trains_hardest_only(negatives[:, :1])
    with torch.no_grad():
        assert not model._trains_hardest_only(negatives)
