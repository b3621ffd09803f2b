"""The compiled AUC/MRR pass (numba, optional) gives the torch engine's and the definitions' values."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coursekit import _ranking_engine, _ranking_kernel
from tests.test_metrics import NEG_INF, engine_and_definitions_agree, random_batch

pytest.importorskip("numba", reason="the compiled pass needs numba (pip install coursekit[fast])")


@pytest.fixture
def compiled(monkeypatch):
    """Every batch, however small, goes through the compiled pass."""
    monkeypatch.setattr(_ranking_kernel, "MIN_SCORES", 0)
    yield
    assert _ranking_kernel.available(torch.zeros(1, 1))


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("ties", [False, True])
def test_compiled_pass_agrees_with_definitions(compiled, seed, ties):
    rng = np.random.default_rng(100 + seed + 10 * ties)
    num_items = [7, 40, 150, 400, 25, 300][seed]
    scores, targets = random_batch(rng, num_users=int(rng.integers(1, 40)), num_items=num_items, ties=ties)
    scores[rng.random(scores.shape) < 0.02] = float("inf")
    targets[-1] = torch.from_numpy(rng.random(num_items) < 0.9)  # past the binary-search threshold
    assert int(targets[-1].sum()) > 64 or num_items < 100
    for k in (1, 5, num_items + 7):
        engine_and_definitions_agree(scores, targets, k)
    facts = _ranking_engine._BatchFacts.from_dense(scores, targets)
    assert facts._compiled


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), num_users=st.integers(1, 4), num_items=st.integers(1, 9), k=st.integers(1, 12))
def test_property_compiled_pass_agrees_with_definitions(compiled, data, num_users, num_items, k):
    values = st.sampled_from([NEG_INF, -1.0, 0.0, 0.5, 1.0, float("inf")])
    rows = st.lists(st.lists(values, min_size=num_items, max_size=num_items), min_size=num_users, max_size=num_users)
    flags = st.lists(
        st.lists(st.booleans(), min_size=num_items, max_size=num_items), min_size=num_users, max_size=num_users
    )
    dtype = data.draw(st.sampled_from([torch.float32, torch.float64]))
    engine_and_definitions_agree(torch.tensor(data.draw(rows), dtype=dtype), torch.tensor(data.draw(flags)), k)


def test_compiled_and_torch_counts_are_identical_on_a_wide_batch(monkeypatch):
    rng = np.random.default_rng(5)
    scores, targets = random_batch(rng, num_users=50, num_items=3000, ties=True)
    torch_facts = _ranking_engine._BatchFacts.from_dense(scores, targets)
    assert not torch_facts._compiled  # below MIN_SCORES
    monkeypatch.setattr(_ranking_kernel, "MIN_SCORES", 0)
    compiled_facts = _ranking_engine._BatchFacts.from_dense(scores, targets)
    assert compiled_facts._compiled
    assert torch.equal(compiled_facts.outrank_totals(), torch_facts.outrank_totals())
    assert all(
        torch.equal(a, b)
        for a, b in zip(compiled_facts.items_ahead_of_first_relevant(), torch_facts.items_ahead_of_first_relevant())
    )


def test_small_batches_and_other_devices_stay_with_torch():
    assert not _ranking_kernel.available(torch.zeros(943, 1682))  # MovieLens 100K: never compiled in a lesson
    assert not _ranking_kernel.available(torch.zeros(_ranking_kernel.MIN_SCORES, dtype=torch.float16))
    assert _ranking_kernel.available(torch.zeros(1, _ranking_kernel.MIN_SCORES))


def test_evaluate_in_batches_with_the_compiled_pass(compiled):
    from tests.test_metrics import test_evaluate_matches_reference_with_ties_infinities_and_many_relevant_items as check

    check()
