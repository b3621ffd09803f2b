"""Matrix factorization that can score items (and users) it never saw: vectors from metadata.

A plain MF item is a free vector ``q_i``, learned from the item's interactions; an item without any
keeps its random start. Here an item's vector is its free vector plus a projection of its metadata::

    q'_i = known_i * q_i + x_i @ W        b'_i = known_i * b_i + x_i @ w

with ``x_i`` the item's metadata row (e.g. 19 genre flags), ``W [F, d]`` and ``w [F, 1]`` learned
from the warm items, and ``known_i`` 1 for items with training interactions, 0 for the others. A
cold item (no training interactions) is then *exactly* its metadata's projection; the same for
users from demographics (``p'_u = known_u * p_u + z_u @ V``).

Training has two stages (Collie's cold-start model trains "buckets" first, then items):
``model.stage = "metadata"`` trains only the projections (and the other side's free vectors), so
``W`` has to explain the data alone; ``model.stage = "all"`` then trains every parameter, the free
vectors learning what metadata cannot say. Each stage is one ``trainer.fit(model)``.

Negatives that are *unknown* items (no training interaction: the held-out ones) are left out of
the loss while training: otherwise every held-out item would be a negative again and again and
never a positive, and the model would learn from the split itself that they are unpopular.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from coursekit.metadata import Metadata, check_metadata
from coursekit.model.factorization import INIT_STD, MatrixFactorization, _lookup
from coursekit.model.matrix_factorization import MatrixFactorizationModel

#: Training stages: ``"metadata"`` (projections only, Collie's bucket stage) and ``"all"``.
STAGES = ("metadata", "all")
# Score of a left-out negative while training: far below any real score, finite (no inf - inf).
_LEFT_OUT_SCORE = -1e4


class MetadataFactorization(MatrixFactorization):
    """:class:`MatrixFactorization` whose vectors and biases add a linear projection of metadata.

    Parameters
    ----------
    num_users, num_items, embedding_dim, dropout_p, sparse, seed
        As in :class:`MatrixFactorization` (same seed: same free vectors). The free item vectors
        start at 0 when there is item metadata (an item starts as its metadata), the free user
        vectors at 0 when there is user metadata.
    item_features, user_features
        Number of metadata columns per item / user (0: no metadata on that side).

    Attributes
    ----------
    item_metadata, user_metadata : buffers
        ``[num_items, F]`` / ``[num_users, G]`` (``[n, 0]`` without metadata).
    item_known, user_known : buffers
        ``[n, 1]``: 1 where the row had training interactions (its free vector is used), else 0.
    item_projection, user_projection : nn.Parameter
        ``W [F, d]`` and ``V [G, d]``, drawn from ``N(0, 0.01**2)``.
    item_bias_projection, user_bias_projection : nn.Parameter
        ``w [F, 1]`` and ``v [G, 1]``, starting at 0.
    """

    def __init__(
        self,
        num_users: int,
        num_items: int,
        embedding_dim: int = 30,
        dropout_p: float = 0.0,
        sparse: bool = False,
        seed: int | None = None,
        item_features: int = 0,
        user_features: int = 0,
    ) -> None:
        super().__init__(num_users, num_items, embedding_dim, dropout_p=dropout_p, sparse=sparse, seed=seed)
        generator = torch.Generator().manual_seed(int(seed or 0) + 7)  # after (not instead of) the MF draws
        for side, rows, features in (("item", num_items, item_features), ("user", num_users, user_features)):
            self.register_buffer(f"{side}_metadata", torch.zeros(rows, features))
            self.register_buffer(f"{side}_known", torch.ones(rows, 1))
            projection = torch.empty(features, embedding_dim).normal_(0.0, INIT_STD, generator=generator)
            setattr(self, f"{side}_projection", nn.Parameter(projection))
            setattr(self, f"{side}_bias_projection", nn.Parameter(torch.zeros(features, 1)))
            if features:
                with torch.no_grad():
                    getattr(self, f"{side}_embeddings").weight.zero_()

    def _vectors(self, side: str, ids: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """Vectors ``ids.shape + [d]`` and biases ``ids.shape`` of ``ids`` (``None``: every row)."""
        table, biases = getattr(self, f"{side}_embeddings"), getattr(self, f"{side}_biases")
        known, metadata = getattr(self, f"{side}_known"), getattr(self, f"{side}_metadata")
        if ids is None:
            vectors, bias, known, metadata = table.weight, biases.weight, known, metadata
        else:
            vectors, bias, known, metadata = _lookup(table, ids), _lookup(biases, ids), known[ids], metadata[ids]
        vectors, bias = vectors * known, bias * known
        if metadata.shape[-1]:
            vectors = vectors + metadata @ getattr(self, f"{side}_projection")
            bias = bias + metadata @ getattr(self, f"{side}_bias_projection")
        return vectors, bias.squeeze(-1)

    def forward(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """Scores of ``users`` and ``items`` broadcast together (as :meth:`MatrixFactorization.forward`)."""
        user_vectors, user_bias = self._vectors("user", users)
        item_vectors, item_bias = self._vectors("item", items)
        dots = (self.dropout(item_vectors) * self.dropout(user_vectors)).sum(-1)
        return dots + user_bias + item_bias

    def rows_used(self, users: torch.Tensor, items: torch.Tensor) -> dict[torch.Tensor, torch.Tensor]:
        """``{table weight: row ids}`` (the projections are dense: row-sparse optimizers update them whole)."""
        return super().rows_used(users, items)

    @torch.no_grad()
    def score_all_items(self, users: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
        """Scores ``[B, num_items]`` of every item for users ``[B]`` (no dropout, no gradients)."""
        user_vectors, user_bias = self._vectors("user", users)
        item_vectors, item_bias = self._vectors("item", None)
        scores = torch.addmm(item_bias[None, :], user_vectors, item_vectors.T, out=out)
        return scores.add_(user_bias[:, None])


class ColdStartModel(MatrixFactorizationModel):
    """:class:`MatrixFactorizationModel` whose items (and/or users) also get vectors from metadata.

    Parameters
    ----------
    train, val
        As in :class:`MatrixFactorizationModel`. Items (users) without a training interaction are
        *unknown*: their vectors come from their metadata alone.
    item_metadata, user_metadata
        ``[num_items, F]`` / ``[num_users, G]`` matrices (numpy, torch, DataFrame or
        :class:`coursekit.metadata.Metadata`), one row per index; at least one of the two. Checked by
        :func:`coursekit.metadata.check_metadata`; an unknown item (user) whose row is all zeros has
        nothing to be scored from and raises ``ValueError``.
    stage
        ``"metadata"`` (default: train the metadata projections, Collie's first stage) or ``"all"``.
        Change it between fits: ``model.stage = "all"; trainer.fit(model)``.
    item_features, user_features
        Metadata widths of an untrained model built without metadata (as ``load_model`` does).
    **kwargs
        Every other :class:`MatrixFactorizationModel` setting (``embedding_dim``, ``lr``, ``seed``, ...).
    """

    def __init__(
        self,
        train: Any = None,
        val: Any = None,
        item_metadata: Any = None,
        user_metadata: Any = None,
        stage: str = "metadata",
        *,
        item_features: int | None = None,
        user_features: int | None = None,
        **kwargs: Any,
    ) -> None:
        # Lightning's save_hyperparameters compares this frame's arguments with ==, which an array
        # cannot answer: keep the matrices under another name while the parent runs.
        given = {"item": item_metadata, "user": user_metadata}
        item_metadata = user_metadata = None
        super().__init__(train, val, **kwargs)
        if torch.optim.SparseAdam in self._optimizer_classes:
            # The metadata projections are dense matrices: SparseAdam fails on them at the first step.
            raise ValueError(
                "ColdStartModel's metadata projections have dense gradients, which 'sparse_adam' cannot "
                "train; use optimizer='sgd' or 'adagrad' with sparse=True, or 'adam' / 'lazy_adam' without"
            )
        metadata = {
            "item": _as_matrix("item_metadata", given["item"], self.num_items, item_features),
            "user": _as_matrix("user_metadata", given["user"], self.num_users, user_features),
        }
        if metadata["item"].shape[1] == metadata["user"].shape[1] == 0:
            raise ValueError(
                "ColdStartModel needs item_metadata or user_metadata (without either it is a MatrixFactorizationModel)"
            )
        hp = self.hparams
        self.factorization = MetadataFactorization(
            self.num_users,
            self.num_items,
            hp.embedding_dim,
            dropout_p=hp.dropout_p,
            sparse=hp.sparse,
            seed=hp.seed,
            item_features=metadata["item"].shape[1],
            user_features=metadata["user"].shape[1],
        )
        with torch.no_grad():
            for side, values in metadata.items():
                getattr(self.factorization, f"{side}_metadata").copy_(torch.from_numpy(values))
        if self._seen is not None:
            # Unknown = no training interaction: their free vectors never learn, so they are not used.
            known = {"item": np.diff(self._seen.tocsc().indptr) > 0, "user": np.diff(self._seen.indptr) > 0}
            for side, rows in known.items():
                getattr(self.factorization, f"{side}_known").copy_(torch.from_numpy(rows[:, None].astype(np.float32)))
                _check_unknown_rows_described(side, rows, metadata[side])
        self._stage = "all"
        self.stage = stage

    # -- stages --------------------------------------------------------------------------------

    @property
    def stage(self) -> str:
        """``"metadata"``: only the metadata projections (and the other side's free parameters) train; ``"all"``: all."""
        return self._stage

    @stage.setter
    def stage(self, value: str) -> None:
        if value not in STAGES:
            raise ValueError(f"stage must be one of {STAGES}, got {value!r}")
        self._stage = value
        f = self.factorization
        for side in ("item", "user"):
            # A side with metadata keeps its free vectors and biases fixed in the metadata stage.
            frozen = value == "metadata" and getattr(f, f"{side}_metadata").shape[1] > 0
            # A frozen parameter never gets a gradient, so every optimizer (Adam, SGD, the row-sparse
            # ones) skips it, weight decay included: the optimizers need no change.
            for parameter in (getattr(f, f"{side}_embeddings").weight, getattr(f, f"{side}_biases").weight):
                parameter.requires_grad_(not frozen)
                parameter.grad = None

    # -- training: unknown items are never negatives ---------------------------------------------

    def _pair_scores(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        scores = super()._pair_scores(users, items)
        if self.training:
            # Training positives are known items by definition, so only negatives are left out.
            unknown = self.factorization.item_known[items].squeeze(-1) == 0
            scores = scores.masked_fill(unknown, _LEFT_OUT_SCORE)
        return scores

    # -- vectors -------------------------------------------------------------------------------

    def _item_vectors(self) -> torch.Tensor:
        return self.factorization._vectors("item", None)[0].detach()

    def _user_vectors(self) -> torch.Tensor:
        return self.factorization._vectors("user", None)[0].detach()

    def item_vectors(self) -> torch.Tensor:
        """Every item's vector ``q'_i`` ``[num_items, d]`` (free part for known items + metadata part)."""
        return self._item_vectors().clone()

    def metadata_item_vectors(self) -> torch.Tensor:
        """The metadata part ``x_i @ W`` of every item's vector ``[num_items, d]`` (what a cold item gets)."""
        f = self.factorization
        if f.item_metadata.shape[1] == 0:
            raise ValueError("this model has no item metadata")
        return (f.item_metadata @ f.item_projection).detach().clone()

    @torch.no_grad()
    def score_new_items(self, user_ids: Any, item_metadata: Any) -> torch.Tensor:
        """Scores ``[B, M]`` of items outside the catalogue, described only by metadata rows ``[M, F]``."""
        f = self.factorization
        if f.item_metadata.shape[1] == 0:
            raise ValueError("this model has no item metadata to score new items from")
        rows = check_metadata("item_metadata", item_metadata)
        if rows.shape[1] != f.item_metadata.shape[1]:
            raise ValueError(f"item_metadata has {rows.shape[1]} columns, the model {f.item_metadata.shape[1]}")
        _check_unknown_rows_described("item", np.zeros(len(rows), dtype=bool), rows)
        users = self._check_user_tensor(user_ids).to(self.device)
        x = torch.from_numpy(rows).to(self.device)
        user_vectors, user_bias = f._vectors("user", users)
        return user_vectors @ (x @ f.item_projection).T + (x @ f.item_bias_projection).T + user_bias[:, None]

    # -- persistence ---------------------------------------------------------------------------

    def _config(self) -> dict[str, Any]:
        f = self.factorization
        return {
            **super()._config(),
            "stage": self.stage,
            "item_features": int(f.item_metadata.shape[1]),
            "user_features": int(f.user_metadata.shape[1]),
        }

    @classmethod
    def _state_shapes(cls, config: dict[str, Any]) -> dict[str, tuple[int, ...]]:
        shapes = super()._state_shapes(config)
        for side, rows in (("item", config["num_items"]), ("user", config["num_users"])):
            features = config[f"{side}_features"]
            shapes[f"factorization.{side}_metadata"] = (rows, features)
            shapes[f"factorization.{side}_known"] = (rows, 1)
            shapes[f"factorization.{side}_projection"] = (features, config["embedding_dim"])
            shapes[f"factorization.{side}_bias_projection"] = (features, 1)
        return shapes

    def __repr__(self) -> str:
        f = self.factorization
        return (
            f"ColdStartModel({self.num_users} users, {self.num_items} items, embedding_dim="
            f"{self.hparams.embedding_dim}, item_features={f.item_metadata.shape[1]}, "
            f"user_features={f.user_metadata.shape[1]}, stage={self.stage!r})"
        )


def _as_matrix(name: str, values: Any, num_rows: int, features: int | None) -> np.ndarray:
    """``values`` checked as ``[num_rows, F]`` float32, or zeros ``[num_rows, features or 0]`` when absent."""
    if values is None:
        return np.zeros((num_rows, int(features or 0)), dtype=np.float32)
    if features is not None:
        raise TypeError(f"give {name} or {name.split('_')[0]}_features, not both")
    return check_metadata(name, values.values if isinstance(values, Metadata) else values, num_rows)


def _check_unknown_rows_described(side: str, known: np.ndarray, metadata: np.ndarray) -> None:
    """Unknown rows must have metadata when the model has metadata on that side."""
    if metadata.shape[1] == 0:
        return
    empty = ~known & ~metadata.any(axis=1)
    if empty.any():
        ids = np.flatnonzero(empty)
        raise ValueError(
            f"{len(ids)} {side}s have no training interactions and an all-zero {side}_metadata row, so the "
            f"model has nothing to score them from (e.g. {side} {ids[:5].tolist()}); give them metadata "
            "(an 'unknown' flag column works) or leave them out"
        )
