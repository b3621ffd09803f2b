"""Pairwise ranking losses for implicit feedback.

Every loss has the same signature::

    loss(positive_scores, negative_scores, num_items=None) -> scalar tensor

``positive_scores`` has shape ``[B]`` (one observed item per row),
``negative_scores`` has shape ``[B, N]`` (``N`` sampled negatives per row; a
``[B]`` tensor is read as ``N = 1``). The result is the mean over the batch.
``num_items`` is used only by :func:`warp`; the others accept and ignore it so
that a model can call any loss the same way.

**Partial credit** (Collie's ``metadata_for_loss``): every loss also takes an optional
``ideal_difference`` (``[B, N]``, ``[B]`` or a number, each value in ``[0, 1]``), the score gap
a pair *should* have. Without it the gap is 1: a hinge wants ``pos - neg >= 1`` for every
sampled negative. A negative that shares metadata with the positive (a movie of the same genre)
is not as wrong, so it gets a smaller ideal gap, ``1 - sum_k weight_k * overlap_k``
(:func:`ideal_difference_from_metadata`), and is pushed down less.

The losses are small pure functions in the style of Spotlight's ``losses.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F

from coursekit._checks import check_int

LossFunction = Callable[..., torch.Tensor]

__all__ = [
    "bpr",
    "hinge",
    "adaptive_bpr",
    "adaptive_hinge",
    "warp",
    "get_loss",
    "LOSSES",
    "metadata_overlap",
    "ideal_difference_from_metadata",
    "check_metadata_for_loss",
]


def _check_scores(positive_scores: torch.Tensor, negative_scores: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``(positive [B], negative [B, N])`` or raise ``ValueError`` naming both shapes."""
    for name, value in (("positive_scores", positive_scores), ("negative_scores", negative_scores)):
        if not isinstance(value, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
    shapes = f"positive_scores {tuple(positive_scores.shape)}, negative_scores {tuple(negative_scores.shape)}"
    if positive_scores.dim() != 1:
        raise ValueError(f"positive_scores must have shape [B]; got {shapes}")
    if negative_scores.dim() == 1:
        negative_scores = negative_scores.unsqueeze(1)
    if negative_scores.dim() != 2 or negative_scores.shape[0] != positive_scores.shape[0]:
        raise ValueError(f"negative_scores must have shape [B, N] or [B] with B = len(positive_scores); got {shapes}")
    if positive_scores.shape[0] == 0 or negative_scores.shape[1] == 0:
        raise ValueError(f"a loss needs at least one row and one negative; got {shapes}")
    return positive_scores, negative_scores


def _hardest(negative_scores: torch.Tensor) -> torch.Tensor:
    """The highest-scoring negative of each row, kept as ``[B, 1]``."""
    return negative_scores.max(dim=1, keepdim=True).values


def _hardest_with_ideal(
    negative_scores: torch.Tensor, ideal_difference: Any
) -> tuple[torch.Tensor, torch.Tensor | float | None]:
    """The hardest negative ``[B, 1]`` and the ideal difference of *that* negative (as Collie picks it)."""
    if not isinstance(ideal_difference, torch.Tensor) or ideal_difference.dim() < 2:
        return _hardest(negative_scores), ideal_difference  # one value per row or overall: nothing to pick
    hardest = negative_scores.max(dim=1, keepdim=True)
    ideal = torch.broadcast_to(ideal_difference, negative_scores.shape).gather(1, hardest.indices)
    return hardest.values, ideal


def _check_ideal(ideal_difference: Any, negative_scores: torch.Tensor) -> torch.Tensor | float:
    """``ideal_difference`` (``None`` means 1) as a number or a tensor broadcastable to ``negative_scores`` ``[B, N]``."""
    if ideal_difference is None:
        return 1.0
    if not isinstance(ideal_difference, torch.Tensor):
        ideal_difference = torch.as_tensor(ideal_difference, dtype=negative_scores.dtype)
    if ideal_difference.dim() == 1:
        ideal_difference = ideal_difference.unsqueeze(1)  # one value per row, like [B] negatives
    try:
        torch.broadcast_shapes(ideal_difference.shape, negative_scores.shape)
    except RuntimeError:
        raise ValueError(
            f"ideal_difference must have shape [B, N], [B] or be a number; got {tuple(ideal_difference.shape)} "
            f"for negative_scores {tuple(negative_scores.shape)}"
        ) from None
    return ideal_difference.to(negative_scores.device, negative_scores.dtype)


# -- partial credit from metadata ---------------------------------------------------------------


def metadata_overlap(first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
    """How much two items' metadata rows agree, in ``[0, 1]``: ``sum(min) / sum(max)`` over features.

    For 0/1 rows (multi-hot genres) this is the Jaccard index, shared genres / genres of either:
    Drama+Romance against Drama is 1/2, against Comedy 0. For one-hot rows (one category per item)
    it is 1 for the same category and 0 otherwise, which is Collie's rule (``meta[pos] == meta[neg]``).
    Two rows without any feature share nothing (0). Rows broadcast; the last axis is the features.
    """
    shared = torch.minimum(first, second).sum(dim=-1)
    either = torch.maximum(first, second).sum(dim=-1)
    return torch.where(either > 0, shared / either.clamp(min=torch.finfo(either.dtype).tiny), torch.zeros_like(either))


def ideal_difference_from_metadata(
    positive_items: torch.Tensor,
    negative_items: torch.Tensor,
    metadata: Mapping[str, torch.Tensor],
    weights: Mapping[str, float],
) -> torch.Tensor:
    """The score gap each (positive, negative) pair should have: ``1 - sum_k weights[k] * overlap_k``.

    ``overlap_k`` is :func:`metadata_overlap` of the two items' rows of ``metadata[k]``. With
    ``weights = {"genre": 0.4}``, a negative with exactly the positive's genres needs a gap of only
    0.6, one with half of them 0.8, one with none the full 1 (the plain loss).

    Parameters
    ----------
    positive_items : Tensor ``[B]``
        Item index of each row's positive.
    negative_items : Tensor ``[B, N]`` or ``[B]``
        Item indices of the sampled negatives.
    metadata : mapping of name -> Tensor ``[num_items, F]``
        Non-negative features per item (checked by :func:`check_metadata_for_loss`).
    weights : mapping of name -> float
        Credit for a full match of each kind of metadata; same keys, sum at most 1.

    Returns
    -------
    Tensor
        ``[B, N]`` (``[B, 1]`` for ``[B]`` negatives), every value in ``[1 - sum(weights), 1]``.
    """
    if negative_items.dim() == 1:
        negative_items = negative_items.unsqueeze(1)
    credit = torch.zeros(negative_items.shape, device=negative_items.device)
    for name, matrix in metadata.items():
        positive_rows = matrix[positive_items].unsqueeze(1)  # [B, 1, F]
        negative_rows = matrix[negative_items]  # [B, N, F]
        credit = credit + float(weights[name]) * metadata_overlap(positive_rows, negative_rows)
    return 1.0 - credit


def check_metadata_for_loss(
    metadata: Mapping[str, Any] | None, weights: Mapping[str, float] | None, num_items: int
) -> tuple[dict[str, np.ndarray], dict[str, float]] | None:
    """Validate a model's ``metadata_for_loss`` and ``metadata_for_loss_weights``; ``None`` when both are empty.

    Each matrix needs one row per item (``num_items``), finite, non-negative values (0/1 flags,
    one-hot categories, or graded memberships); each weight is a number in ``[0, 1]``, the weights
    sum to at most 1 (a full match on everything then asks for a gap of 0, never a negative one),
    and both mappings name the same kinds of metadata.

    Returns
    -------
    (dict of name -> float32 array, dict of name -> float), or None
    """
    from coursekit.metadata import check_metadata

    metadata = {} if metadata is None else metadata
    weights = {} if weights is None else weights
    for name, value in (("metadata_for_loss", metadata), ("metadata_for_loss_weights", weights)):
        if not isinstance(value, Mapping):
            raise TypeError(
                f"{name} must be a dict keyed by the kind of metadata (e.g. {{'genre': ...}}), got {type(value).__name__}"
            )
    if not metadata and not weights:
        return None
    if set(metadata) != set(weights):
        raise ValueError(
            f"metadata_for_loss and metadata_for_loss_weights must have the same keys; got {sorted(map(str, metadata))} "
            f"and {sorted(map(str, weights))} (give one weight per kind of metadata)"
        )
    matrices, checked = {}, {}
    for name in metadata:
        if not isinstance(name, str) or not name or "." in name:
            raise ValueError(f"metadata_for_loss keys must be non-empty names without '.', got {name!r}")
        matrix = check_metadata(f"metadata_for_loss[{name!r}]", metadata[name], num_rows=num_items)
        if (matrix < 0).any():
            raise ValueError(
                f"metadata_for_loss[{name!r}] holds negative values (smallest {matrix.min():g}); partial credit "
                "compares non-negative features (0/1 flags or one-hot categories)"
            )
        weight = weights[name]
        if isinstance(weight, bool) or not isinstance(weight, (int, float, np.number)) or not 0 <= weight <= 1:
            raise ValueError(f"metadata_for_loss_weights[{name!r}] must be a number in [0, 1], got {weight!r}")
        matrices[name], checked[name] = matrix, float(weight)
    total = sum(checked.values())
    if total > 1 + 1e-9:  # a little room for 0.1 + 0.2 + ... rounding
        raise ValueError(
            f"metadata_for_loss_weights sum to {total:g}, more than 1: a pair matching on everything would then "
            f"want the negative scored above the positive; scale them down (got {checked})"
        )
    return matrices, checked


def bpr(
    positive_scores: torch.Tensor,
    negative_scores: torch.Tensor,
    num_items: int | None = None,
    ideal_difference: torch.Tensor | float | None = None,
) -> torch.Tensor:
    """Bayesian Personalised Ranking loss, ``-log sigmoid(pos - neg)``.

    Averaged over all ``N`` negatives of a row, then over the batch
    (Rendle et al., 2009). ``F.logsigmoid`` keeps large score gaps finite.

    With partial credit, the pair's credit ``1 - ideal_difference`` is added to the score gap:
    ``-log sigmoid(pos - neg + 1 - ideal_difference)``. That is what partial credit does to the
    hinge too (``max(0, ideal - d) = max(0, 1 - (d + 1 - ideal))``): a negative of the positive's
    genre starts with a head start, so the loss and its push are smaller, and an ideal of 1 is
    plain BPR exactly. (Collie's BPR uses another formula, ``ideal - sigmoid(d)`` plus its square.)

    Parameters
    ----------
    positive_scores : Tensor ``[B]``
    negative_scores : Tensor ``[B, N]`` or ``[B]``
    num_items : ignored
    ideal_difference : Tensor ``[B, N]`` or ``[B]``, number, or None (= 1)
        Partial credit, see :func:`ideal_difference_from_metadata`.

    Returns
    -------
    Tensor
        Scalar mean loss.
    """
    positive_scores, negative_scores = _check_scores(positive_scores, negative_scores)
    difference = positive_scores.unsqueeze(1) - negative_scores
    if ideal_difference is None:
        return -F.logsigmoid(difference).mean()
    credit = 1.0 - _check_ideal(ideal_difference, negative_scores)
    return -F.logsigmoid(difference + credit).mean()


def hinge(
    positive_scores: torch.Tensor,
    negative_scores: torch.Tensor,
    num_items: int | None = None,
    ideal_difference: torch.Tensor | float | None = None,
) -> torch.Tensor:
    """Hinge (margin) loss, ``max(0, 1 - (pos - neg))``, averaged over negatives and batch.

    With partial credit the margin 1 becomes ``ideal_difference``:
    ``max(0, ideal_difference - (pos - neg))`` (as in Collie).

    Parameters
    ----------
    positive_scores : Tensor ``[B]``
    negative_scores : Tensor ``[B, N]`` or ``[B]``
    num_items : ignored
    ideal_difference : Tensor ``[B, N]`` or ``[B]``, number, or None (= 1)
        Partial credit, see :func:`ideal_difference_from_metadata`.

    Returns
    -------
    Tensor
        Scalar mean loss.
    """
    positive_scores, negative_scores = _check_scores(positive_scores, negative_scores)
    margin = _check_ideal(ideal_difference, negative_scores)
    return torch.clamp(margin - (positive_scores.unsqueeze(1) - negative_scores), min=0.0).mean()


def adaptive_bpr(
    positive_scores: torch.Tensor,
    negative_scores: torch.Tensor,
    num_items: int | None = None,
    ideal_difference: torch.Tensor | float | None = None,
) -> torch.Tensor:
    """BPR on the hardest negative only: ``-log sigmoid(pos - max_j neg_j)``.

    Of the ``N`` sampled negatives, only the highest-scoring one per row
    contributes, which focuses training on the negatives the model currently
    gets most wrong (cf. Spotlight's ``adaptive_hinge_loss``). With ``N = 1``
    this equals :func:`bpr`.

    Parameters
    ----------
    positive_scores : Tensor ``[B]``
    negative_scores : Tensor ``[B, N]`` or ``[B]``
    num_items : ignored
    ideal_difference : Tensor ``[B, N]`` or ``[B]``, number, or None (= 1)
        Partial credit; the hardest negative (highest score, as Collie picks it) brings its own.

    Returns
    -------
    Tensor
        Scalar mean loss.
    """
    positive_scores, negative_scores = _check_scores(positive_scores, negative_scores)
    if ideal_difference is None:
        return bpr(positive_scores, _hardest(negative_scores))
    hardest, ideal = _hardest_with_ideal(negative_scores, _check_ideal(ideal_difference, negative_scores))
    return bpr(positive_scores, hardest, ideal_difference=ideal)


def adaptive_hinge(
    positive_scores: torch.Tensor,
    negative_scores: torch.Tensor,
    num_items: int | None = None,
    ideal_difference: torch.Tensor | float | None = None,
) -> torch.Tensor:
    """Hinge loss on the hardest negative only: ``max(0, 1 - (pos - max_j neg_j))``.

    This is Spotlight's adaptive hinge loss (Weston et al., WSABIE). With
    ``N = 1`` it equals :func:`hinge`.

    Parameters
    ----------
    positive_scores : Tensor ``[B]``
    negative_scores : Tensor ``[B, N]`` or ``[B]``
    num_items : ignored
    ideal_difference : Tensor ``[B, N]`` or ``[B]``, number, or None (= 1)
        Partial credit; the hardest negative (highest score, as Collie picks it) brings its own.

    Returns
    -------
    Tensor
        Scalar mean loss.
    """
    positive_scores, negative_scores = _check_scores(positive_scores, negative_scores)
    if ideal_difference is None:
        return hinge(positive_scores, _hardest(negative_scores))
    hardest, ideal = _hardest_with_ideal(negative_scores, _check_ideal(ideal_difference, negative_scores))
    return hinge(positive_scores, hardest, ideal_difference=ideal)


def warp(
    positive_scores: torch.Tensor,
    negative_scores: torch.Tensor,
    num_items: int | None = None,
    ideal_difference: torch.Tensor | float | None = None,
) -> torch.Tensor:
    """WARP loss (Weighted Approximate-Rank Pairwise), vectorised over the sampled negatives.

    Classic WARP keeps drawing negatives until one *violates* the margin,
    ``neg > pos - 1``, and uses the number of draws to estimate the positive's
    rank. Here the ``N`` negatives already sampled play the role of the draws,
    in their given order. For each row:

    * ``t`` = 1 + index of the first violating negative (``t`` draws were needed);
    * rank estimate ``r = floor((num_items - 1) / t)``;
    * weight ``w = log(r + 1)`` (the ``+ 1`` keeps ``w > 0`` even when ``t > num_items - 1``);
    * row loss ``w * max(0, 1 - pos + neg_t)``.

    Rows without a violator contribute 0 (but still count in the batch mean).
    The weight is a constant: gradients flow only through the margin term.

    Parameters
    ----------
    positive_scores : Tensor ``[B]``
    negative_scores : Tensor ``[B, N]`` or ``[B]``
        Negatives in the order they were sampled.
    num_items : int
        Number of items in the catalogue (required).
    ideal_difference : Tensor ``[B, N]`` or ``[B]``, number, or None (= 1)
        Partial credit: replaces the margin 1, in the violation test and in the loss.

    Returns
    -------
    Tensor
        Scalar mean loss.

    Raises
    ------
    ValueError
        If ``num_items`` is ``None`` or smaller than 2.
    """
    if num_items is None:
        raise ValueError("warp needs num_items (the catalogue size) to estimate ranks; got num_items=None")
    num_items = check_int("num_items", num_items, minimum=2)
    positive_scores, negative_scores = _check_scores(positive_scores, negative_scores)

    margin = _check_ideal(ideal_difference, negative_scores)
    margins = margin - positive_scores.unsqueeze(1) + negative_scores  # > 0 exactly when neg > pos - margin
    violating = margins > 0
    has_violator = violating.any(dim=1)
    # argmax returns the first maximal index, i.e. the first violator in sampled order.
    first = violating.to(torch.int8).argmax(dim=1)
    violator_margin = margins.gather(1, first.unsqueeze(1)).squeeze(1)

    trials = (first + 1).to(torch.float64)
    rank_estimate = torch.floor((num_items - 1) / trials)
    weight = torch.log(rank_estimate + 1.0).to(positive_scores.dtype)

    row_loss = weight * torch.clamp(violator_margin, min=0.0)
    return torch.where(has_violator, row_loss, torch.zeros_like(row_loss)).mean()


LOSSES: dict[str, LossFunction] = {
    "bpr": bpr,
    "hinge": hinge,
    "adaptive_bpr": adaptive_bpr,
    "adaptive_hinge": adaptive_hinge,
    "adaptive": adaptive_hinge,
    "warp": warp,
}

# Named losses that switch to their adaptive form when several negatives are sampled.
_ADAPTIVE_FORM = {"bpr": adaptive_bpr, "hinge": adaptive_hinge}


def get_loss(name_or_callable: str | LossFunction, num_negative_samples: int = 1) -> LossFunction:
    """Resolve a loss given by name (or pass a callable through unchanged).

    Names: ``'bpr'``, ``'hinge'``, ``'adaptive_bpr'``, ``'adaptive_hinge'``,
    ``'adaptive'`` (= ``'adaptive_hinge'``) and ``'warp'`` (case-insensitive).

    **Rule (as in Collie):** when ``num_negative_samples > 1``, the names
    ``'bpr'`` and ``'hinge'`` resolve to :func:`adaptive_bpr` and
    :func:`adaptive_hinge`, so extra negatives are used to find a hard one
    rather than averaged away. To average over all negatives instead, pass the
    function itself (``coursekit.losses.bpr``); callables are never changed.

    Parameters
    ----------
    name_or_callable : str or callable
        Loss name, or a function ``(positive_scores, negative_scores, num_items=None) -> Tensor``.
    num_negative_samples : int, default 1
        Negatives per positive that the loader will supply.

    Returns
    -------
    callable
        The loss function.

    Raises
    ------
    ValueError
        For an unknown name (the message lists the valid names).
    TypeError
        If ``name_or_callable`` is neither a string nor callable.
    """
    num_negative_samples = check_int("num_negative_samples", num_negative_samples, minimum=1)
    if isinstance(name_or_callable, str):
        name = name_or_callable.strip().lower()
        if name not in LOSSES:
            valid = ", ".join(repr(n) for n in LOSSES)
            raise ValueError(f"unknown loss {name_or_callable!r}; valid names are {valid}, or pass a callable")
        if num_negative_samples > 1 and name in _ADAPTIVE_FORM:
            return _ADAPTIVE_FORM[name]
        return LOSSES[name]
    if callable(name_or_callable):
        return name_or_callable
    kind = type(name_or_callable).__name__
    raise TypeError(f"loss must be a name or a callable, got {name_or_callable!r} ({kind})")
