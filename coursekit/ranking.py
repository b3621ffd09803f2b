"""Ranking helpers every part of the library shares: item popularity, and top-k with one tie rule.

* :func:`item_popularity` counts each item's training interactions (what ``PopularityModel``
  scores by, and what the lessons call popularity).
* :func:`top_k_items` returns each row's ``k`` best items with **one tie rule**: equal scores rank
  by item index, the lower index first (as a stable descending sort would). The metrics engine,
  ``recommend`` and ``get_item_predictions`` all rank with it.
* :func:`top_k_unseen` does the same leaving out each user's training items.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

from coursekit._checks import check_int

__all__ = ["item_popularity", "top_k_items", "top_k_unseen"]


def item_popularity(data: Any) -> np.ndarray:
    """Number of training interactions of each item, ``[num_items]`` int64.

    Parameters
    ----------
    data
        ``Interactions``, a coursekit loader over one, or a scipy sparse ``users x items`` matrix.
    """
    mat = data if sp.issparse(data) else getattr(getattr(data, "interactions", data), "mat", None)
    if mat is None or not sp.issparse(mat):
        raise TypeError(
            f"data must be in-memory Interactions, a loader over them, or a sparse matrix; got {type(data).__name__}"
        )
    mat = sp.csr_matrix(mat)
    return np.bincount(mat.indices, minlength=mat.shape[1]).astype(np.int64)


def top_k_unseen(
    scores: torch.Tensor, k: int, seen: sp.csr_matrix | None = None, users: Any = None
) -> list[np.ndarray]:
    """For each row, the ``k`` best items the user has not seen, best first (ties: lower index first).

    Parameters
    ----------
    scores : Tensor ``[B, I]``
        One row per user in ``users``.
    k : int
        How many items per row (fewer when a user has fewer unseen items).
    seen : scipy CSR ``num_users x I``, optional
        Training interactions; ``None`` leaves nothing out.
    users : sequence of int, optional
        The user of each row (default ``0..B-1``).

    Returns
    -------
    list of numpy int64 arrays, one per row
    """
    k = check_int("k", k, minimum=1)
    scores = scores.detach().to(torch.float64 if scores.dtype == torch.float64 else torch.float32).clone()
    rows = np.arange(scores.shape[0]) if users is None else np.asarray(users, dtype=np.int64).reshape(-1)
    available = np.full(len(rows), scores.shape[1], dtype=np.int64)
    if seen is not None:
        sub = sp.csr_matrix(seen)[rows]
        sub.sum_duplicates()
        batch_rows = np.repeat(np.arange(len(rows)), np.diff(sub.indptr))
        scores[torch.as_tensor(batch_rows), torch.as_tensor(sub.indices, dtype=torch.int64)] = float("-inf")
        available -= np.diff(sub.indptr)
    # Seen items now score -inf and rank last; each row keeps only as many items as it has unseen.
    top = top_k_items(scores, k).cpu().numpy()
    return [top[row, : min(k, count)] for row, count in enumerate(available)]


def _top_values(scores: torch.Tensor, count: int, block: int = 250) -> tuple[torch.Tensor, torch.Tensor]:
    """``torch.topk(scores, count, dim=1)``'s values, and indices of items with those values.

    With many items, in two cheaper steps: the best ``count`` items lie in the ``count`` blocks of
    ``block`` columns with the highest maxima (with ties, in some such blocks: the values are the same,
    the indices among tied items may differ), so only those blocks are searched.
    """
    num_rows, num_items = scores.shape
    num_blocks = num_items // block
    if num_blocks < 4 * count:
        return torch.topk(scores, count, dim=1)
    blocks = scores[:, : num_blocks * block].view(num_rows, num_blocks, block)
    best_blocks = torch.topk(blocks.amax(dim=2), count, dim=1).indices
    candidates = blocks.gather(1, best_blocks[:, :, None].expand(-1, -1, block)).view(num_rows, count * block)
    columns = (best_blocks[:, :, None] * block + torch.arange(block, device=scores.device)).view(num_rows, -1)
    if num_blocks * block < num_items:  # the last, partial block is always searched
        candidates = torch.cat([candidates, scores[:, num_blocks * block :]], dim=1)
        tail = torch.arange(num_blocks * block, num_items, device=scores.device)
        columns = torch.cat([columns, tail.expand(num_rows, -1)], dim=1)
    values, picked = torch.topk(candidates, count, dim=1)
    return values, columns.gather(1, picked)


def top_k_items(scores: torch.Tensor, k: int) -> torch.Tensor:
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
    # (score desc, index asc). Full-catalogue passes below cost ~10x more on 50k items, so only
    # the rows where a tie straddles the cut-off take them.
    values, indices = _top_values(scores, k + 1)
    indices, order = indices[:, :k].sort(dim=1)
    top = indices.gather(1, torch.sort(values[:, :k].gather(1, order), dim=1, descending=True, stable=True).indices)
    straddling = torch.nonzero(values[:, k - 1] == values[:, k]).squeeze(1)
    if len(straddling):
        top[straddling] = _top_k_with_ties(scores[straddling], values[straddling, k - 1 : k], k)
    return top


def _top_k_with_ties(scores: torch.Tensor, kth_value: torch.Tensor, k: int) -> torch.Tensor:
    """``top_k_items`` for rows whose ``k``-th best value ``kth_value`` ``[B, 1]`` is tied with the next one."""
    above = scores > kth_value
    tied = scores == kth_value
    places_left = k - above.sum(dim=1, keepdim=True)
    selected = above | (tied & (tied.cumsum(dim=1) <= places_left))  # the lowest-indexed tied items
    # Exactly k per row; nonzero walks rows in order and items in ascending index.
    items = selected.nonzero()[:, 1].view(len(scores), k)
    order = torch.sort(scores.gather(1, items), dim=1, descending=True, stable=True).indices
    return items.gather(1, order)
