"""coursekit.model.implicit_baselines: implicit's ALS and BPR behind the coursekit scoring contract."""

from __future__ import annotations

import builtins
import importlib

import numpy as np
import pytest
import torch

from coursekit.model import implicit_baselines
from coursekit.model.implicit_baselines import ImplicitALSModel, ImplicitBPRModel, implicit_available
from tests.contracts import synthetic_interactions


def test_implicit_available_says_whether_it_imports():
    assert implicit_available() == (importlib.util.find_spec("implicit") is not None)


def test_missing_implicit_names_the_extra(monkeypatch):
    real_import = builtins.__import__

    def no_implicit(name, *args, **kwargs):
        if name == "implicit" or name.startswith("implicit."):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_implicit)
    monkeypatch.setattr(importlib, "import_module", lambda name, *a: no_implicit(name))
    with pytest.raises(ImportError, match=r'pip install "coursekit-recsys\[baselines\]"'):
        ImplicitALSModel(synthetic_interactions())
    with pytest.raises(ImportError, match=r'pip install "coursekit-recsys\[baselines\]"'):
        ImplicitBPRModel(synthetic_interactions())
    # An empty model (what load_model builds) needs no implicit.
    assert ImplicitALSModel(num_users=3, num_items=4, factors=2).score_all_items(torch.tensor([0])).shape == (1, 4)


@pytest.mark.parametrize("cls", [ImplicitALSModel, ImplicitBPRModel])
def test_same_seed_same_factors_other_seed_other_factors(cls):
    pytest.importorskip("implicit")
    data = synthetic_interactions()
    first, again = cls(data, factors=6, iterations=5, seed=3), cls(data, factors=6, iterations=5, seed=3)
    torch.testing.assert_close(first.user_factors, again.user_factors, rtol=0, atol=0)
    torch.testing.assert_close(first.item_factors, again.item_factors, rtol=0, atol=0)
    other = cls(data, factors=6, iterations=5, seed=4)
    assert not torch.equal(first.item_factors, other.item_factors)
    assert first.fit_seconds > 0


def test_scores_are_dot_products_of_implicits_factors():
    pytest.importorskip("implicit")
    from implicit.cpu.als import AlternatingLeastSquares

    data = synthetic_interactions()
    model = ImplicitALSModel(data, factors=5, regularization=0.1, iterations=4, alpha=3.0, seed=1)
    reference = AlternatingLeastSquares(
        factors=5, regularization=0.1, alpha=3.0, iterations=4, num_threads=1, random_state=1
    )
    binary = data.mat.tocsr().astype(np.float32)
    binary.data[:] = 1.0
    reference.fit(binary, show_progress=False)
    expected = reference.user_factors @ reference.item_factors.T
    np.testing.assert_allclose(
        model.score_all_items(torch.arange(data.num_users)).numpy(), expected, rtol=1e-5, atol=1e-6
    )


def test_bpr_carries_the_item_bias_column():
    pytest.importorskip("implicit")
    model = ImplicitBPRModel(synthetic_interactions(), factors=4, iterations=3, seed=0)
    assert model.item_factors.shape == (40, 5) and model.user_factors.shape == (50, 5)
    torch.testing.assert_close(model.user_factors[:, -1], torch.ones(50))  # implicit's 1 times the item bias


def test_bad_settings_are_named():
    data = synthetic_interactions()
    with pytest.raises(ValueError, match="factors must be >= 1"):
        ImplicitALSModel(data, factors=0)
    with pytest.raises(ValueError, match="alpha must be a finite number > 0"):
        ImplicitALSModel(data, alpha=0.0)
    with pytest.raises(ValueError, match="learning_rate must be a finite number > 0"):
        ImplicitBPRModel(data, learning_rate=-0.1)
    with pytest.raises(TypeError, match="regularization must be a number"):
        ImplicitBPRModel(data, regularization="a lot")
    with pytest.raises(ValueError, match="needs train"):
        ImplicitALSModel()
    assert "pip install" in implicit_baselines._INSTALL_HINT
