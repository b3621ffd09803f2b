"""Cold start: splits that hold out whole items or users, and evaluation on the held-out ones only.

An ordinary split (:mod:`coursekit.cross_validation`) holds out some interactions of every user:
every test item was seen in training. A *cold-start* split holds out whole items (all their
interactions), or whole users, so the model meets them first at test time:

* :func:`cold_item_split`: ``round(test_p * n)`` of the ``n`` items that have interactions go to test
  with every interaction they have; the other items' interactions are the training data.
* :func:`cold_user_split`: the same with users.

Both keep the input's ``num_users`` and ``num_items`` (a model trained on ``train`` can score the
held-out ids) and return ``(train, test, held_out_ids)``.

Evaluating cold items honestly means ranking *only* the cold items: in the full catalogue a model
would mostly be judged on pushing the warm items down. :func:`evaluate_on_items` ranks a
sub-catalogue, its columns in a seeded random order, so a model that scores every cold item the
same (popularity: none of them has a training interaction) gets a random ranking, not the order of
the item ids.

>>> import numpy as np
>>> from coursekit.interactions import Interactions
>>> data = Interactions([0, 0, 1, 1, 2, 2, 3, 3], [0, 1, 1, 2, 2, 3, 3, 0], num_negative_samples=1)
>>> train, test, cold = cold_item_split(data, test_p=0.25, seed=0)
>>> (train.num_users, train.num_items) == (test.num_users, test.num_items) == (4, 4), len(cold)
(True, 1)
>>> set(test.items) == set(cold.tolist()) and not set(train.items) & set(cold.tolist())
True
"""

from __future__ import annotations

from typing import Any, NamedTuple, Sequence

import numpy as np
import scipy.sparse as sp
import torch

from coursekit._checks import check_fraction, check_int, default_seed
from coursekit.interactions import Interactions


class ColdStartSplit(NamedTuple):
    """``(train, test, held_out)``: ``held_out`` are the sorted ids of the cold items (or users)."""

    train: Interactions
    test: Interactions
    held_out: np.ndarray


def cold_item_split(interactions: Interactions, test_p: float = 0.1, seed: int | None = None) -> ColdStartSplit:
    """Hold out ``round(test_p * n)`` whole items (at least 1) of the ``n`` that have interactions.

    Every interaction of a held-out item is in ``test``, every other one in ``train``. A user whose
    items were all held out has no training data (a cold user too); count them with
    ``np.diff(train.mat.indptr) == 0`` if it matters.
    """
    return _hold_out(interactions, test_p, seed, by_items=True)


def cold_user_split(interactions: Interactions, test_p: float = 0.1, seed: int | None = None) -> ColdStartSplit:
    """Hold out ``round(test_p * n)`` whole users (at least 1) of the ``n`` that have interactions."""
    return _hold_out(interactions, test_p, seed, by_items=False)


def _hold_out(interactions: Interactions, test_p: float, seed: int | None, by_items: bool) -> ColdStartSplit:
    if not isinstance(interactions, Interactions):
        raise TypeError(f"interactions must be coursekit Interactions, got {type(interactions).__name__}")
    test_p = check_fraction("test_p", test_p)
    what = "items" if by_items else "users"
    ids = interactions.items if by_items else interactions.users
    present = np.unique(ids)  # only ids with interactions can be held out meaningfully
    count = max(1, round(test_p * len(present)))
    if count >= len(present):
        raise ValueError(
            f"test_p={test_p} holds out {count} of the {len(present)} {what} with interactions, leaving none to "
            "train on; use a smaller test_p"
        )
    rng = np.random.default_rng(default_seed(seed))
    held_out = np.sort(rng.choice(present, size=count, replace=False))
    in_test = np.isin(ids, held_out)
    train, test = (_part(interactions, keep) for keep in (~in_test, in_test))
    return ColdStartSplit(train, test, held_out)


def _part(interactions: Interactions, keep: np.ndarray) -> Interactions:
    return Interactions(
        users=interactions.users[keep],
        items=interactions.items[keep],
        ratings=interactions.mat.data[keep],
        timestamps=None if interactions.timestamps is None else interactions.timestamps[keep],
        num_users=interactions.num_users,
        num_items=interactions.num_items,
        num_negative_samples=interactions.num_negative_samples,
        allow_missing_ids=True,
        remove_duplicate_user_item_pairs=False,
    )


class SubCatalogue:
    """``model`` scoring only ``items``: column ``j`` of ``score_all_items`` is item ``items[j]``.

    What :func:`coursekit.metrics.evaluate_in_batches` needs (``num_users``, ``num_items``,
    ``score_all_items``), so any metric can rank a part of the catalogue.
    """

    def __init__(self, model: Any, items: Any) -> None:
        self.model = model
        self.items = _check_items(items, model.num_items)
        self.num_users = model.num_users
        self.num_items = len(self.items)

    def score_all_items(self, user_ids: torch.Tensor) -> torch.Tensor:
        """Scores ``[B, len(items)]`` of the sub-catalogue's items."""
        scores = self.model.score_all_items(user_ids)
        return scores[:, torch.as_tensor(self.items, device=scores.device)]

    def parameters(self) -> Any:  # the evaluation engine reads the model's device from here
        return self.model.parameters() if hasattr(self.model, "parameters") else iter(())


def restrict_to_items(interactions: Any, items: Any) -> sp.csr_matrix:
    """The ``[num_users, len(items)]`` part of ``interactions.mat`` holding ``items``' columns, in that order."""
    items = _check_items(items, interactions.num_items)
    return sp.csr_matrix(interactions.mat)[:, items]


class _Targets(NamedTuple):
    """The held-out interactions as the evaluation engine reads them."""

    mat: sp.csr_matrix
    num_users: int
    num_items: int


def evaluate_on_items(
    metric_list: Sequence[Any],
    test_interactions: Any,
    model: Any,
    items: Any,
    k: int = 10,
    seed: int = 0,
    batch_size: int = 1024,
    train_interactions: Any = None,
) -> list[float]:
    """Evaluate ``model`` ranking only ``items`` (e.g. the cold items of :func:`cold_item_split`).

    ``test_interactions`` outside ``items`` are ignored; users without a test interaction among
    ``items`` are skipped (as in :func:`coursekit.metrics.evaluate_in_batches`, which this calls).
    Ties break by position, so the sub-catalogue is put in an order drawn from ``seed``: a model
    scoring every item the same then ranks them at random, the same random order for every model.
    ``train_interactions``: mask each user's training items among ``items`` (for warm items).

    Returns
    -------
    list of float
        One value per metric, in ``metric_list`` order.
    """
    from coursekit.metrics import evaluate_in_batches

    items = _check_items(items, model.num_items)
    if (test_interactions.num_users, test_interactions.num_items) != (model.num_users, model.num_items):
        raise ValueError(
            f"test_interactions has {test_interactions.num_users} users x {test_interactions.num_items} items but "
            f"the model {model.num_users} x {model.num_items}"
        )
    order = np.random.default_rng(default_seed(seed)).permutation(items)
    targets = _Targets(restrict_to_items(test_interactions, order), test_interactions.num_users, len(order))
    seen = None
    if train_interactions is not None:
        seen = _Targets(restrict_to_items(train_interactions, order), train_interactions.num_users, len(order))
    return evaluate_in_batches(
        metric_list,
        targets,
        SubCatalogue(model, order),
        k=k,
        batch_size=batch_size,
        train_interactions=seen,
        progress=False,
    )


def _check_items(items: Any, num_items: int) -> np.ndarray:
    array = np.asarray(items)
    if array.ndim != 1 or len(array) < 2:
        raise ValueError(f"items must be a 1-D sequence of at least 2 item ids, got shape {array.shape}")
    if not np.issubdtype(array.dtype, np.integer):
        raise TypeError(f"items must hold integer ids, got dtype {array.dtype}")
    bad = (array < 0) | (array >= num_items)
    if bad.any():
        raise ValueError(f"items contains {int(array[bad][0])}, outside the valid range 0..{num_items - 1}")
    if len(np.unique(array)) != len(array):
        raise ValueError("items must be distinct")
    check_int("num_items", num_items, minimum=1)
    return array.astype(np.int64)
