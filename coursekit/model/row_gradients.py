"""The score ``p_u . q_i + b_u + b_i`` with a hand-written backward that gives row-sparse gradients.

With ``sparse=True`` each table's gradient should hold only the rows a batch read. Autograd
through ``nn.Embedding(sparse=True)`` gets there in many small steps: one sparse gradient per
lookup, with a row repeated as often as it was read, that every optimizer step then sorts and
sums (``coalesce``). The chain rule of a dot product is short enough to write out instead:

* ``dL/dp_u = sum_i g_ui q_i`` and ``dL/dq_i = sum_u g_ui p_u`` (``g = dL/dscore``),
* ``dL/db_u = sum_i g_ui`` and ``dL/db_i = sum_u g_ui``,

summed once per distinct row and handed back as coalesced sparse tensors. Any loss works: autograd
still differentiates the loss with respect to the scores; only the step from the scores to the
tables is written here. ``tests/test_row_gradients.py`` checks it against autograd.

On CPU the sums run in a fixed order, so runs repeat bit for bit; on CUDA ``index_add_`` adds a
row's contributions with atomics, in no fixed order, so two runs can differ in the last bits.
"""

from __future__ import annotations

from typing import Any

import torch


class RowSparseScores(torch.autograd.Function):
    """``scores = (Q[items] * P[users]).sum(-1) + bu[users] + bi[items]`` (ids broadcast together).

    ``backward`` returns each table's gradient as a coalesced sparse ``[rows, width]`` tensor holding
    the distinct rows read. Use it through :meth:`MatrixFactorization.forward` with ``sparse=True``.
    """

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any,
        users: torch.Tensor,
        items: torch.Tensor,
        user_vectors: torch.Tensor,
        item_vectors: torch.Tensor,
        user_biases: torch.Tensor,
        item_biases: torch.Tensor,
    ) -> torch.Tensor:
        p, q = gather_rows(user_vectors, users), gather_rows(item_vectors, items)  # ids.shape + [d]
        scores = (
            (q * p).sum(-1) + gather_rows(user_biases, users).squeeze(-1) + gather_rows(item_biases, items).squeeze(-1)
        )
        ctx.save_for_backward(users, items, p, q)
        ctx.num_rows = (len(user_vectors), len(item_vectors))
        return scores

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[Any, ...]:  # type: ignore[override]
        users, items, p, q = ctx.saved_tensors
        num_users, num_items = ctx.num_rows
        g = grad.unsqueeze(-1)
        # Each gradient summed back to its ids' shape (undoing the broadcast), then per distinct row.
        user_rows, user_inverse = torch.unique(users, return_inverse=True)
        item_rows, item_inverse = torch.unique(items, return_inverse=True)
        return (
            None,
            None,
            _rows(user_rows, user_inverse, (g * q).sum_to_size(p.shape), num_users),
            _rows(item_rows, item_inverse, (g * p).sum_to_size(q.shape), num_items),
            _rows(user_rows, user_inverse, g.sum_to_size(*users.shape, 1), num_users),
            _rows(item_rows, item_inverse, g.sum_to_size(*items.shape, 1), num_items),
        )


def gather_rows(table: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """``table[ids]``, shape ``ids.shape + [width]``: ``index_select`` is several times faster than indexing on CPU."""
    return table.index_select(0, ids.reshape(-1)).view(*ids.shape, table.shape[1])


def _rows(rows: torch.Tensor, inverse: torch.Tensor, values: torch.Tensor, num_rows: int) -> torch.Tensor:
    """``values [ids..., width]`` summed per distinct id (``rows[inverse] == ids``), as a sparse table gradient."""
    width = values.shape[-1]
    summed = values.new_zeros(len(rows), width).index_add_(0, inverse.reshape(-1), values.reshape(-1, width))
    return torch.sparse_coo_tensor(
        rows.unsqueeze(0), summed, (num_rows, width), is_coalesced=True, check_invariants=False
    )
