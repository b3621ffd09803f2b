"""Row-sparse optimizers: same numbers as torch's optimizers on the rows a batch touched."""

from __future__ import annotations

import pytest
import torch

import coursekit.optim
from coursekit.optim import LazyAdam, RowAdagrad, RowSGD

ROWS, DIM = 40, 5


@pytest.fixture(params=["gather", "masked"])
def path(request, monkeypatch):
    """Run a test on both update paths: gathered rows, and masked passes over whole tables."""
    for cls in (coursekit.optim.RowSparseOptimizer, coursekit.optim.LazyAdam):
        monkeypatch.setattr(cls, "gather_below", 1.0 if request.param == "gather" else 0.0)
    return request.param


def batches(steps: int, size: int = 24, seed: int = 0, rows: int = ROWS) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Row ids (with repeats) and targets; each batch misses some rows."""
    generator = torch.Generator().manual_seed(seed)
    return [
        (torch.randint(0, rows, (size,), generator=generator), torch.randn(size, DIM, generator=generator))
        for _ in range(steps)
    ]


def batch_loss(vectors: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    # The clamp gives some touched rows an exactly-zero gradient, which SparseAdam still updates.
    return torch.clamp((vectors - targets).square().sum(1) - 4.0, min=0.0).mean()


def train_dense(optimizer_class, steps: list, pass_rows: bool = True, **kwargs) -> tuple[torch.Tensor, dict]:
    weight = torch.nn.Parameter(torch.randn(ROWS, DIM, generator=torch.Generator().manual_seed(1)))
    optimizer = optimizer_class([weight], **kwargs)
    for ids, targets in steps:
        optimizer.zero_grad()
        batch_loss(weight[ids], targets).backward()
        optimizer.step(rows={weight: ids} if pass_rows else None)
    return weight.detach(), optimizer.state[weight]


def train_sparse(optimizer_class, steps: list, **kwargs) -> tuple[torch.Tensor, dict]:
    weight = torch.randn(ROWS, DIM, generator=torch.Generator().manual_seed(1))
    table = torch.nn.Embedding(ROWS, DIM, sparse=True, _weight=weight)
    optimizer = optimizer_class(table.parameters(), **kwargs)
    for ids, targets in steps:
        optimizer.zero_grad()
        batch_loss(table(ids), targets).backward()
        optimizer.step()
    return table.weight.detach(), optimizer.state[table.weight]


def test_lazy_adam_is_sparse_adam_on_dense_tensors(path):
    steps = batches(30)
    dense, dense_state = train_dense(LazyAdam, steps, lr=0.05)
    sparse, sparse_state = train_sparse(torch.optim.SparseAdam, steps, lr=0.05)
    # Duplicate ids are summed in another order by the two backwards: equal up to rounding.
    torch.testing.assert_close(dense, sparse, rtol=1e-5, atol=1e-6)
    for key in ("exp_avg", "exp_avg_sq"):
        torch.testing.assert_close(dense_state[key], sparse_state[key], rtol=1e-5, atol=1e-7)
    assert dense_state["step"] == int(sparse_state["step"]) == 30


def test_lazy_adam_leaves_untouched_rows_and_their_moments_alone(path):
    weight = torch.nn.Parameter(torch.randn(ROWS, DIM))
    optimizer = LazyAdam([weight], lr=0.1)
    for ids in (torch.tensor([0, 1, 2]), torch.tensor([2, 3])):
        before = weight.detach().clone()
        moments = optimizer.state[weight].get("exp_avg", torch.zeros(ROWS, DIM)).clone()
        optimizer.zero_grad()
        weight[ids].sum().backward()
        optimizer.step(rows={weight: ids})
        untouched = torch.ones(ROWS, dtype=torch.bool)
        untouched[ids] = False
        assert torch.equal(weight[untouched], before[untouched])
        assert torch.equal(optimizer.state[weight]["exp_avg"][untouched], moments[untouched])
        assert not torch.equal(weight[ids], before[ids])
    # Row 0 was not in the second batch: dense Adam would have moved it on its momentum.
    assert optimizer.state[weight]["exp_avg"][0].ne(0).all()


def test_row_sgd_is_sgd_when_every_row_is_touched(path):
    steps = [(torch.cat([torch.arange(ROWS), ids]), torch.randn(ROWS + len(ids), DIM)) for ids, _ in batches(10)]
    row, _ = train_dense(RowSGD, steps, lr=0.1)
    weight = torch.nn.Parameter(torch.randn(ROWS, DIM, generator=torch.Generator().manual_seed(1)))
    optimizer = torch.optim.SGD([weight], lr=0.1)
    for ids, targets in steps:
        optimizer.zero_grad()
        batch_loss(weight[ids], targets).backward()
        optimizer.step()
    assert torch.equal(row, weight.detach())  # the same arithmetic on every value: bit-identical


def test_row_sgd_and_adagrad_match_torch_with_sparse_gradients(path):
    steps = batches(20)
    for ours, theirs in ((RowSGD, torch.optim.SGD), (RowAdagrad, torch.optim.Adagrad)):
        dense, _ = train_dense(ours, steps, lr=0.1)
        sparse, _ = train_sparse(theirs, steps, lr=0.1)
        torch.testing.assert_close(dense, sparse, rtol=1e-5, atol=1e-6)


def test_without_rows_the_non_zero_gradient_rows_are_updated(path):
    # A plain loss (no clamp) gives every touched row a non-zero gradient: same as passing the ids.
    steps = [(ids, targets + 10.0) for ids, targets in batches(10)]
    given, _ = train_dense(LazyAdam, steps, lr=0.05)
    found, _ = train_dense(LazyAdam, steps, pass_rows=False, lr=0.05)
    torch.testing.assert_close(given, found, rtol=0, atol=0)


def test_bad_settings_fail_clearly():
    weight = torch.nn.Parameter(torch.zeros(3, 2))
    with pytest.raises(ValueError, match="lr"):
        RowSGD([weight], lr=-1.0)
    with pytest.raises(ValueError, match="betas"):
        LazyAdam([weight], betas=(0.9, 1.5))


@pytest.mark.parametrize("optimizer_class", [LazyAdam, RowSGD, RowAdagrad])
def test_sparse_gradients_update_the_same_rows_as_dense_ones(optimizer_class, path):
    # nn.Embedding(sparse=True) repeats a row once per lookup, unsorted: the optimizer sums them.
    steps = batches(20)
    dense, dense_state = train_dense(optimizer_class, steps, lr=0.05)
    sparse, sparse_state = train_sparse(optimizer_class, steps, lr=0.05)
    torch.testing.assert_close(dense, sparse, rtol=1e-5, atol=1e-6)
    for key, value in dense_state.items():
        if isinstance(value, torch.Tensor):
            torch.testing.assert_close(value, sparse_state[key], rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("optimizer, bias_optimizer", [("lazy_adam", "row_sgd"), ("row_adagrad", "row_adagrad")])
def test_model_trains_as_well_with_row_sparse_optimizers(optimizer, bias_optimizer):
    from coursekit.metrics import auc, evaluate_in_batches
    from tests.test_model import clustered_split, fitted

    train, test = clustered_split()
    lr = {"lazy_adam": 5e-2, "row_adagrad": 2e-1}[optimizer]
    model, _ = fitted(optimizer=optimizer, bias_optimizer=bias_optimizer, lr=lr)
    dense, _ = fitted()  # Adam + SGD, the defaults
    (row_auc,), (dense_auc,) = (
        evaluate_in_batches([auc], test, m, train_interactions=train, progress=False) for m in (model, dense)
    )
    assert model.hparams.optimizer == optimizer
    # Ideal is 0.8 (see test_model); dense Adam reaches about 0.78.
    assert row_auc > 0.72 and abs(row_auc - dense_auc) < 0.05
    # The trained model saves and loads with its optimizer names.
    assert model._config()["optimizer"] == optimizer


def test_the_model_passes_the_rows_its_loss_read(monkeypatch):
    from coursekit.model import CourseTrainer, MatrixFactorizationModel
    from coursekit.model.factorization import MatrixFactorization
    from tests.test_model import clustered

    seen = []
    rows_used = MatrixFactorization.rows_used

    def recording_rows_used(self, users, items):
        seen.append(items.shape)
        return rows_used(self, users, items)

    monkeypatch.setattr(MatrixFactorization, "rows_used", recording_rows_used)
    model = MatrixFactorizationModel(
        train=clustered(), optimizer="lazy_adam", bias_optimizer="row_sgd", batch_size=64, seed=0
    )
    CourseTrainer(model, max_epochs=1, enable_progress_bar=False).fit(model)
    # Once per batch; items: the positive and the hardest of 5 negatives (what gets a gradient).
    assert seen == [(64, 2)] * 15


def test_weight_decay_with_a_row_sparse_optimizer_fails_clearly():
    from coursekit.model import MatrixFactorizationModel
    from tests.test_model import clustered

    with pytest.raises(ValueError, match="weight_decay=0.1 needs a dense optimizer; 'lazy_adam'"):
        MatrixFactorizationModel(train=clustered(), optimizer="lazy_adam", weight_decay=0.1)
