"""Ranking metrics for implicit feedback, computed for a batch of users at once.

Every metric has the same signature::

    metric(scores, targets, k=10) -> Tensor[B] (float64, one value per user)

``scores`` is a float tensor ``[B, I]`` (a row per user, a column per item) and
``targets`` a bool tensor ``[B, I]`` marking the held-out (relevant) items.

Conventions shared by all metrics:

* **Masking.** Items whose score is ``-inf`` are *masked* (typically items the
  user already saw in training). A masked item is never relevant (even if its
  target is ``True``) and never counts as a negative; it sorts below every
  unmasked item.
* **Ties.** Equal scores are ordered by item index (the lower index ranks
  higher), exactly as a stable descending sort would order them. This makes every
  rank-based metric deterministic. :func:`auc` instead gives tied
  (relevant, non-relevant) pairs half credit via average ranks.
* **Users without relevant items** get 0 from every metric except :func:`auc`;
  :func:`evaluate_in_batches` never evaluates such users. :func:`auc` returns
  0.5 (chance level) when a user has no relevant or no unmasked non-relevant item.

:func:`mrr` and :func:`auc` look at the full ranking; they accept ``k`` only so
that :func:`evaluate_in_batches` can call every metric the same way.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any, Callable, Sequence

import numpy as np
import scipy.sparse as sp
import torch

from coursekit._checks import check_int

Metric = Callable[..., torch.Tensor]

__all__ = ["mapk", "mrr", "auc", "ndcg", "precision", "recall", "evaluate_in_batches"]


# --------------------------------------------------------------------------- helpers


def _check_inputs(scores: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Validate shapes; return ``(scores, relevant)`` where masked items are never relevant."""
    if not isinstance(scores, torch.Tensor) or not isinstance(targets, torch.Tensor):
        raise TypeError(
            f"scores and targets must be torch tensors, got {type(scores).__name__} and {type(targets).__name__}"
        )
    if scores.dim() != 2 or scores.shape != targets.shape:
        raise ValueError(
            f"scores and targets must both have shape [B, I]; got scores {tuple(scores.shape)}, "
            f"targets {tuple(targets.shape)}"
        )
    if scores.shape[1] == 0:
        raise ValueError(f"scores must have at least one item column, got shape {tuple(scores.shape)}")
    if not torch.is_floating_point(scores):
        raise TypeError(f"scores must be a floating-point tensor, got dtype {scores.dtype}")
    # A NaN anywhere makes the sum NaN: one fast reduction instead of a NaN mask of the whole batch
    # (a sum can also be NaN from +inf and -inf together, so confirm with the exact test).
    if torch.isnan(scores.sum()) and torch.isnan(scores).any():
        raise ValueError("scores contain NaN; mask items with -inf instead")
    relevant = targets.to(device=scores.device, dtype=torch.bool) & ~torch.isneginf(scores)
    return scores, relevant


def _top_k_items(scores: torch.Tensor, k: int) -> torch.Tensor:
    """Indices of the ``min(k, I)`` best items per row, best first, ``[B, min(k, I)]``.

    Equal scores are ordered by item index (lower first), exactly as a stable
    descending sort of the whole row would order them, but in ``O(I)`` per row:
    ``torch.topk`` finds the k-th best value, every item scoring above it is
    kept, and the remaining places go to the lowest-indexed items tied with it.
    """
    num_rows, num_items = scores.shape
    k = min(k, num_items)
    if k == 0:
        return torch.zeros(num_rows, 0, dtype=torch.int64, device=scores.device)
    if k == num_items:
        return torch.sort(scores, dim=1, descending=True, stable=True).indices
    # Usual case, no tie straddling the cut-off: one top-(k+1) pass, then order those k by
    # (score desc, index asc). Full-catalogue passes below cost ~10x more on 50k items.
    values, indices = torch.topk(scores, k + 1, dim=1)
    if bool((values[:, k - 1] > values[:, k]).all()):
        indices, order = indices[:, :k].sort(dim=1)
        values = values[:, :k].gather(1, order)
        return indices.gather(1, torch.sort(values, dim=1, descending=True, stable=True).indices)
    kth_value = values[:, k - 1 : k]
    above = scores > kth_value
    tied = scores == kth_value
    places_left = k - above.sum(dim=1, keepdim=True)
    if bool((tied.sum(dim=1, keepdim=True) == places_left).all()):
        selected = above | tied  # no tie straddles the cut-off (the usual case for real-valued scores)
    else:
        selected = above | (tied & (tied.cumsum(dim=1) <= places_left))
    # Exactly k per row; nonzero walks rows in order and items in ascending index.
    items = selected.nonzero()[:, 1].view(num_rows, k)
    order = torch.sort(scores.gather(1, items), dim=1, descending=True, stable=True).indices
    return items.gather(1, order)


def _ranked_relevance(scores: torch.Tensor, relevant: torch.Tensor, k: int) -> torch.Tensor:
    """Relevance of the top ``min(k, I)`` items in ranked order, ``[B, min(k, I)]`` float64."""
    return relevant.gather(1, _top_k_items(scores, k)).to(torch.float64)


def _num_relevant(relevant: torch.Tensor) -> torch.Tensor:
    return relevant.sum(dim=1, dtype=torch.float64)


def _relevant_entries(
    scores: torch.Tensor, relevant: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Row, column and score of every relevant entry (row-major order), and the count per row."""
    rows, cols = relevant.nonzero(as_tuple=True)
    return rows, cols, scores[rows, cols], torch.bincount(rows, minlength=scores.shape[0])


def _padded_rows(rows: torch.Tensor, values: torch.Tensor, counts: torch.Tensor, fill: float) -> torch.Tensor:
    """``values`` grouped by (sorted) ``rows`` into a ``[num_rows, max(counts)]`` tensor padded with ``fill``."""
    starts = torch.cumsum(counts, dim=0) - counts
    padded = values.new_full((len(counts), int(counts.max())), fill)
    padded[rows, torch.arange(len(rows), device=rows.device) - starts[rows]] = values
    return padded


def _safe_divide(numerator: torch.Tensor, denominator: torch.Tensor) -> torch.Tensor:
    """``numerator / denominator`` with 0 where the denominator is 0."""
    return torch.where(denominator > 0, numerator / denominator.clamp(min=1e-300), torch.zeros_like(numerator))


def _discounts(length: int, device: torch.device) -> torch.Tensor:
    """``1 / log2(rank + 1)`` for ranks ``1..length``."""
    ranks = torch.arange(1, length + 1, dtype=torch.float64, device=device)
    return 1.0 / torch.log2(ranks + 1.0)


# --------------------------------------------------------------------------- metrics


def mapk(scores: torch.Tensor, targets: torch.Tensor, k: int = 10) -> torch.Tensor:
    """Average precision at ``k`` per user (mean over users gives MAP@k).

    ``AP@k = sum_{i<=k} P@i * rel_i / min(k, n_relevant)``, where ``rel_i`` is 1
    if the item at rank ``i`` is relevant and ``P@i`` the precision of the top ``i``.

    Parameters
    ----------
    scores : Tensor ``[B, I]`` float
        Item scores; ``-inf`` marks masked items.
    targets : Tensor ``[B, I]`` bool
        Relevant (held-out) items.
    k : int, default 10
        Cut-off.

    Returns
    -------
    Tensor ``[B]`` float64
    """
    k = check_int("k", k, minimum=1)
    scores, relevant = _check_inputs(scores, targets)
    ranked = _ranked_relevance(scores, relevant, k)
    ranks = torch.arange(1, ranked.shape[1] + 1, dtype=torch.float64, device=ranked.device)
    precision_at_i = ranked.cumsum(dim=1) / ranks
    n_relevant = _num_relevant(relevant)
    return _safe_divide((precision_at_i * ranked).sum(dim=1), n_relevant.clamp(max=k))


def mrr(scores: torch.Tensor, targets: torch.Tensor, k: int = 10) -> torch.Tensor:
    """Reciprocal rank of the first relevant item over the full ranking (mean gives MRR).

    Not cut at ``k``: ``k`` is accepted and ignored. 0 for users with no relevant item.

    Parameters
    ----------
    scores : Tensor ``[B, I]`` float
    targets : Tensor ``[B, I]`` bool
    k : int
        Ignored.

    Returns
    -------
    Tensor ``[B]`` float64
    """
    check_int("k", k, minimum=1)  # unused, but a bad k is a bug in the caller all the same
    scores, relevant = _check_inputs(scores, targets)
    rows, cols, positive_scores, num_relevant = _relevant_entries(scores, relevant)
    has_relevant = num_relevant > 0
    num_rows, num_items = scores.shape
    # The first relevant item in the ranking: the best relevant score, lowest index among ties.
    best = scores.new_full((num_rows,), float("-inf")).scatter_reduce(0, rows, positive_scores, "amax")
    at_best = positive_scores == best[rows]
    first = torch.full((num_rows,), num_items, dtype=torch.int64, device=scores.device)
    first = first.scatter_reduce(0, rows[at_best], cols[at_best], "amin")
    ahead = (scores > best[:, None]).sum(dim=1, dtype=torch.float64)
    tied = (scores == best[:, None]).sum(dim=1)
    if bool((has_relevant & (tied > 1)).any()):  # items tied with the best relevant one, ranked by index
        item_index = torch.arange(num_items, device=scores.device)
        ahead += ((scores == best[:, None]) & (item_index < first[:, None])).sum(dim=1, dtype=torch.float64)
    reciprocal = 1.0 / (ahead + 1.0)
    return torch.where(has_relevant, reciprocal, torch.zeros_like(reciprocal))


def auc(scores: torch.Tensor, targets: torch.Tensor, k: int = 10) -> torch.Tensor:
    """Area under the ROC curve per user.

    The fraction of (relevant, unmasked non-relevant) item pairs in which the
    relevant item scores higher; a tie counts 0.5. Computed from average
    ("mid") ranks, as the Mann-Whitney U statistic::

        AUC = (sum of relevant items' ranks - n_pos (n_pos + 1) / 2) / (n_pos * n_neg)

    with ranks ascending over the unmasked items only. Users with no relevant
    or no unmasked non-relevant item get 0.5. ``k`` is accepted and ignored.

    Parameters
    ----------
    scores : Tensor ``[B, I]`` float
    targets : Tensor ``[B, I]`` bool
    k : int
        Ignored.

    Returns
    -------
    Tensor ``[B]`` float64
    """
    check_int("k", k, minimum=1)  # unused, but a bad k is a bug in the caller all the same
    scores, relevant = _check_inputs(scores, targets)
    rows, _, positive_scores, num_relevant = _relevant_entries(scores, relevant)
    num_rows, num_items = scores.shape
    n_pos = num_relevant.to(torch.float64)
    n_masked = torch.isneginf(scores).sum(dim=1, dtype=torch.float64)
    n_neg = num_items - n_masked - n_pos
    pairs = n_pos * n_neg
    if len(rows) == 0:
        return torch.full((num_rows,), 0.5, dtype=torch.float64, device=scores.device)
    # No sort of the catalogue: each row's few relevant scores, sorted (padded with +inf), and one
    # searchsorted per item give c_j = #relevant scoring above item j + half #relevant tied with it:
    #   c_j = n_pos - (#relevant <= s_j + #relevant < s_j) / 2.
    # Summed over every item, masked items (-inf) add n_pos each and the relevant items themselves
    # n_pos**2 / 2 in all; what remains is the Mann-Whitney U over (relevant, non-relevant) pairs.
    sorted_relevant = _padded_rows(rows, positive_scores, num_relevant, float("inf")).sort(dim=1).values
    limit = num_relevant.to(torch.int32)[:, None]
    at_most = torch.searchsorted(sorted_relevant, scores, right=True, out_int32=True)
    total = torch.minimum(at_most, limit).sum(dim=1, dtype=torch.int64)  # +inf pads never count
    del at_most
    total += torch.searchsorted(sorted_relevant, scores, right=False, out_int32=True).sum(dim=1, dtype=torch.int64)
    u_statistic = num_items * n_pos - total.to(torch.float64) / 2.0 - n_masked * n_pos - n_pos * n_pos / 2.0
    value = u_statistic / pairs.clamp(min=1.0)
    return torch.where(pairs > 0, value, torch.full_like(value, 0.5))


def ndcg(scores: torch.Tensor, targets: torch.Tensor, k: int = 10) -> torch.Tensor:
    """Normalised discounted cumulative gain at ``k`` with binary gains.

    ``DCG@k = sum_{i<=k} rel_i / log2(i + 1)``, divided by the ideal DCG, which
    places ``min(k, n_relevant)`` relevant items at the top.

    Parameters
    ----------
    scores : Tensor ``[B, I]`` float
    targets : Tensor ``[B, I]`` bool
    k : int, default 10

    Returns
    -------
    Tensor ``[B]`` float64
    """
    k = check_int("k", k, minimum=1)
    scores, relevant = _check_inputs(scores, targets)
    ranked = _ranked_relevance(scores, relevant, k)
    discounts = _discounts(ranked.shape[1], ranked.device)
    dcg = (ranked * discounts).sum(dim=1)
    ideal_count = _num_relevant(relevant).clamp(max=ranked.shape[1]).to(torch.int64)
    ideal_cumulative = torch.cat([torch.zeros(1, dtype=torch.float64, device=ranked.device), discounts.cumsum(0)])
    return _safe_divide(dcg, ideal_cumulative[ideal_count])


def precision(scores: torch.Tensor, targets: torch.Tensor, k: int = 10) -> torch.Tensor:
    """Precision at ``k``: relevant items among the top ``k``, divided by ``k``.

    Parameters
    ----------
    scores : Tensor ``[B, I]`` float
    targets : Tensor ``[B, I]`` bool
    k : int, default 10

    Returns
    -------
    Tensor ``[B]`` float64
    """
    k = check_int("k", k, minimum=1)
    scores, relevant = _check_inputs(scores, targets)
    return _ranked_relevance(scores, relevant, k).sum(dim=1) / k


def recall(scores: torch.Tensor, targets: torch.Tensor, k: int = 10) -> torch.Tensor:
    """Recall at ``k``: relevant items among the top ``k``, divided by the number of relevant items.

    Parameters
    ----------
    scores : Tensor ``[B, I]`` float
    targets : Tensor ``[B, I]`` bool
    k : int, default 10

    Returns
    -------
    Tensor ``[B]`` float64
    """
    k = check_int("k", k, minimum=1)
    scores, relevant = _check_inputs(scores, targets)
    hits = _ranked_relevance(scores, relevant, k).sum(dim=1)
    return _safe_divide(hits, _num_relevant(relevant))


# --------------------------------------------------------------------------- evaluation loop


def _metric_name(metric: Any) -> str:
    base = metric.func if isinstance(metric, functools.partial) else metric
    return getattr(base, "__name__", type(base).__name__)


def _bind_k(metric: Any, k: int) -> Metric:
    """Return ``metric`` as a two-argument callable with ``k`` bound where it accepts one.

    A ``functools.partial`` that already fixes ``k`` keeps its own value.
    """
    if not callable(metric):
        raise TypeError(f"every entry of metric_list must be callable, got {metric!r} ({type(metric).__name__})")
    if isinstance(metric, functools.partial) and "k" in metric.keywords:
        return metric
    try:
        parameters = inspect.signature(metric).parameters.values()
    except (TypeError, ValueError):  # some builtins have no signature; assume they take k
        return functools.partial(metric, k=k)
    accepts_k = any(p.name == "k" or p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters)
    return functools.partial(metric, k=k) if accepts_k else metric


def _shape(interactions: Any, name: str) -> tuple[int, int]:
    if not (hasattr(interactions, "num_users") and hasattr(interactions, "num_items")):
        kind = type(interactions).__name__
        raise TypeError(f"{name} must have num_users and num_items (e.g. Interactions), got {kind}")
    return int(interactions.num_users), int(interactions.num_items)


def _batch_coordinates(mat: sp.csr_matrix, rows: np.ndarray, device: torch.device) -> tuple:
    """Coordinates ``(batch_row, item)`` of the stored entries of ``mat[rows]``, as torch index tensors."""
    sub = mat[rows]
    batch_rows = np.repeat(np.arange(len(rows)), np.diff(sub.indptr))
    return (
        torch.as_tensor(batch_rows, dtype=torch.int64, device=device),
        torch.as_tensor(sub.indices, dtype=torch.int64, device=device),
    )


def _model_device(model: Any) -> torch.device:
    try:
        return next(model.parameters()).device
    except (AttributeError, StopIteration, TypeError):
        return torch.device("cpu")


def evaluate_in_batches(
    metric_list: Sequence[Metric],
    test_interactions: Any,
    model: Any,
    k: int = 10,
    batch_size: int = 1024,
    train_interactions: Any = None,
    logger: Any = None,
    progress: bool = True,
) -> list[float]:
    """Evaluate ``model`` on held-out interactions, ``batch_size`` users at a time.

    For each batch of users, ``model.score_all_items`` scores every item (under
    ``torch.no_grad``; the model's train/eval mode is left to the caller), each
    metric is computed per user, and the per-user values are summed in float64.
    The result is the mean over users with at least one test interaction; users
    without any are skipped entirely. Peak memory is about ``batch_size x num_items``
    scores.

    Parameters
    ----------
    metric_list : sequence of callables
        Metrics with signature ``metric(scores, targets, k=10) -> Tensor[B]``, e.g.
        ``[mapk, mrr, auc]``. ``k`` is passed to every metric that accepts it,
        unless it is a ``functools.partial`` that already sets ``k``.
    test_interactions
        Held-out interactions: an object with ``num_users``, ``num_items`` and a
        scipy CSR ``.mat``.
    model
        Exposes ``num_users``, ``num_items`` and ``score_all_items(user_ids) -> [B, num_items]``.
    k : int, default 10
        Cut-off for the top-``k`` metrics.
    batch_size : int, default 1024
        Users scored at once.
    train_interactions : optional
        If given, each user's training items are masked (score ``-inf``) so they
        are neither relevant nor counted as negatives. This is the honest setting
        for models that would otherwise re-recommend seen items. Default: unmasked.
    logger : optional
        A Lightning-style logger; if given, ``logger.log_metrics({name: value})`` is called.
    progress : bool, default True
        Show a tqdm progress bar (only when there are several batches).

    Returns
    -------
    list of float
        One value per metric, in ``metric_list`` order.

    Examples
    --------
    >>> scores = evaluate_in_batches([mapk, mrr, auc], val_interactions, model)  # doctest: +SKIP
    >>> mapk_score, mrr_score, auc_score = scores  # doctest: +SKIP
    """
    if isinstance(metric_list, (str, bytes)) or not isinstance(metric_list, Sequence):
        if callable(metric_list):
            raise TypeError("metric_list must be a list of metrics; wrap a single metric as [metric]")
        raise TypeError(f"metric_list must be a list of metrics, got {type(metric_list).__name__}")
    if len(metric_list) == 0:
        raise ValueError("metric_list is empty; pass at least one metric, e.g. [mapk, mrr, auc]")
    k = check_int("k", k, minimum=1)
    batch_size = check_int("batch_size", batch_size, minimum=1)
    metrics = [_bind_k(metric, k) for metric in metric_list]

    test_shape = _shape(test_interactions, "test_interactions")
    model_shape = _shape(model, "model")
    if test_shape != model_shape:
        raise ValueError(
            f"test_interactions has shape (num_users, num_items) = {test_shape} but the model has {model_shape}"
        )
    test_mat = sp.csr_matrix(test_interactions.mat)
    train_mat = None
    if train_interactions is not None:
        train_shape = _shape(train_interactions, "train_interactions")
        if train_shape != test_shape:
            raise ValueError(
                f"train_interactions has shape (num_users, num_items) = {train_shape} but "
                f"test_interactions has {test_shape}"
            )
        train_mat = sp.csr_matrix(train_interactions.mat)

    users = np.flatnonzero(test_mat.getnnz(axis=1) > 0)
    if len(users) == 0:
        raise ValueError("test_interactions has no interactions, so there is no user to evaluate")
    num_items = test_shape[1]
    batches = [users[start : start + batch_size] for start in range(0, len(users), batch_size)]
    device = _model_device(model)

    from tqdm.auto import tqdm

    totals = torch.zeros(len(metrics), dtype=torch.float64)
    with torch.no_grad():
        for batch_users in tqdm(batches, desc="evaluating", disable=not progress or len(batches) < 3, leave=False):
            user_ids = torch.as_tensor(batch_users, dtype=torch.int64, device=device)
            scores = model.score_all_items(user_ids)
            if tuple(scores.shape) != (len(batch_users), num_items):
                raise ValueError(
                    f"model.score_all_items returned shape {tuple(scores.shape)}, "
                    f"expected {(len(batch_users), num_items)}"
                )
            scores = scores.float() if not torch.is_floating_point(scores) else scores
            targets = torch.zeros(scores.shape, dtype=torch.bool, device=scores.device)
            targets[_batch_coordinates(test_mat, batch_users, scores.device)] = True
            if train_mat is not None:
                # Clone so a model that returns a cached tensor is not modified in place.
                scores = scores.clone()
                scores[_batch_coordinates(train_mat, batch_users, scores.device)] = float("-inf")
            for index, metric in enumerate(metrics):
                values = metric(scores, targets)
                totals[index] += torch.as_tensor(values).to(torch.float64).sum().cpu()

    results = [float(total) / len(users) for total in totals]
    if logger is not None:
        logger.log_metrics({_metric_name(metric): value for metric, value in zip(metric_list, results)})
    return results
