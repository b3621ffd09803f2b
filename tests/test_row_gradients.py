"""The hand-written backward of ``sparse=True`` training against autograd through plain indexing."""

from __future__ import annotations

import pytest
import torch

from coursekit.losses import adaptive_hinge, bpr
from coursekit.model.factorization import MatrixFactorization
from coursekit.model.row_gradients import RowSparseScores


def tables(num_users: int = 7, num_items: int = 11, dim: int = 4) -> list[torch.nn.Parameter]:
    generator = torch.Generator().manual_seed(0)
    shapes = [(num_users, dim), (num_items, dim), (num_users, 1), (num_items, 1)]
    return [torch.nn.Parameter(torch.randn(*shape, generator=generator, dtype=torch.float64)) for shape in shapes]


def autograd_gradients(users, items, weights, loss_of):
    p, q, bu, bi = weights
    scores = (q[items] * p[users]).sum(-1) + bu[users].squeeze(-1) + bi[items].squeeze(-1)
    return scores, torch.autograd.grad(loss_of(scores), weights)


@pytest.mark.parametrize(
    "users, items",
    [
        (
            torch.tensor([[0], [3], [3], [6]]),
            torch.tensor([[1, 2, 2], [4, 10, 0], [1, 1, 1], [9, 8, 7]]),
        ),  # [B,1]x[B,M]
        (torch.tensor([5, 5, 0, 2]), torch.tensor([3, 3, 3, 10])),  # one score per pair, repeated rows
    ],
)
@pytest.mark.parametrize("loss", ["sum_of_squares", "bpr", "adaptive_hinge"])
def test_row_sparse_gradients_equal_autograd(users, items, loss):
    loss_of = {
        "sum_of_squares": lambda s: s.square().sum(),
        "bpr": lambda s: bpr(s[:, 0], s[:, 1:]) if s.dim() == 2 else s.sum(),
        "adaptive_hinge": lambda s: adaptive_hinge(s[:, 0], s[:, 1:]) if s.dim() == 2 else s.sum(),
    }[loss]
    weights = tables()
    expected_scores, expected = autograd_gradients(users, items, weights, loss_of)
    scores = RowSparseScores.apply(users, items, *weights)
    torch.testing.assert_close(scores, expected_scores, rtol=0, atol=0)
    got = torch.autograd.grad(loss_of(scores), weights)
    for gradient, reference, weight in zip(got, expected, weights):
        assert gradient.is_sparse and gradient.shape == weight.shape
        rows = gradient._indices()[0]
        assert torch.equal(rows, torch.unique(rows))  # each row once, ascending: no coalesce needed
        torch.testing.assert_close(gradient.to_dense(), reference, rtol=1e-12, atol=1e-12)
        untouched = torch.ones(len(weight), dtype=torch.bool)
        untouched[rows] = False
        assert torch.equal(reference[untouched], torch.zeros_like(reference[untouched]))


def test_sparse_model_trains_like_the_dense_one_with_sgd():
    # Same start, plain SGD: sparse gradients (hand-written) and dense ones (autograd) take the same steps.
    nets = [MatrixFactorization(20, 30, embedding_dim=5, sparse=sparse, seed=3).double() for sparse in (True, False)]
    optimizers = [torch.optim.SGD(net.parameters(), lr=0.5) for net in nets]
    generator = torch.Generator().manual_seed(1)
    for _ in range(5):
        users = torch.randint(0, 20, (16, 1), generator=generator)
        items = torch.randint(0, 30, (16, 4), generator=generator)
        for net, optimizer in zip(nets, optimizers):
            optimizer.zero_grad()
            scores = net(users, items)
            adaptive_hinge(scores[:, 0], scores[:, 1:]).backward()
            optimizer.step()
    assert nets[0].user_embeddings.weight.grad.is_sparse
    for sparse_weight, dense_weight in zip(nets[0].parameters(), nets[1].parameters()):
        torch.testing.assert_close(sparse_weight, dense_weight, rtol=1e-10, atol=1e-12)
