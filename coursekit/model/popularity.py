"""The baseline every recommender must beat: recommend what most people interacted with."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from coursekit.model.base import RecommenderMixin, model_sizes
from coursekit.ranking import item_popularity


class PopularityModel(RecommenderMixin, nn.Module):
    """Scores each item by its number of training interactions, the same for every user.

    Parameters
    ----------
    train
        ``Interactions`` or a coursekit loader; counting happens here, so there is nothing to train.
    num_users, num_items
        Size of an empty model built without ``train`` (as ``load_model`` does).
    """

    def __init__(self, train: Any = None, *, num_users: int | None = None, num_items: int | None = None) -> None:
        super().__init__()
        self._seen, self.num_users, self.num_items = model_sizes("PopularityModel", train, num_users, num_items)
        counts = np.zeros(self.num_items) if self._seen is None else item_popularity(self._seen)
        self.register_buffer("popularity", torch.as_tensor(counts, dtype=torch.float32))

    def fit(self, *args: Any, **kwargs: Any) -> "PopularityModel":
        """Nothing to learn: the counts were taken at construction. Returns ``self``."""
        return self

    def forward(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """Popularity of ``items`` (broadcast with ``users``, whose values do not matter)."""
        users, items = self._check_pairs(users, items)
        return self.popularity[items]

    @torch.no_grad()
    def score_all_items(self, user_ids: torch.Tensor) -> torch.Tensor:
        """``[B, num_items]``: every row is the item popularity."""
        users = self._check_user_tensor(user_ids)
        return self.popularity.expand(len(users), -1).clone()

    def _config(self) -> dict[str, Any]:
        return {"num_users": self.num_users, "num_items": self.num_items}

    @classmethod
    def _state_shapes(cls, config: dict[str, Any]) -> dict[str, tuple[int, ...]]:
        return {"popularity": (config["num_items"],)}

    def __repr__(self) -> str:
        return f"PopularityModel({self.num_users} users, {self.num_items} items)"
