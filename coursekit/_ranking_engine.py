"""The fast batched engine behind :func:`coursekit.metrics.evaluate_in_batches` (private).

The readable definitions of every metric live in :mod:`coursekit.metrics`; this module computes
the same values for a batch of users without sorting the catalogue, and ``tests/test_metrics.py``
checks that both agree on random cases with ties, masks and infinities. Learners read the
definitions; nothing here is needed to understand what a metric means.

Conventions (the same as the definitions'):

* **Masking.** Items whose score is ``-inf`` are *masked* (typically items the
  user already saw in training). A masked item is never relevant (even if its
  target is ``True``) and never counts as a negative; it sorts below every
  unmasked item.
* **Ties.** Equal scores are ordered by item index (the lower index ranks
  higher), exactly as a stable descending sort would order them; AUC instead
  gives tied (relevant, non-relevant) pairs half credit via average ranks.
* **Users without relevant items** get 0 from every metric except AUC (0.5).
"""

from __future__ import annotations

import functools
import inspect
from typing import Any, Callable, Sequence

import numpy as np
import scipy.sparse as sp
import torch
from tqdm import tqdm  # plain tqdm: tqdm.auto warns on stderr in a notebook kernel without ipywidgets

from coursekit import _ranking_kernel
from coursekit._checks import check_int
from coursekit.ranking import top_k_items as _top_k_items

Metric = Callable[..., torch.Tensor]


# --------------------------------------------------------------------------- helpers

# Elements per chunk of the comparison passes below: ~1 MiB of float32 stays in the L2 cache between the
# compare/subtract, sign and sum kernels (a full [1024, 50000] pass per kernel is 3-10x slower per element).
_PASS_ELEMENTS = 1 << 18
# Rows with more relevant items than this locate every item among their sorted relevant scores
# (searchsorted, ~O(log R) per item) instead of one comparison pass per relevant item (O(R) per item).
_SEARCH_ABOVE = 128


def _check_inputs(scores: torch.Tensor, targets: torch.Tensor) -> None:
    """Validate types, shapes and values of a ``(scores, targets)`` batch."""
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
    _check_no_nan(scores)


def _check_no_nan(scores: torch.Tensor) -> None:
    # A NaN anywhere makes the sum NaN: one fast reduction instead of a NaN mask of the whole batch
    # (a sum can also be NaN from +inf and -inf together, so confirm with the exact test).
    if torch.isnan(scores.sum()) and torch.isnan(scores).any():
        raise ValueError("scores contain NaN; mask items with -inf instead")


def _padded_rows(rows: torch.Tensor, values: torch.Tensor, counts: torch.Tensor, fill: float) -> torch.Tensor:
    """``values`` grouped by (sorted) ``rows`` into a ``[num_rows, max(counts)]`` tensor padded with ``fill``."""
    starts = torch.cumsum(counts, dim=0) - counts
    padded = values.new_full((len(counts), int(counts.max()) if len(counts) else 0), fill)
    padded[rows, torch.arange(len(rows), device=rows.device) - starts[rows]] = values
    return padded


def _safe_divide(numerator: torch.Tensor, denominator: torch.Tensor) -> torch.Tensor:
    """``numerator / denominator`` with 0 where the denominator is 0."""
    return torch.where(denominator > 0, numerator / denominator.clamp(min=1e-300), torch.zeros_like(numerator))


def _discounts(length: int, device: torch.device) -> torch.Tensor:
    """``1 / log2(rank + 1)`` for ranks ``1..length``."""
    ranks = torch.arange(1, length + 1, dtype=torch.float64, device=device)
    return 1.0 / torch.log2(ranks + 1.0)


def _subtraction_keeps_sign(dtype: torch.dtype, device: torch.device) -> bool:
    """Whether ``x - y`` is 0 only for ``x == y`` here: false when subnormal numbers are flushed to zero
    (``torch.set_flush_denormal(True)``), where two distinct tiny scores can differ by a flushed 0."""
    tiny = torch.finfo(dtype).tiny
    x = torch.tensor([1.5 * tiny, 0.5 * tiny], dtype=dtype, device=device)
    return bool(((x - torch.tensor([tiny, 0.0], dtype=dtype, device=device)) != 0).all())


def _comparison_counts(
    scores: torch.Tensor, row_ids: torch.Tensor, thresholds: torch.Tensor, widths: torch.Tensor, ties: bool, sign: bool
) -> torch.Tensor:
    """Count items against per-row thresholds, ``[n, R]`` float64 (integers).

    Row ``i`` of the result is about row ``row_ids[i]`` of ``scores`` and its first ``widths[i]``
    thresholds (the rest are padding and come out meaningless). Entry ``(i, j)`` is ``#{items > t}``
    if not ``ties``, else ``#{items > t} + #{items >= t}`` (twice the items above plus those tied).

    One comparison pass per threshold, in chunks of rows that stay in cache. A count is a sum of 0/1,
    or with ``sign`` of ``sign(s - t)`` in ``{-1, 0, 1}`` (``#above + #at-least = I + sum sign(s - t)``:
    one pass instead of two; exact unless some ``t`` is ``+inf`` or subnormals are flushed to zero),
    in the scores' float type, which is exact below 2**24 items.
    """
    num_rows, num_thresholds = thresholds.shape
    num_items = scores.shape[1]
    counts = torch.zeros(num_rows, num_thresholds, dtype=torch.float64, device=scores.device)
    if num_rows == 0 or num_thresholds == 0:
        return counts
    # Narrow rows first; stable, so rows already in order stay in order and runs of consecutive rows
    # are sliced from scores rather than copied.
    order = torch.argsort(widths, stable=True)
    ids, width_of = row_ids[order].tolist(), widths[order].tolist()
    limits_all = thresholds[order]
    sorted_counts = torch.zeros_like(counts)
    work_dtype = scores.dtype if num_items < 2**24 else torch.float64
    buffer = torch.empty(max(_PASS_ELEMENTS, num_items), dtype=work_dtype, device=scores.device)
    start = 0
    while start < num_rows:
        stop = min(num_rows, start + max(1, _PASS_ELEMENTS // (max(width_of[start], 1) * num_items)))
        while stop - start > 1 and (stop - start) * width_of[stop - 1] * num_items > _PASS_ELEMENTS:
            stop -= 1
        width = max(width_of[stop - 1], 1)
        first_row = ids[start]
        if ids[start:stop] == list(range(first_row, first_row + stop - start)):
            items = scores[first_row : first_row + stop - start, None, :]
        else:
            items = scores[ids[start:stop]].unsqueeze(1)  # [c, 1, I], a small copy
        # A single row wider than the chunk is cut into blocks of thresholds.
        block = width if stop - start > 1 else max(1, min(width, _PASS_ELEMENTS // num_items))
        for first in range(0, width, block):
            limits = limits_all[start:stop, first : first + block, None]  # [c, b, 1]
            out = buffer[: (stop - start) * limits.shape[1] * num_items].view(stop - start, limits.shape[1], num_items)
            if not ties:
                count = torch.gt(items, limits, out=out).sum(dim=2)
            elif sign:
                count = torch.sign(torch.sub(items, limits, out=out), out=out).sum(dim=2)
            else:
                count = torch.gt(items, limits, out=out).sum(dim=2) + torch.ge(items, limits, out=out).sum(dim=2)
            sorted_counts[start:stop, first : first + block] = count
        start = stop
    if ties and sign:
        sorted_counts += num_items
    counts[order] = sorted_counts
    return counts


def _searchsorted_totals(
    scores: torch.Tensor, row_ids: torch.Tensor, sorted_thresholds: torch.Tensor, widths: torch.Tensor
) -> torch.Tensor:
    """Per row, ``sum_j #{items > t_j} + #{items >= t_j}`` over its ``widths`` sorted thresholds
    (padded with ``+inf``), by locating every item among them: ``[n]`` float64."""
    totals = torch.zeros(len(row_ids), dtype=torch.float64, device=scores.device)
    chunk_rows = max(1, (16 * _PASS_ELEMENTS) // scores.shape[1])
    for start in range(0, len(row_ids), chunk_rows):
        stop = start + chunk_rows
        items = scores.index_select(0, row_ids[start:stop])
        limits = sorted_thresholds[start:stop]
        # #thresholds <= s (capped: +inf pads are not thresholds) + #thresholds < s, summed over items.
        at_most = torch.searchsorted(limits, items, right=True, out_int32=True)
        total = torch.minimum(at_most, widths[start:stop, None].to(torch.int32)).sum(dim=1, dtype=torch.int64)
        del at_most
        total += torch.searchsorted(limits, items, right=False, out_int32=True).sum(dim=1, dtype=torch.int64)
        totals[start:stop] = total.to(torch.float64)
    return totals


class _BatchFacts:
    """What the built-in metrics need about one batch, each part computed once and shared.

    ``scores`` ``[B, I]`` are the masked scores (``-inf`` = masked) and ``(rows, cols)`` the relevant
    entries (unmasked targets) in row-major order with ascending columns. ``n_masked`` (``[B]``
    float64) may be given when known without a pass over ``scores`` (e.g. from the training CSR).
    """

    def __init__(
        self, scores: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor, n_masked: torch.Tensor | None = None
    ) -> None:
        if scores.dtype not in (torch.float32, torch.float64):
            scores = scores.float()  # exact for 16-bit floats: same order, same ties
        self.scores = scores
        self.num_rows, self.num_items = scores.shape
        self.rows, self.cols = rows, cols
        self.values = scores[rows, cols]
        self.n_pos = torch.bincount(rows, minlength=self.num_rows)
        self._n_masked = n_masked
        self._keys = rows * self.num_items + cols  # sorted: row-major, ascending columns
        self._top: torch.Tensor | None = None
        self._entry_counts: torch.Tensor | None = None  # per relevant entry, see entry_counts
        self._totals: torch.Tensor | None = None
        self._ahead: torch.Tensor | None = None  # per row, from the compiled pass
        self._sign: bool | None = None
        self._compiled = _ranking_kernel.available(scores)

    @classmethod
    def from_dense(cls, scores: torch.Tensor, targets: torch.Tensor) -> "_BatchFacts":
        _check_inputs(scores, targets)
        relevant = targets.to(device=scores.device, dtype=torch.bool) & ~torch.isneginf(scores)
        rows, cols = relevant.nonzero(as_tuple=True)
        return cls(scores, rows, cols)

    # -- shared parts ----------------------------------------------------------------------------

    @property
    def n_masked(self) -> torch.Tensor:
        if self._n_masked is None:
            self._n_masked = torch.isneginf(self.scores).sum(dim=1, dtype=torch.float64)
        return self._n_masked

    @property
    def sign(self) -> bool:
        """Whether the one-pass ``sign(s - t)`` counts are exact for this batch (see ``_comparison_counts``)."""
        if self._sign is None:
            self._sign = not bool(torch.isposinf(self.values).any()) and _subtraction_keeps_sign(
                self.scores.dtype, self.scores.device
            )
        return self._sign

    def top_k(self, k: int) -> torch.Tensor:
        """``_top_k_items(scores, k)``; a longer list computed before is cut (its prefix is the answer)."""
        if self._top is None or self._top.shape[1] < min(k, self.num_items):
            self._top = _top_k_items(self.scores, k)
        return self._top[:, :k]

    def ranked_relevance(self, k: int) -> torch.Tensor:
        """Relevance of the top ``min(k, I)`` items in ranked order, ``[B, min(k, I)]`` float64."""
        top = self.top_k(k)
        if len(self._keys) == 0:
            return torch.zeros(top.shape, dtype=torch.float64, device=top.device)
        keys = torch.arange(self.num_rows, device=top.device)[:, None] * self.num_items + top
        found = self._keys[torch.searchsorted(self._keys, keys).clamp(max=len(self._keys) - 1)]
        return (found == keys).to(torch.float64)

    def _positions(self) -> torch.Tensor:
        """Position of each relevant entry within its row."""
        starts = torch.cumsum(self.n_pos, dim=0) - self.n_pos
        return torch.arange(len(self.rows), device=self.rows.device) - starts[self.rows]

    def entry_counts(self) -> torch.Tensor:
        """``#{items > s} + #{items >= s}`` for each relevant entry's score ``s`` (float64), NaN for entries
        in rows with more than ``_SEARCH_ABOVE`` relevant items (those rows use searchsorted instead)."""
        if self._entry_counts is None:
            light = (self.n_pos > 0) & (self.n_pos <= _SEARCH_ABOVE)
            counts = torch.full((len(self.rows),), float("nan"), dtype=torch.float64, device=self.scores.device)
            if bool(light.any()):
                in_light = light[self.rows]
                padded = _padded_rows(self.rows[in_light], self.values[in_light], self.n_pos * light, 0.0)
                row_ids = torch.nonzero(light).squeeze(1)
                per_row = torch.zeros(padded.shape, dtype=torch.float64, device=padded.device)
                per_row[row_ids] = _comparison_counts(
                    self.scores, row_ids, padded[row_ids], self.n_pos[row_ids], ties=True, sign=self.sign
                )
                counts[in_light] = per_row[self.rows[in_light], self._positions()[in_light]]
            self._entry_counts = counts
        return self._entry_counts

    def _first_relevant(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(row_ids, best, first_entry)``: rows with a relevant item, each row's best relevant score
        ``[B]``, and for each of ``row_ids`` the entry of its first relevant item in the ranking (the
        best score, lowest index among ties)."""
        row_ids = torch.nonzero(self.n_pos > 0).squeeze(1)
        best = self.scores.new_full((self.num_rows,), float("-inf")).scatter_reduce(0, self.rows, self.values, "amax")
        entry = torch.arange(len(self.rows), device=self.rows.device)
        at_best = self.values == best[self.rows]
        first_entry = torch.full((self.num_rows,), len(self.rows), dtype=torch.int64, device=self.rows.device)
        first_entry = first_entry.scatter_reduce(0, self.rows[at_best], entry[at_best], "amin")[row_ids]
        return row_ids, best, first_entry

    def _count_compiled(self) -> None:
        """AUC's totals and MRR's items ahead in one compiled pass (see :mod:`coursekit._ranking_kernel`)."""
        row_ids, _, first_entry = self._first_relevant()
        first_cols = torch.zeros(self.num_rows, dtype=torch.int64)
        first_cols[row_ids] = self.cols[first_entry]
        self._totals, self._ahead = _ranking_kernel.outrank_counts(self.scores, self.values, self.n_pos, first_cols)

    def outrank_totals(self) -> torch.Tensor:
        """Per row, the sum of ``entry_counts`` over its relevant entries, ``[B]`` float64."""
        if self._totals is None and self._compiled:
            self._count_compiled()
        if self._totals is None:
            counts = self.entry_counts()
            light = ~torch.isnan(counts)
            totals = torch.zeros(self.num_rows, dtype=torch.float64, device=self.scores.device)
            totals.index_add_(0, self.rows[light], counts[light])
            heavy = torch.nonzero(self.n_pos > _SEARCH_ABOVE).squeeze(1)
            if len(heavy):
                in_heavy = self.n_pos[self.rows] > _SEARCH_ABOVE
                padded = _padded_rows(
                    self.rows[in_heavy], self.values[in_heavy], self.n_pos * (self.n_pos > _SEARCH_ABOVE), float("inf")
                )
                sorted_thresholds = padded[heavy].sort(dim=1).values
                totals[heavy] = _searchsorted_totals(self.scores, heavy, sorted_thresholds, self.n_pos[heavy])
            self._totals = totals
        return self._totals

    def items_ahead_of_first_relevant(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(row_ids, ahead)``: for each row with a relevant item, how many items rank above its best one."""
        if self._compiled:
            if self._ahead is None:
                self._count_compiled()
            row_ids = torch.nonzero(self.n_pos > 0).squeeze(1)
            return row_ids, self._ahead[row_ids]
        row_ids, best, first_entry = self._first_relevant()
        thresholds = best[row_ids, None]
        widths = torch.ones(len(row_ids), dtype=torch.int64, device=row_ids.device)
        above = _comparison_counts(self.scores, row_ids, thresholds, widths, ties=False, sign=False)[:, 0]
        # #above + #at-least of the best score: from entry_counts when AUC computed them anyway.
        if self._entry_counts is not None:
            both = self._entry_counts[first_entry]
            missing = torch.nonzero(torch.isnan(both)).squeeze(1)  # rows that used searchsorted
        else:
            both = torch.empty(len(row_ids), dtype=torch.float64, device=self.scores.device)
            missing = torch.arange(len(row_ids), device=self.scores.device)
        if len(missing):
            both[missing] = _comparison_counts(
                self.scores, row_ids[missing], thresholds[missing], widths[missing], ties=True, sign=self.sign
            )[:, 0]
        ahead = above
        tied = both - 2 * above  # items scoring exactly the best relevant score, itself included
        shared = torch.nonzero(tied > 1).squeeze(1)
        if len(shared):  # items tied with the best relevant one rank by index: count those before it
            rows = row_ids[shared]
            first_col = self.cols[first_entry[shared]]
            item_index = torch.arange(self.num_items, device=self.scores.device)
            same = (self.scores[rows] == best[rows, None]) & (item_index < first_col[:, None])
            ahead[shared] += same.sum(dim=1, dtype=torch.float64)
        return row_ids, ahead


# --------------------------------------------------------------------------- metrics from facts


def _mapk(facts: _BatchFacts, k: int) -> torch.Tensor:
    ranked = facts.ranked_relevance(k)
    ranks = torch.arange(1, ranked.shape[1] + 1, dtype=torch.float64, device=ranked.device)
    precision_at_i = ranked.cumsum(dim=1) / ranks
    n_relevant = facts.n_pos.to(torch.float64)
    return _safe_divide((precision_at_i * ranked).sum(dim=1), n_relevant.clamp(max=k))


def _mrr(facts: _BatchFacts, k: int) -> torch.Tensor:
    result = torch.zeros(facts.num_rows, dtype=torch.float64, device=facts.scores.device)
    row_ids, ahead = facts.items_ahead_of_first_relevant()
    result[row_ids] = 1.0 / (ahead + 1.0)
    return result


def _auc(facts: _BatchFacts, k: int) -> torch.Tensor:
    num_items = facts.num_items
    n_pos = facts.n_pos.to(torch.float64)
    if len(facts.rows) == 0:
        return torch.full((facts.num_rows,), 0.5, dtype=torch.float64, device=facts.scores.device)
    n_masked = facts.n_masked
    n_neg = num_items - n_masked - n_pos
    pairs = n_pos * n_neg
    # No sort of the catalogue. For each relevant score t_j, c_j = #items > t_j + #items >= t_j, so
    # I - c_j / 2 = #items below t_j + half #items tied with it. Summed over the row's relevant scores,
    # the masked items (below all of them) add n_masked * n_pos and the relevant items themselves
    # n_pos**2 / 2; what remains is the Mann-Whitney U over (relevant, non-relevant) pairs.
    total = facts.outrank_totals()
    u_statistic = num_items * n_pos - total / 2.0 - n_masked * n_pos - n_pos * n_pos / 2.0
    value = u_statistic / pairs.clamp(min=1.0)
    return torch.where(pairs > 0, value, torch.full_like(value, 0.5))


def _ndcg(facts: _BatchFacts, k: int) -> torch.Tensor:
    ranked = facts.ranked_relevance(k)
    discounts = _discounts(ranked.shape[1], ranked.device)
    dcg = (ranked * discounts).sum(dim=1)
    ideal_count = facts.n_pos.clamp(max=ranked.shape[1])
    ideal_cumulative = torch.cat([torch.zeros(1, dtype=torch.float64, device=ranked.device), discounts.cumsum(0)])
    return _safe_divide(dcg, ideal_cumulative[ideal_count])


def _precision(facts: _BatchFacts, k: int) -> torch.Tensor:
    return facts.ranked_relevance(k).sum(dim=1) / k


def _recall(facts: _BatchFacts, k: int) -> torch.Tensor:
    return _safe_divide(facts.ranked_relevance(k).sum(dim=1), facts.n_pos.to(torch.float64))


FACT_METRICS: dict[str, Callable[[_BatchFacts, int], torch.Tensor]] = {
    "mapk": _mapk,
    "mrr": _mrr,
    "auc": _auc,
    "ndcg": _ndcg,
    "precision": _precision,
    "recall": _recall,
}


def batch_metric(name: str, scores: torch.Tensor, targets: torch.Tensor, k: int = 10) -> torch.Tensor:
    """The engine's value of the built-in metric ``name`` for a dense batch, ``[B]`` float64.

    Same inputs and result as ``coursekit.metrics.<name>(scores, targets, k)``; tests compare the two.
    """
    k = check_int("k", k, minimum=1)
    return FACT_METRICS[name](_BatchFacts.from_dense(scores, targets), k)


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


def _built_in(
    metric: Metric, built_ins: dict[Any, str]
) -> tuple[Callable[[_BatchFacts, int], torch.Tensor], int] | None:
    """``(metric on _BatchFacts, k)`` for a built-in metric as bound by ``_bind_k``, else None.

    ``built_ins`` maps the public definitions (``coursekit.metrics.mapk``, ...) to engine names.
    """
    if isinstance(metric, functools.partial) and not metric.args and set(metric.keywords) == {"k"}:
        name = built_ins.get(metric.func)
        if name is not None:
            return FACT_METRICS[name], check_int("k", metric.keywords["k"], minimum=1)
    return None


def _canonical(mat: Any) -> sp.csr_matrix:
    """``mat`` as CSR with sorted column indices and no duplicate entries (a copy only when needed)."""
    mat = sp.csr_matrix(mat)
    if not mat.has_canonical_format:
        mat = mat.copy()
        mat.sum_duplicates()
    return mat


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


def _accepts_out(model: Any) -> bool:
    """Whether ``model.score_all_items`` takes an ``out=`` tensor to write the scores into."""
    try:
        return "out" in inspect.signature(model.score_all_items).parameters
    except (AttributeError, TypeError, ValueError):
        return False


def _model_device(model: Any) -> torch.device:
    try:
        return next(model.parameters()).device
    except (AttributeError, StopIteration, TypeError):
        return torch.device("cpu")


def evaluate(
    metric_list: Sequence[Metric],
    test_interactions: Any,
    model: Any,
    k: int = 10,
    batch_size: int = 1024,
    train_interactions: Any = None,
    logger: Any = None,
    progress: bool = True,
    built_ins: dict[Any, str] | None = None,
    per_user: bool = False,
) -> Any:
    """The loop behind :func:`coursekit.metrics.evaluate_in_batches` (documented there).

    ``built_ins`` maps the public metric definitions to names in ``FACT_METRICS``: those metrics
    share one ``_BatchFacts`` per batch; any other callable gets ``(scores, targets)``.
    With ``per_user``, returns ``(users, values)`` instead: the evaluated user ids ``[U]`` and the
    per-user values ``[len(metric_list), U]`` whose row means are the usual results.
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
    # Built-in metrics share one _BatchFacts per batch; any other metric gets (scores, targets).
    built_in = [_built_in(metric, built_ins or {}) for metric in metrics]
    # AUC first: MRR then reuses its per-relevant-item counts instead of another pass.
    fast = sorted((i for i, found in enumerate(built_in) if found), key=lambda i: built_in[i][0] is not _auc)
    generic = [i for i, found in enumerate(built_in) if not found]

    test_shape = _shape(test_interactions, "test_interactions")
    model_shape = _shape(model, "model")
    if test_shape != model_shape:
        raise ValueError(
            f"test_interactions has shape (num_users, num_items) = {test_shape} but the model has {model_shape}"
        )
    test_mat = _canonical(test_interactions.mat)
    train_mat = None
    if train_interactions is not None:
        train_shape = _shape(train_interactions, "train_interactions")
        if train_shape != test_shape:
            raise ValueError(
                f"train_interactions has shape (num_users, num_items) = {train_shape} but "
                f"test_interactions has {test_shape}"
            )
        train_mat = _canonical(train_interactions.mat)

    test_counts = np.diff(test_mat.indptr)
    users = np.flatnonzero(test_counts > 0)
    if len(users) == 0:
        raise ValueError("test_interactions has no interactions, so there is no user to evaluate")
    num_items = test_shape[1]
    # Users in order of their number of test items, so each batch's rows need about as many
    # comparison passes (see _comparison_counts); per-user values do not depend on the batch.
    order = np.argsort(test_counts[users], kind="stable")
    batches = [order[start : start + batch_size] for start in range(0, len(users), batch_size)]
    train_counts = np.diff(train_mat.indptr) if train_mat is not None else np.zeros(test_shape[0], dtype=np.int64)
    device = _model_device(model)

    # One value per (metric, user), summed in user order at the end: the result does not depend on batching.
    values_of = np.zeros((len(metrics), len(users)))
    # One [B, I] score buffer for every batch (200 MB for 1024 users x 50k items): a fresh tensor per
    # batch spent most of score_all_items in page faults. Models whose score_all_items takes out=
    # write into it; the others' scores are copied in, so a cached tensor is never modified in place.
    buffer: torch.Tensor | None = None
    writes_into = _accepts_out(model)
    with torch.no_grad():
        for positions in tqdm(batches, desc="evaluating", disable=not progress or len(batches) < 3, leave=False):
            batch_users = users[positions]
            user_ids = torch.as_tensor(batch_users, dtype=torch.int64, device=device)
            out = buffer[: len(batch_users)] if writes_into and buffer is not None else None
            scores = model.score_all_items(user_ids) if out is None else model.score_all_items(user_ids, out=out)
            if tuple(scores.shape) != (len(batch_users), num_items):
                raise ValueError(
                    f"model.score_all_items returned shape {tuple(scores.shape)}, "
                    f"expected {(len(batch_users), num_items)}"
                )
            if out is None or scores is not out:
                dtype = scores.dtype if torch.is_floating_point(scores) else torch.float32
                if buffer is None or (buffer.dtype, buffer.device) != (dtype, scores.device):
                    buffer = torch.empty(min(batch_size, len(users)), num_items, dtype=dtype, device=scores.device)
                scores = buffer[: len(batch_users)].copy_(scores)
            # A finite sum means no NaN and no infinity anywhere: then the only -inf are the masked
            # training items, counted from the CSR instead of a pass over the scores.
            finite = bool(torch.isfinite(scores.sum()))
            if train_mat is not None:
                scores[_batch_coordinates(train_mat, batch_users, scores.device)] = float("-inf")
            rows, cols = _batch_coordinates(test_mat, batch_users, scores.device)
            if fast:
                if not finite:
                    _check_no_nan(scores)
                unmasked = ~torch.isneginf(scores[rows, cols])
                n_masked = torch.as_tensor(train_counts[batch_users], dtype=torch.float64, device=scores.device)
                facts = _BatchFacts(scores, rows[unmasked], cols[unmasked], n_masked=n_masked if finite else None)
                for index in fast:
                    metric, metric_k = built_in[index]
                    values_of[index, positions] = metric(facts, metric_k).cpu().numpy()
            if generic:
                targets = torch.zeros(scores.shape, dtype=torch.bool, device=scores.device)
                targets[rows, cols] = True
                for index in generic:
                    values = torch.as_tensor(metrics[index](scores, targets)).to(torch.float64).cpu()
                    if values.shape == (len(batch_users),):
                        values_of[index, positions] = values.numpy()
                    elif per_user:
                        raise ValueError(
                            f"per-user values need one value per user from every metric, but "
                            f"{_metric_name(metric_list[index])} returned shape {tuple(values.shape)} for "
                            f"{len(batch_users)} users"
                        )
                    else:  # not one value per user: only its sum counts, as before
                        values_of[index, positions[0]] += float(values.sum())

    if per_user:
        return users, values_of
    # Each metric's row summed on its own (a contiguous 1-D sum): the mean of the per-user values
    # that evaluate(per_user=True) returns is then exactly this number.
    results = [float(row.sum()) / len(users) for row in values_of]
    if logger is not None:
        logger.log_metrics({_metric_name(metric): value for metric, value in zip(metric_list, results)})
    return results
