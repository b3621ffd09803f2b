"""Small argument checks shared across coursekit, so every error names its argument and value."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np


def check_int(name: str, value: Any, minimum: int | None = None, maximum: int | None = None) -> int:
    """Return ``value`` as an ``int``; raise ``TypeError``/``ValueError`` naming ``name`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r} ({type(value).__name__})")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {value}")
    return value


def check_fraction(name: str, value: Any, allow_zero: bool = False) -> float:
    """Return ``value`` as a float in (0, 1) (or [0, 1) with ``allow_zero``)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {value!r} ({type(value).__name__})")
    value = float(value)
    low_ok = value >= 0 if allow_zero else value > 0
    if not (low_ok and value < 1):
        interval = "[0, 1)" if allow_zero else "(0, 1)"
        raise ValueError(f"{name} must be in {interval}, got {value}")
    return value


def as_id_array(name: str, values: Any) -> np.ndarray:
    """Convert a sequence of IDs to a 1-D int64 array, rejecting NaN, negatives, strings and fractions."""
    if hasattr(values, "detach"):  # torch tensor
        values = values.detach().cpu().numpy()
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    if array.dtype.kind in "iu":
        result = array.astype(np.int64, copy=False)
    elif array.dtype.kind == "f":
        # NaN, infinities and values beyond int64 would otherwise cast to a garbage id.
        unusable = ~(np.abs(array) < 2.0**63)
        if unusable.any():
            position = int(np.flatnonzero(unusable)[0])
            value = "NaN" if np.isnan(array[position]) else repr(array[position].item())
            raise ValueError(f"{name} contains {value} at position {position}")
        fractional = array != np.round(array)
        if fractional.any():
            bad = array[fractional][0].item()  # a Python float: numpy 2 would print np.float64(1.5)
            raise ValueError(f"{name} must hold whole numbers, got {bad!r}; use IdEncoder for arbitrary IDs")
        result = array.astype(np.int64)
    elif array.dtype.kind == "b":
        raise TypeError(f"{name} must hold integer IDs, got booleans")
    else:
        example = array[0] if len(array) else None
        example = example.item() if isinstance(example, np.generic) else example  # not np.str_(...)
        raise TypeError(
            f"{name} must hold integer IDs, got dtype {array.dtype} (e.g. {example!r}); "
            "map raw IDs to integers with coursekit.utils.IdEncoder"
        )
    if len(result) and result.min() < 0:
        bad = int(result[result < 0][0])
        raise ValueError(f"{name} must be non-negative, got {bad}")
    return result


def default_seed(seed: int | None) -> int:
    """Return ``seed``, or draw one from torch's global RNG so ``seed_everything`` still governs runs."""
    import torch

    if seed is None:
        return int(torch.randint(0, 2**31 - 1, (1,)).item())
    return check_int("seed", seed, minimum=0)
