"""Small argument checks shared across coursekit, so every error names its argument and value."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

# With allow_missing_ids=True an inferred id space may exceed the ids in use, up to this many ids per
# interaction (or MIN_ID_SPACE ids, whichever is larger): beyond, the matrix and the sampling
# index would allocate gigabytes for a few rows, which is nearly always a raw, unencoded id.
MAX_IDS_PER_INTERACTION = 100
MIN_ID_SPACE = 1_000_000
INT64_MAX = int(np.iinfo(np.int64).max)


def shown(value: Any) -> str:
    """``repr`` of ``value`` with numpy scalars as Python numbers, so messages read the same on numpy 1 and 2."""
    if isinstance(value, np.generic):
        value = value.item()
    elif isinstance(value, (list, tuple)):
        return repr(type(value)(v.item() if isinstance(v, np.generic) else v for v in value))
    return repr(value)


def check_int(name: str, value: Any, minimum: int | None = None, maximum: int | None = None) -> int:
    """Return ``value`` as an ``int``; raise ``TypeError``/``ValueError`` naming ``name`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {shown(value)} ({type(value).__name__})")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {value}")
    return value


def check_fraction(name: str, value: Any, allow_zero: bool = False) -> float:
    """Return ``value`` as a float in (0, 1) (or [0, 1) with ``allow_zero``)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {shown(value)} ({type(value).__name__})")
    value = float(value)
    low_ok = value >= 0 if allow_zero else value > 0
    if not (low_ok and value < 1):
        interval = "[0, 1)" if allow_zero else "(0, 1)"
        raise ValueError(f"{name} must be in {interval}, got {value}")
    return value


def as_id_array(name: str, values: Any, offset: int = 0) -> np.ndarray:
    """Convert a sequence of IDs to a 1-D int64 array, rejecting NaN, negatives, strings and fractions.

    ``offset`` is added to positions in messages, for a block read from a longer column.
    """
    if hasattr(values, "detach"):  # torch tensor
        values = values.detach().cpu().numpy()
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    if array.dtype.kind == "u" and len(array) and int(array.max()) > INT64_MAX:
        # uint64 ids past 2**63 - 1 would wrap to negative int64s; report the real value.
        raise ValueError(
            f"{name} contains id {int(array.max())}, larger than the largest int64 id {INT64_MAX}; "
            "map raw IDs to 0..n-1 with coursekit.utils.IdEncoder"
        )
    if array.dtype.kind in "iu":
        result = array.astype(np.int64, copy=False)
    elif array.dtype.kind == "f":
        # NaN, infinities and values beyond int64 would otherwise cast to a garbage id.
        unusable = ~(np.abs(array) < 2.0**63)
        if unusable.any():
            position = int(np.flatnonzero(unusable)[0])
            value = "NaN" if np.isnan(array[position]) else repr(array[position].item())
            raise ValueError(f"{name} contains {value} at position {position + offset}")
        fractional = array != np.round(array)
        if fractional.any():
            bad = array[fractional][0].item()  # a Python float: numpy 2 would print np.float64(1.5)
            raise ValueError(f"{name} must hold whole numbers, got {bad!r}; use IdEncoder for arbitrary IDs")
        result = array.astype(np.int64)
    elif array.dtype.kind == "b":
        raise TypeError(f"{name} must hold integer IDs, got booleans")
    else:
        example = array[0] if len(array) else None
        raise TypeError(
            f"{name} must hold integer IDs, got dtype {array.dtype} (e.g. {shown(example)}); "
            "map raw IDs to integers with coursekit.utils.IdEncoder"
        )
    if len(result) and result.min() < 0:
        bad = int(result[result < 0][0])
        raise ValueError(f"{name} must be non-negative, got {bad}")
    return result


def id_space_size(name: str, given: int | None, ids: np.ndarray | int, ids_name: str) -> int:
    """Size of an id space: ``given`` (checked to hold every id), else the largest id + 1.

    ``ids`` is the id array or, for data read in blocks, its largest value.
    """
    largest = int(ids if isinstance(ids, (int, np.integer)) else ids.max())
    if given is None:
        return largest + 1
    given = check_int(name, given, minimum=1)
    if largest >= given:
        raise ValueError(f"{ids_name} contains id {largest}, out of range for {name}={given}")
    return given


def check_no_missing_ids(name: str, ids: np.ndarray, size: int) -> None:
    """Raise :func:`missing_ids_error` unless every id in ``0..size-1`` occurs in ``ids``."""
    if size <= len(ids):
        present = np.zeros(size, dtype=bool)
        present[ids] = True
        check_present(name, present)
        return
    # Fewer interactions than ids: some must be missing. Never allocate `size` flags here,
    # since raw IDs (e.g. 10**12) would otherwise end in a MemoryError.
    check_distinct(name, np.unique(ids), size)


def check_distinct(name: str, distinct: np.ndarray, size: int) -> None:
    """Raise :func:`missing_ids_error` unless the sorted unique ids ``distinct`` fill ``0..size-1``."""
    if len(distinct) < size:
        missing = np.setdiff1d(np.arange(min(size, len(distinct) + 5)), distinct)
        raise missing_ids_error(name, size - len(distinct), missing, size)


def check_present(name: str, present: np.ndarray) -> None:
    """Raise :func:`missing_ids_error` unless every flag of ``present`` (one per id) is set."""
    missing = np.flatnonzero(~present)
    if len(missing):
        raise missing_ids_error(name, len(missing), missing, len(present))


def missing_ids_error(name: str, count: int, missing: np.ndarray, size: int) -> ValueError:
    """The error for ``count`` ids of ``0..size-1`` that never occur (``missing``: the first of them)."""
    shown_ids = ", ".join(str(int(i)) for i in missing[:5]) + (", ..." if count > 5 else "")
    return ValueError(
        f"{name}: {count} ids in 0..{size - 1} never occur ({shown_ids}). Pass "
        "allow_missing_ids=True, or map raw ids to 0..n-1 with coursekit.utils.IdEncoder"
    )


def check_sparse_id_space(name: str, size: int, num_interactions: int) -> None:
    """With ``allow_missing_ids=True``: refuse an id space far larger than the data (see :data:`MAX_IDS_PER_INTERACTION`)."""
    bound = max(MIN_ID_SPACE, MAX_IDS_PER_INTERACTION * num_interactions)
    if size > bound:
        raise ValueError(
            f"{name}: ids up to {size - 1} need {size} rows for only {num_interactions} interactions; "
            f"allow_missing_ids=True allows at most max({MIN_ID_SPACE}, {MAX_IDS_PER_INTERACTION} x "
            f"interactions) = {bound} ids. Map raw ids to 0..n-1 with coursekit.utils.IdEncoder"
        )


def default_seed(seed: int | None) -> int:
    """Return ``seed``, or draw one from torch's global RNG so ``seed_everything`` still governs runs."""
    import torch

    if seed is None:
        return int(torch.randint(0, 2**31 - 1, (1,)).item())
    return check_int("seed", seed, minimum=0)
