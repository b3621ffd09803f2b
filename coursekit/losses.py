"""Pairwise ranking losses for implicit feedback.

Every loss has the same signature::

    loss(positive_scores, negative_scores, num_items=None) -> scalar tensor

``positive_scores`` has shape ``[B]`` (one observed item per row),
``negative_scores`` has shape ``[B, N]`` (``N`` sampled negatives per row; a
``[B]`` tensor is read as ``N = 1``). The result is the mean over the batch.
``num_items`` is used only by :func:`warp`; the others accept and ignore it so
that a model can call any loss the same way.

The losses are small pure functions in the style of Spotlight's ``losses.py``.
"""

from __future__ import annotations

from typing import Callable

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


def bpr(positive_scores: torch.Tensor, negative_scores: torch.Tensor, num_items: int | None = None) -> torch.Tensor:
    """Bayesian Personalised Ranking loss, ``-log sigmoid(pos - neg)``.

    Averaged over all ``N`` negatives of a row, then over the batch
    (Rendle et al., 2009). ``F.logsigmoid`` keeps large score gaps finite.

    Parameters
    ----------
    positive_scores : Tensor ``[B]``
    negative_scores : Tensor ``[B, N]`` or ``[B]``
    num_items : ignored

    Returns
    -------
    Tensor
        Scalar mean loss.
    """
    positive_scores, negative_scores = _check_scores(positive_scores, negative_scores)
    return -F.logsigmoid(positive_scores.unsqueeze(1) - negative_scores).mean()


def hinge(positive_scores: torch.Tensor, negative_scores: torch.Tensor, num_items: int | None = None) -> torch.Tensor:
    """Hinge (margin) loss, ``max(0, 1 - (pos - neg))``, averaged over negatives and batch.

    Parameters
    ----------
    positive_scores : Tensor ``[B]``
    negative_scores : Tensor ``[B, N]`` or ``[B]``
    num_items : ignored

    Returns
    -------
    Tensor
        Scalar mean loss.
    """
    positive_scores, negative_scores = _check_scores(positive_scores, negative_scores)
    return torch.clamp(1.0 - (positive_scores.unsqueeze(1) - negative_scores), min=0.0).mean()


def adaptive_bpr(
    positive_scores: torch.Tensor, negative_scores: torch.Tensor, num_items: int | None = None
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

    Returns
    -------
    Tensor
        Scalar mean loss.
    """
    positive_scores, negative_scores = _check_scores(positive_scores, negative_scores)
    return bpr(positive_scores, _hardest(negative_scores))


def adaptive_hinge(
    positive_scores: torch.Tensor, negative_scores: torch.Tensor, num_items: int | None = None
) -> torch.Tensor:
    """Hinge loss on the hardest negative only: ``max(0, 1 - (pos - max_j neg_j))``.

    This is Spotlight's adaptive hinge loss (Weston et al., WSABIE). With
    ``N = 1`` it equals :func:`hinge`.

    Parameters
    ----------
    positive_scores : Tensor ``[B]``
    negative_scores : Tensor ``[B, N]`` or ``[B]``
    num_items : ignored

    Returns
    -------
    Tensor
        Scalar mean loss.
    """
    positive_scores, negative_scores = _check_scores(positive_scores, negative_scores)
    return hinge(positive_scores, _hardest(negative_scores))


def warp(positive_scores: torch.Tensor, negative_scores: torch.Tensor, num_items: int | None = None) -> torch.Tensor:
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

    margins = 1.0 - positive_scores.unsqueeze(1) + negative_scores  # > 0 exactly when neg > pos - 1
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
