"""The floor under every baseline: random scores (a seeded table, so rankings repeat)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from coursekit._checks import default_seed
from coursekit.model.base import RecommenderMixin, model_sizes


class RandomModel(RecommenderMixin, nn.Module):
    """Scores every (user, item) pair with a uniform random number drawn once from ``seed``.

    Parameters
    ----------
    train
        ``Interactions`` or a loader: only its sizes and seen items are used (nothing is learned).
    seed
        Seeds the score table (default: one draw from torch's global RNG).
    num_users, num_items
        Size of a model built without ``train`` (as ``load_model`` does).
    """

    def __init__(
        self, train: Any = None, seed: int | None = None, *, num_users: int | None = None, num_items: int | None = None
    ) -> None:
        super().__init__()
        sizes = model_sizes("RandomModel", train, num_users, num_items, in_memory=False)
        self._seen, self.num_users, self.num_items = sizes
        self.seed = default_seed(seed)
        generator = torch.Generator().manual_seed(self.seed)
        # A stored table (not a fresh draw per call): a user's scores must not depend on the batch.
        self.register_buffer("scores", torch.rand(self.num_users, self.num_items, generator=generator))

    def fit(self, *args: Any, **kwargs: Any) -> "RandomModel":
        """Nothing to learn. Returns ``self``."""
        return self

    def forward(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """Scores of ``users`` and ``items`` broadcast together."""
        users, items = self._check_pairs(users, items)
        return self.scores[users, items]

    @torch.no_grad()
    def score_all_items(self, user_ids: torch.Tensor) -> torch.Tensor:
        """``[B, num_items]`` random scores, the same for a user in every call."""
        return self.scores[self._check_user_tensor(user_ids)].clone()

    def _config(self) -> dict[str, Any]:
        return {"seed": self.seed, "num_users": self.num_users, "num_items": self.num_items}

    @classmethod
    def _state_shapes(cls, config: dict[str, Any]) -> dict[str, tuple[int, ...]]:
        return {"scores": (config["num_users"], config["num_items"])}

    def __repr__(self) -> str:
        return f"RandomModel({self.num_users} users, {self.num_items} items, seed={self.seed})"
