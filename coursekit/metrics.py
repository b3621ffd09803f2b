"""Evaluation metrics, each defined in a few lines you can read as its formula.

Every ranking metric has the same signature::

    metric(scores, targets, k=10) -> Tensor[B] (float64, one value per user)

``scores`` is a float tensor ``[B, I]`` (a row per user, a column per item) and ``targets`` a bool
tensor ``[B, I]`` marking each user's held-out (relevant) items. Each definition below reads along
one row: it is the metric for one user, and torch applies it to every row at once.

Conventions shared by all ranking metrics:

* **Masking.** An item scored ``-inf`` is *masked* (typically an item the user saw in training):
  never relevant, never a negative, ranked below every other item.
* **Ties.** Equal scores rank by item index, the lower index first (a stable sort), so every
  metric is deterministic. :func:`auc` instead gives a tied (relevant, non-relevant) pair half credit.
* **A user without relevant items** gets 0 from every metric except :func:`auc`, which gives 0.5
  (chance) when there is no relevant or no non-relevant unmasked item.
* ``k`` above the number of items is allowed: the whole ranking counts, and :func:`precision`
  still divides by ``k`` (Collie and some libraries refuse such a ``k``; here it is well defined).

These definitions sort the catalogue (and :func:`auc` compares every pair of items), which is fine
for a handful of users. :func:`evaluate_in_batches` computes exactly the same values for a whole
test set with a fast batched engine (``coursekit._ranking_engine``; a test checks that both agree).

For explicit ratings, :func:`rmse` and :func:`mae` compare predicted and observed ratings.

Examples
--------
>>> import torch
>>> scores = torch.tensor([[0.9, 0.8, 0.7, 0.6]])
>>> targets = torch.tensor([[False, True, False, True]])
>>> mapk(scores, targets, k=3).item()  # hits at ranks 2 (P@2 = 1/2); 2 relevant items
0.25
>>> mrr(scores, targets).item()
0.5
"""

from __future__ import annotations

import warnings
from typing import Any, Callable, Sequence

import pandas as pd
import torch

from coursekit import _ranking_engine
from coursekit._checks import check_int

Metric = Callable[..., torch.Tensor]

__all__ = [
    "mapk",
    "mrr",
    "auc",
    "ndcg",
    "precision",
    "recall",
    "rmse",
    "mae",
    "evaluate_in_batches",
    "per_user_metrics",
]


# --------------------------------------------------------------------------- the pieces every ranking metric uses


def relevant_items(scores: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """``[B, I]`` bool: the held-out items that are not masked."""
    _ranking_engine._check_inputs(scores, targets)
    return targets.to(device=scores.device, dtype=torch.bool) & ~torch.isneginf(scores)


def ranked_relevance(scores: torch.Tensor, targets: torch.Tensor, k: int | None = None) -> torch.Tensor:
    """``rel_i`` for ranks ``i = 1..k``: 1.0 where the item ranked ``i``-th is relevant, ``[B, min(k, I)]``.

    The ranking is a stable descending sort (ties: lower item index first; masked items last).
    ``k=None`` keeps the whole ranking.
    """
    relevant = relevant_items(scores, targets)
    ranking = torch.sort(scores, dim=-1, descending=True, stable=True).indices
    return relevant.gather(-1, ranking)[..., :k].to(torch.float64)


# --------------------------------------------------------------------------- ranking metrics


def precision(scores: torch.Tensor, targets: torch.Tensor, k: int = 10) -> torch.Tensor:
    """Precision at ``k``: the share of the top ``k`` that is relevant, ``P@k = sum_{i<=k} rel_i / k``."""
    k = check_int("k", k, minimum=1)
    rel = ranked_relevance(scores, targets, k)
    return rel.sum(dim=-1) / k


def recall(scores: torch.Tensor, targets: torch.Tensor, k: int = 10) -> torch.Tensor:
    """Recall at ``k``: the share of relevant items found in the top ``k``, ``sum_{i<=k} rel_i / n_relevant``."""
    k = check_int("k", k, minimum=1)
    rel = ranked_relevance(scores, targets, k)
    n_relevant = relevant_items(scores, targets).sum(dim=-1)
    return rel.sum(dim=-1) / n_relevant.clamp(min=1)  # 0 / 1 for a user without relevant items


def mapk(scores: torch.Tensor, targets: torch.Tensor, k: int = 10) -> torch.Tensor:
    """Average precision at ``k`` (the mean over users is MAP@k).

    ``AP@k = sum_{i<=k} P@i * rel_i / min(k, n_relevant)``: the precision at each rank where a
    relevant item appears, averaged over the relevant items that fit in the top ``k``.
    """
    k = check_int("k", k, minimum=1)
    rel = ranked_relevance(scores, targets, k)
    ranks = torch.arange(1, rel.shape[-1] + 1, device=rel.device)
    precision_at_i = rel.cumsum(dim=-1) / ranks
    n_relevant = relevant_items(scores, targets).sum(dim=-1)
    return (precision_at_i * rel).sum(dim=-1) / n_relevant.clamp(min=1, max=k)


def mrr(scores: torch.Tensor, targets: torch.Tensor, k: int = 10) -> torch.Tensor:
    """Reciprocal rank of the first relevant item, ``1 / rank_first`` (the mean over users is MRR).

    Over the whole ranking, not cut at ``k`` (accepted so every metric is called alike, and ignored).
    """
    check_int("k", k, minimum=1)  # unused, but a bad k is a bug in the caller all the same
    rel = ranked_relevance(scores, targets)
    first = rel.argmax(dim=-1)  # the first rank holding a relevant item (argmax returns the first maximum)
    return torch.where(rel.any(dim=-1), 1.0 / (first + 1).to(torch.float64), 0.0)


def ndcg(scores: torch.Tensor, targets: torch.Tensor, k: int = 10) -> torch.Tensor:
    """Normalised discounted cumulative gain at ``k``, binary gains.

    ``DCG@k = sum_{i<=k} rel_i / log2(i + 1)``, divided by the ideal DCG: the same sum with the
    ``min(k, n_relevant)`` relevant items at the top.
    """
    k = check_int("k", k, minimum=1)
    rel = ranked_relevance(scores, targets, k)
    ranks = torch.arange(1, rel.shape[-1] + 1, dtype=torch.float64, device=rel.device)
    discount = 1.0 / torch.log2(ranks + 1.0)
    dcg = (rel * discount).sum(dim=-1)
    n_relevant = relevant_items(scores, targets).sum(dim=-1, keepdim=True)
    ideal_dcg = (discount * (ranks <= n_relevant)).sum(dim=-1)
    return torch.where(ideal_dcg > 0, dcg / ideal_dcg.clamp(min=1e-300), 0.0)


def auc(scores: torch.Tensor, targets: torch.Tensor, k: int = 10) -> torch.Tensor:
    """Area under the ROC curve: the share of (relevant, non-relevant) pairs ranked the right way.

    ``AUC = mean over pairs (p, q) of [s_p > s_q] + 0.5 [s_p == s_q]``, ``p`` relevant and ``q`` an
    unmasked non-relevant item; 0.5 when there is no such pair. The whole ranking counts: ``k`` is
    accepted and ignored. (This compares all ``I x I`` pairs of a row: for real data use
    :func:`evaluate_in_batches`, which gets the same number from ranks.)
    """
    check_int("k", k, minimum=1)  # unused, but a bad k is a bug in the caller all the same
    relevant = relevant_items(scores, targets)
    negative = ~relevant & ~torch.isneginf(scores)
    s_p, s_q = scores[..., :, None], scores[..., None, :]  # [B, I, 1] and [B, 1, I]: every pair
    credit = (s_p > s_q).to(torch.float64) + 0.5 * (s_p == s_q).to(torch.float64)
    is_pair = relevant[..., :, None] & negative[..., None, :]
    n_pairs = is_pair.sum(dim=(-2, -1))
    return torch.where(n_pairs > 0, (credit * is_pair).sum(dim=(-2, -1)) / n_pairs.clamp(min=1), 0.5)


# --------------------------------------------------------------------------- explicit ratings


def _rating_errors(predictions: Any, ratings: Any) -> torch.Tensor:
    predictions = torch.as_tensor(predictions, dtype=torch.float64)
    ratings = torch.as_tensor(ratings, dtype=torch.float64, device=predictions.device)
    if predictions.shape != ratings.shape or predictions.numel() == 0:
        raise ValueError(
            f"predictions and ratings must have the same non-empty shape, got {tuple(predictions.shape)} "
            f"and {tuple(ratings.shape)}"
        )
    errors = predictions - ratings
    if not torch.isfinite(errors).all():
        raise ValueError("predictions and ratings must be finite (no NaN or infinity)")
    return errors


def rmse(predictions: Any, ratings: Any) -> torch.Tensor:
    """Root mean squared error of predicted explicit ratings, ``sqrt(mean((r_hat - r)**2))`` (float64)."""
    return _rating_errors(predictions, ratings).pow(2).mean().sqrt()


def mae(predictions: Any, ratings: Any) -> torch.Tensor:
    """Mean absolute error of predicted explicit ratings, ``mean(|r_hat - r|)`` (float64)."""
    return _rating_errors(predictions, ratings).abs().mean()


# --------------------------------------------------------------------------- the bridge to the fast engine

# The definitions above, by the engine's name for each; evaluate_in_batches computes these in the engine.
_BUILT_INS: dict[Any, str] = {
    mapk: "mapk",
    mrr: "mrr",
    auc: "auc",
    ndcg: "ndcg",
    precision: "precision",
    recall: "recall",
}


def evaluate_in_batches(
    metric_list: Sequence[Metric],
    test_interactions: Any,
    model: Any,
    k: int = 10,
    batch_size: int = 1024,
    train_interactions: Any = None,
    logger: Any = None,
    progress: bool = True,
    per_user: bool = False,
) -> list[float] | pd.DataFrame:
    """Evaluate ``model`` on held-out interactions, ``batch_size`` users at a time.

    For each batch of users, ``model.score_all_items`` scores every item (under
    ``torch.no_grad``; the model's train/eval mode is left to the caller), each
    metric is computed per user, and the per-user values are summed in float64.
    The result is the mean over users with at least one test interaction; users
    without any are skipped entirely. Peak memory is about ``batch_size x num_items``
    scores. The metrics defined in this module run in a fast engine that gives the
    same values as their definitions; any other metric is called as ``metric(scores, targets)``.

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
        *Users* scored at once (the loaders' ``batch_size`` counts interactions instead).
    train_interactions : optional
        If given, each user's training items are masked (score ``-inf``) so they
        are neither relevant nor counted as negatives. This is the honest setting
        for models that would otherwise re-recommend seen items. Default: unmasked
        (as in Collie).
    logger : optional
        A Lightning-style logger; if given, ``logger.log_metrics({name: value})`` is called.
    progress : bool, default True
        Show a tqdm progress bar (only when there are several batches).
    per_user : bool, default False
        Deprecated: call :func:`per_user_metrics`, which returns the same DataFrame (a flag that
        changes the type of the result reads badly at the call site).

    Returns
    -------
    list of float
        One value per metric, in ``metric_list`` order (with ``per_user``: a DataFrame, see
        :func:`per_user_metrics`).

    Examples
    --------
    >>> scores = evaluate_in_batches([mapk, mrr, auc], test_interactions, model)  # doctest: +SKIP
    >>> mapk_score, mrr_score, auc_score = scores  # doctest: +SKIP
    """
    if per_user:
        warnings.warn(
            "evaluate_in_batches(per_user=True) is deprecated: call per_user_metrics(...) with the same arguments",
            DeprecationWarning,
            stacklevel=2,
        )
        return per_user_metrics(
            metric_list,
            test_interactions,
            model,
            k=k,
            train_interactions=train_interactions,
            batch_size=batch_size,
            progress=progress,
        )
    return _ranking_engine.evaluate(
        metric_list,
        test_interactions,
        model,
        k=k,
        batch_size=batch_size,
        train_interactions=train_interactions,
        logger=logger,
        progress=progress,
        built_ins=_BUILT_INS,
    )


def per_user_metrics(
    metric_list: Sequence[Metric],
    test_interactions: Any,
    model: Any,
    k: int = 10,
    train_interactions: Any = None,
    batch_size: int = 1024,
    progress: bool = False,
    names: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Every evaluated user's metric values: what :func:`evaluate_in_batches` averages.

    Same engine, same arguments and same users (those with at least one test interaction), so
    the mean of each column is exactly the value ``evaluate_in_batches`` returns for it. Per-user
    values are what a confidence interval over users (:mod:`coursekit.intervals`) resamples.
    A metric outside this module must return one value per user.

    Parameters
    ----------
    metric_list, test_interactions, model, k, train_interactions, batch_size, progress
        As in :func:`evaluate_in_batches` (``progress`` is off by default here).
    names : sequence of str, optional
        Column names, one per metric. Default: each metric's function name (``"mapk"``,
        ``"mrr"``, ...), with ``"_2"``, ``"_3"`` ... appended to repeated names.

    Returns
    -------
    pandas.DataFrame
        Index ``user_id`` (ascending), one float64 column per metric, in ``metric_list`` order.

    Examples
    --------
    >>> table = per_user_metrics([mapk, mrr, auc], test, model, train_interactions=train)  # doctest: +SKIP
    >>> table["mapk"].mean()  # == evaluate_in_batches([mapk], test, model, train_interactions=train)[0]  # doctest: +SKIP
    """
    users, values = _ranking_engine.evaluate(
        metric_list,
        test_interactions,
        model,
        k=k,
        batch_size=batch_size,
        train_interactions=train_interactions,
        progress=progress,
        built_ins=_BUILT_INS,
        per_user=True,
    )
    if names is None:
        bases = [_ranking_engine._metric_name(metric) for metric in metric_list]
        columns = [
            name if bases[:i].count(name) == 0 else f"{name}_{bases[:i].count(name) + 1}"
            for i, name in enumerate(bases)
        ]
    else:
        if isinstance(names, (str, bytes)) or len(names) != len(metric_list):
            raise ValueError(f"names must give one column name per metric ({len(metric_list)}), got {names!r}")
        columns = [str(name) for name in names]
        if len(set(columns)) != len(columns):
            raise ValueError(f"names must be distinct, got {list(names)}")
    # One contiguous row per metric becomes one column: its mean sums the same numbers in the same order.
    return pd.DataFrame(dict(zip(columns, values)), index=pd.Index(users, name="user_id"))
