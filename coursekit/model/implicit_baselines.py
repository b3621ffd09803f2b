"""Reference baselines from the ``implicit`` library: ALS and BPR matrix factorisation.

``implicit`` (Ben Frederickson's library) is the usual yardstick for implicit-feedback
recommenders. These wrappers fit its CPU models on the binary ``users x items`` training matrix
and score like every coursekit model (``score_all_items``, ``forward``, ``recommend``, ``save_model``):
``score(u, i) = user_factors[u] . item_factors[i]``.

* :class:`ImplicitALSModel`: weighted alternating least squares (Hu, Koren and Volinsky 2008),
  confidence ``1 + alpha`` on every observed pair, 1 elsewhere.
* :class:`ImplicitBPRModel`: Bayesian personalised ranking (Rendle et al. 2009) by SGD; its item
  factors carry one extra column, the item bias (the user side holds a 1 there).

Both fit with one thread and ``random_state=seed``, so a seed gives the same factors on one machine.
``implicit`` is an optional dependency (``pip install "coursekit-recsys[baselines]"``), imported
only when a model is fitted: a saved model loads and scores without it.
"""

from __future__ import annotations

import importlib.util
import numbers
import time
import warnings
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn

from coursekit._checks import check_int
from coursekit.model.base import RecommenderMixin, binary_matrix, model_sizes

__all__ = ["ImplicitALSModel", "ImplicitBPRModel", "implicit_available"]

_INSTALL_HINT = 'pip install "coursekit-recsys[baselines]"'


def implicit_available() -> bool:
    """Whether the ``implicit`` library can be imported (these baselines need it to fit)."""
    return importlib.util.find_spec("implicit") is not None


def _import_implicit_cpu(module: str) -> Any:
    try:
        with warnings.catch_warnings():
            # implicit imports tqdm.auto, which warns in a notebook without ipywidgets: not our concern.
            warnings.filterwarnings("ignore", message="IProgress not found")
            return importlib.import_module(f"implicit.cpu.{module}")
    except ImportError as error:
        raise ImportError(
            f"the implicit baselines need the implicit library, which is not installed: {_INSTALL_HINT}"
        ) from error


def _positive(name: str, value: Any, allow_zero: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {value!r}")
    value = float(value)
    if not np.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"{name} must be a finite number {'>=' if allow_zero else '>'} 0, got {value}")
    return value


class _FactorModel(RecommenderMixin, nn.Module):
    """Scores ``user_factors @ item_factors.T`` from two float32 buffers, fitted by an implicit model.

    A subclass names implicit's class (``_IMPLICIT``: module and class in ``implicit.cpu``) and
    returns its settings from ``_settings()`` (implicit's keywords, plus ``seed`` for its
    ``random_state``); fitting, saving and ``repr`` are the same for every implicit model.
    """

    _IMPLICIT: tuple[str, str]

    def __init__(self, train: Any, num_users: int | None, num_items: int | None, dim: int | None) -> None:
        super().__init__()
        self._seen, self.num_users, self.num_items = model_sizes(type(self).__name__, train, num_users, num_items)
        self.fit_seconds = 0.0
        dim = self._dim() if dim is None else check_int("dim", dim, minimum=1)
        self.register_buffer("user_factors", torch.zeros(self.num_users, dim))
        self.register_buffer("item_factors", torch.zeros(self.num_items, dim))
        if self._seen is not None:
            started = time.perf_counter()
            # One BLAS thread: implicit warns about (and slows down with) a threaded BLAS, and the
            # factors then do not depend on how many cores the machine has.
            from threadpoolctl import threadpool_limits

            with threadpool_limits(1, "blas"):
                user_factors, item_factors = self._fit_implicit(binary_matrix(self._seen))
            self.fit_seconds = time.perf_counter() - started
            self.user_factors.copy_(torch.as_tensor(np.asarray(user_factors, dtype=np.float32)))
            self.item_factors.copy_(torch.as_tensor(np.asarray(item_factors, dtype=np.float32)))

    def _dim(self) -> int:
        raise NotImplementedError

    def _settings(self) -> dict[str, Any]:
        raise NotImplementedError

    def _fit_implicit(self, user_items: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
        module, name = self._IMPLICIT
        settings = self._settings()
        seed = settings.pop("seed")
        # One thread: the same seed gives the same factors.
        model = getattr(_import_implicit_cpu(module), name)(**settings, num_threads=1, random_state=seed)
        model.fit(user_items, show_progress=False)
        return model.user_factors, model.item_factors

    def _config(self) -> dict[str, Any]:
        return {
            **self._settings(),
            "num_users": self.num_users,
            "num_items": self.num_items,
            "dim": int(self.item_factors.shape[1]),
        }

    def __repr__(self) -> str:
        settings = ", ".join(f"{key}={value}" for key, value in self._settings().items())
        return f"{type(self).__name__}({self.num_users} users, {self.num_items} items, {settings})"

    def fit(self, *args: Any, **kwargs: Any) -> "_FactorModel":
        """Nothing more to learn: implicit fitted the factors at construction. Returns ``self``."""
        return self

    @torch.no_grad()
    def score_all_items(self, user_ids: torch.Tensor) -> torch.Tensor:
        """``[B, num_items]`` float32: ``user_factors[user_ids] @ item_factors.T``."""
        users = self._check_user_tensor(user_ids)
        return self.user_factors[users] @ self.item_factors.T

    def forward(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """Scores of ``(user, item)`` pairs, ``users`` and ``items`` broadcast together."""
        users, items = self._check_pairs(users, items)
        return (self.user_factors[users] * self.item_factors[items]).sum(dim=-1)

    def _user_vectors(self) -> torch.Tensor:
        return self.user_factors

    def _item_vectors(self) -> torch.Tensor:
        return self.item_factors

    @classmethod
    def _state_shapes(cls, config: dict[str, Any]) -> dict[str, tuple[int, ...]]:
        dim = int(config["dim"])
        return {"user_factors": (int(config["num_users"]), dim), "item_factors": (int(config["num_items"]), dim)}


class ImplicitALSModel(_FactorModel):
    """implicit's ``AlternatingLeastSquares`` (CPU, one thread), fitted on the binary training matrix.

    Parameters
    ----------
    train
        In-memory ``Interactions`` or a coursekit loader over them (``None``: an empty model of
        ``num_users x num_items``, as ``load_model`` builds).
    factors
        Dimension of the user and item vectors.
    regularization
        L2 penalty on the factors.
    iterations
        ALS sweeps (each solves all users, then all items).
    alpha
        Confidence of an observed pair is ``1 + alpha`` (unobserved: 1).
    seed
        ``random_state`` of the initial factors.

    Attributes
    ----------
    fit_seconds : float
        Time implicit took to fit.
    """

    def __init__(
        self,
        train: Any = None,
        factors: int = 64,
        regularization: float = 0.05,
        iterations: int = 15,
        alpha: float = 2.0,
        seed: int = 22,
        *,
        num_users: int | None = None,
        num_items: int | None = None,
        dim: int | None = None,
    ) -> None:
        self.factors = check_int("factors", factors, minimum=1)
        self.regularization = _positive("regularization", regularization, allow_zero=True)
        self.iterations = check_int("iterations", iterations, minimum=1)
        self.alpha = _positive("alpha", alpha)
        self.seed = check_int("seed", seed, minimum=0)
        super().__init__(train, num_users, num_items, dim)

    _IMPLICIT = ("als", "AlternatingLeastSquares")

    def _dim(self) -> int:
        return self.factors

    def _settings(self) -> dict[str, Any]:
        return {
            "factors": self.factors,
            "regularization": self.regularization,
            "iterations": self.iterations,
            "alpha": self.alpha,
            "seed": self.seed,
        }


class ImplicitBPRModel(_FactorModel):
    """implicit's ``BayesianPersonalizedRanking`` (CPU, one thread), fitted on the binary training matrix.

    Parameters
    ----------
    train
        In-memory ``Interactions`` or a coursekit loader over them (``None``: an empty model).
    factors
        Dimension of the vectors; the stored item factors have one more column (the item bias).
    learning_rate
        SGD step size.
    regularization
        L2 penalty on the factors.
    iterations
        Epochs over the training pairs.
    seed
        ``random_state`` of the initial factors and of the sampled negatives.

    Attributes
    ----------
    fit_seconds : float
        Time implicit took to fit.
    """

    def __init__(
        self,
        train: Any = None,
        factors: int = 64,
        learning_rate: float = 0.01,
        regularization: float = 0.01,
        iterations: int = 100,
        seed: int = 22,
        *,
        num_users: int | None = None,
        num_items: int | None = None,
        dim: int | None = None,
    ) -> None:
        self.factors = check_int("factors", factors, minimum=1)
        self.learning_rate = _positive("learning_rate", learning_rate)
        self.regularization = _positive("regularization", regularization, allow_zero=True)
        self.iterations = check_int("iterations", iterations, minimum=1)
        self.seed = check_int("seed", seed, minimum=0)
        super().__init__(train, num_users, num_items, dim)

    _IMPLICIT = ("bpr", "BayesianPersonalizedRanking")

    def _dim(self) -> int:
        return self.factors + 1  # implicit appends the item bias (and a 1 on the user side)

    def _settings(self) -> dict[str, Any]:
        return {
            "factors": self.factors,
            "learning_rate": self.learning_rate,
            "regularization": self.regularization,
            "iterations": self.iterations,
            "seed": self.seed,
        }
