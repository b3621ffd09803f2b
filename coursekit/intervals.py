"""Confidence intervals over users: how sure is a metric, and is one model really better?

A metric such as MAP@10 is a mean over test users (:func:`coursekit.metrics.per_user_metrics`
gives the per-user values). Another draw of users would give another mean; the *percentile
bootstrap* estimates how much: draw ``n`` users with replacement from the ``n`` evaluated ones,
take the mean, repeat ``n_resamples`` times, and keep the middle ``confidence`` share of those
means as the interval.

Two models scored on the *same* users are compared with :func:`paired_bootstrap`: each resample
draws users once and takes both models' means on them, so what the users share (easy users, hard
users) cancels in the difference. The paired interval of the difference is usually much narrower
than the two intervals side by side suggest.

Resamples are computed in chunks (a ``[chunk, n]`` index matrix at a time), never one Python loop
per resample. A ``seed`` fixes the draws: the same seed gives the same interval.

>>> import numpy as np
>>> values = np.random.default_rng(0).random(500)
>>> interval = bootstrap_interval(values, seed=0)
>>> interval.low < interval.mean < interval.high
True
>>> print(bootstrap_interval([1.0, 1.0, 1.0], seed=0))
1.0000 [1.0000, 1.0000]
"""

from __future__ import annotations

import dataclasses
import numbers
from typing import Any

import numpy as np
import pandas as pd

from coursekit._checks import check_int

__all__ = ["Interval", "PairedBootstrap", "bootstrap_interval", "paired_bootstrap"]

# Index-matrix entries per chunk of resamples (8 MiB of int64): bounded memory for any n.
_CHUNK_ELEMENTS = 1 << 20


@dataclasses.dataclass(frozen=True)
class Interval:
    """A mean and its percentile-bootstrap interval ``[low, high]``.

    ``str()`` reads ``0.1387 [0.1290, 0.1480]``.
    """

    mean: float
    low: float
    high: float
    confidence: float
    n: int  # number of values (users) the mean is over
    n_resamples: int

    @property
    def width(self) -> float:
        """``high - low``."""
        return self.high - self.low

    def __contains__(self, value: float) -> bool:
        return self.low <= value <= self.high

    def __str__(self) -> str:
        return f"{self.mean:.4f} [{self.low:.4f}, {self.high:.4f}]"


@dataclasses.dataclass(frozen=True)
class PairedBootstrap:
    """Two models on the same users: ``difference`` is ``b - a`` (its mean and interval).

    ``share_b_better`` is the share of resamples in which ``b``'s mean is above ``a``'s: near 1
    (or 0) means the sign of the difference holds for almost any draw of users; near 0.5, it does not.
    """

    a: Interval
    b: Interval
    difference: Interval
    share_b_better: float

    def __str__(self) -> str:
        return (
            f"b - a = {self.difference} ({self.difference.confidence:.0%} interval over {self.difference.n} users); "
            f"b higher in {self.share_b_better:.1%} of {self.difference.n_resamples} resamples"
        )


def _values(name: str, values: Any) -> np.ndarray:
    array = np.asarray(values.to_numpy() if isinstance(values, (pd.Series, pd.DataFrame)) else values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional (one value per user), got shape {array.shape}")
    if array.size == 0:
        raise ValueError(f"{name} is empty: there is no user to resample (evaluate on users with test data first)")
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold numbers, got dtype {array.dtype}")
    array = array.astype(np.float64)
    if not np.isfinite(array).all():
        position = int(np.flatnonzero(~np.isfinite(array))[0])
        raise ValueError(f"{name} must be finite, got {array[position]} at position {position}")
    return array


def _confidence(confidence: Any) -> float:
    if isinstance(confidence, bool) or not isinstance(confidence, numbers.Real):
        raise TypeError(f"confidence must be a number in (0, 1), got {confidence!r}")
    confidence = float(confidence)
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), e.g. 0.95, got {confidence}")
    return confidence


def _resampled_means(columns: np.ndarray, n_resamples: int, seed: int) -> np.ndarray:
    """Means of ``columns`` (``[n, m]``) over ``n_resamples`` draws of ``n`` rows with replacement: ``[R, m]``.

    Every column is resampled with the same rows, which is what pairs them.
    """
    n = len(columns)
    rng = np.random.default_rng(seed)
    chunk = max(1, _CHUNK_ELEMENTS // n)
    means = np.empty((n_resamples, columns.shape[1]))
    for start in range(0, n_resamples, chunk):
        stop = min(n_resamples, start + chunk)
        rows = rng.integers(0, n, size=(stop - start, n))  # one row of user positions per resample
        means[start:stop] = columns[rows].mean(axis=1)
    return means


def _interval(mean: float, resampled: np.ndarray, confidence: float, n: int, n_resamples: int) -> Interval:
    tail = (1.0 - confidence) / 2.0
    low, high = (float(end) for end in np.quantile(resampled, [tail, 1.0 - tail]))
    # Constant values resample to their mean up to the rounding of a sum: not a real gap.
    close = 1e-12 * max(1.0, abs(mean))
    low = min(low, mean) if low - mean <= close else low
    high = max(high, mean) if mean - high <= close else high
    return Interval(float(mean), low, high, confidence, n, n_resamples)


def bootstrap_interval(values: Any, n_resamples: int = 1000, confidence: float = 0.95, seed: int = 0) -> Interval:
    """Percentile-bootstrap interval of the mean of ``values`` (one value per user).

    ``[low, high]`` holds the middle ``confidence`` share of the means of ``n_resamples`` samples
    of ``n`` values drawn with replacement.

    Parameters
    ----------
    values
        One number per user: an array, list or pandas Series (e.g. a column of
        :func:`coursekit.metrics.per_user_metrics`).
    n_resamples
        How many bootstrap samples (1000 is enough for a 95% interval's ends to two digits).
    confidence
        In (0, 1).
    seed
        Seed of the draws (``numpy.random.default_rng(seed)``).

    Returns
    -------
    Interval
        ``mean`` (of ``values`` themselves), ``low``, ``high``.
    """
    values = _values("values", values)
    n_resamples = check_int("n_resamples", n_resamples, minimum=1)
    confidence = _confidence(confidence)
    seed = check_int("seed", seed, minimum=0)
    resampled = _resampled_means(values[:, None], n_resamples, seed)[:, 0]
    return _interval(values.mean(), resampled, confidence, len(values), n_resamples)


def _aligned(a: Any, b: Any) -> tuple[Any, Any]:
    """``b`` in the user order of ``a`` when both are Series; mismatched users raise."""
    if isinstance(a, pd.Series) and isinstance(b, pd.Series):
        if a.index.has_duplicates or b.index.has_duplicates:
            raise ValueError("a and b must have one value per user: their index (user ids) has duplicates")
        if not a.index.equals(b.index):
            missing, extra = a.index.difference(b.index), b.index.difference(a.index)
            if len(missing) or len(extra):
                raise ValueError(
                    f"a and b must be the same users: {len(missing)} users only in a (e.g. {list(missing[:3])}), "
                    f"{len(extra)} only in b (e.g. {list(extra[:3])}); evaluate both models on the same test data"
                )
            b = b.reindex(a.index)
    return a, b


def paired_bootstrap(
    a: Any, b: Any, n_resamples: int = 1000, confidence: float = 0.95, seed: int = 0
) -> PairedBootstrap:
    """Paired percentile bootstrap of ``mean(b) - mean(a)`` for two models scored on the same users.

    Each resample draws ``n`` users with replacement and takes both models' means on those users,
    ``diff* = mean(b*) - mean(a*)``; the interval is the middle ``confidence`` share of ``diff*``.

    Parameters
    ----------
    a, b
        One value per user for each model, the same users in the same order (arrays), or pandas
        Series indexed by user id (aligned by index; the users must be the same).
    n_resamples, confidence, seed
        As in :func:`bootstrap_interval`.

    Returns
    -------
    PairedBootstrap
        ``a`` and ``b`` (each model's interval, from the same draws), ``difference`` (``b - a``) and
        ``share_b_better`` (share of resamples where ``mean(b*) > mean(a*)``).
    """
    a, b = _aligned(a, b)
    a, b = _values("a", a), _values("b", b)
    if len(a) != len(b):
        raise ValueError(f"a and b must hold one value per user for the same users, got {len(a)} and {len(b)} values")
    n_resamples = check_int("n_resamples", n_resamples, minimum=1)
    confidence = _confidence(confidence)
    seed = check_int("seed", seed, minimum=0)
    resampled = _resampled_means(np.stack([a, b], axis=1), n_resamples, seed)
    differences = resampled[:, 1] - resampled[:, 0]
    n = len(a)
    return PairedBootstrap(
        a=_interval(a.mean(), resampled[:, 0], confidence, n, n_resamples),
        b=_interval(b.mean(), resampled[:, 1], confidence, n, n_resamples),
        difference=_interval(b.mean() - a.mean(), differences, confidence, n, n_resamples),
        share_b_better=float((differences > 0).mean()),
    )
