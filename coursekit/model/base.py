"""The prediction API every coursekit model shares: scores, recommendations, similarities."""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch
import torch.nn.functional as F

from coursekit._checks import check_int
from coursekit.model import persistence
from coursekit.ranking import top_k_unseen


def interactions_of(data: Any, name: str = "data") -> Any:
    """The ``Interactions`` behind ``data``: an ``Interactions`` itself or a loader wrapping one.

    Only ``num_users`` and ``num_items`` are required: ``HDF5Interactions`` has no in-memory
    ``mat``, so models built on it cannot leave out seen items (``seen_matrix`` gives ``None``).
    """
    inner = getattr(data, "interactions", data)
    if not all(hasattr(inner, name) for name in ("num_users", "num_items")):
        raise TypeError(f"{name} must be coursekit Interactions or a coursekit loader, got {type(data).__name__}")
    return inner


def seen_matrix(data: Any) -> sp.csr_matrix | None:
    """The training CSR matrix of ``interactions_of(data)``, or ``None`` when it has none in memory."""
    return getattr(interactions_of(data), "mat", None)


def model_sizes(
    model: str, train: Any, num_users: int | None, num_items: int | None, in_memory: bool = True
) -> tuple[sp.csr_matrix | None, int, int]:
    """``(seen matrix, num_users, num_items)`` of a model built on ``train``, or of an empty one of the given size.

    The constructor contract of the models that count or factor the training matrix (``load_model``
    builds them empty, from ``num_users`` and ``num_items``). ``in_memory``: ``train`` must hold its
    matrix in memory (``HDF5Interactions`` does not).
    """
    if train is None:
        if num_users is None or num_items is None:
            raise ValueError(f"{model} needs train (or num_users and num_items)")
        return None, check_int("num_users", num_users, minimum=1), check_int("num_items", num_items, minimum=1)
    data = interactions_of(train, "train")
    seen = seen_matrix(train)
    if in_memory and seen is None:
        raise TypeError(f"{model} needs in-memory Interactions; got {type(data).__name__}")
    return seen, check_int("num_users", data.num_users, minimum=1), check_int("num_items", data.num_items, minimum=1)


def binary_matrix(mat: sp.spmatrix, dtype: Any = np.float32) -> sp.csr_matrix:
    """A copy of ``mat`` as CSR with every stored entry 1 (duplicates merged first): who interacted with what."""
    binary = sp.csr_matrix(mat, dtype=dtype, copy=True)
    binary.sum_duplicates()
    binary.data[:] = 1
    return binary


class RecommenderMixin:
    """Prediction helpers built on ``score_all_items``; mixed into every coursekit model.

    A model provides ``num_users``, ``num_items``, ``score_all_items(user_ids)`` and
    ``_seen`` (the training CSR matrix, or ``None`` when unknown). Models with
    embeddings also provide ``_user_vectors()`` / ``_item_vectors()`` for the
    similarity methods.
    """

    num_users: int
    num_items: int
    _seen: sp.csr_matrix | None

    #: Version of the settings ``_config`` returns; bump it when their meaning changes, so files
    #: saved before fail to load with a clear message instead of building a different model.
    config_version: int = 1

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # Every model registers itself for save_model / load_model: persistence needs no model imports.
        super().__init_subclass__(**kwargs)
        persistence.register_model_class(cls)

    # -- settings, for persistence ------------------------------------------------------------

    def _config(self) -> dict[str, Any]:
        """Constructor keywords (plain values only) that rebuild this model without training data."""
        raise NotImplementedError(f"{type(self).__name__} must define _config() to be saved")

    @classmethod
    def _from_config(cls, config: dict[str, Any]) -> "RecommenderMixin":
        """An untrained model built from ``_config()``'s settings; ``load_model`` then loads the weights."""
        return cls(**config)

    @classmethod
    def _state_shapes(cls, config: dict[str, Any]) -> dict[str, tuple[int, ...]]:
        """The shape of every tensor in ``state_dict()`` of a model built from ``config``.

        ``load_model`` compares these with the tensors stored in a file before building the model,
        so sizes in a damaged file cannot make it allocate more than the file holds.
        """
        raise NotImplementedError(f"{cls.__name__} must define _state_shapes() to be loaded")

    @classmethod
    def _upgrade_state_dict(cls, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """``state`` as saved by an older layout of this class, renamed to the current one."""
        return state

    # -- id checks -----------------------------------------------------------------------------

    def _check_user(self, user_id: Any) -> int:
        return _check_id("user_id", user_id, self.num_users)

    def _check_item(self, item_id: Any) -> int:
        return _check_id("item_id", item_id, self.num_items)

    def _check_user_tensor(self, user_ids: Any) -> torch.Tensor:
        return _check_id_tensor("user_ids", user_ids, self.num_users).reshape(-1)

    def _check_pairs(self, users: Any, items: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """``users`` and ``items`` as int64 tensors broadcast together, every id in range."""
        users = _check_id_tensor("users", users, self.num_users)
        items = _check_id_tensor("items", items, self.num_items)
        return torch.broadcast_tensors(users, items)

    # -- predictions ---------------------------------------------------------------------------

    # Leaving out seen items: one flag, ``unseen_items_only``, on every ranking method, with Collie's
    # default (False: rank everything, as evaluate_in_batches does without train_interactions).

    def get_item_predictions(self, user_id: int, unseen_items_only: bool = False) -> pd.Series:
        """Scores of every item for one user, best first (ties: lower item id first).

        Parameters
        ----------
        user_id
            The user to score items for.
        unseen_items_only
            Drop the items the user interacted with in the training data.

        Returns
        -------
        pandas.Series
            Scores indexed by item id, sorted in descending order.
        """
        user = self._check_user(user_id)
        scores = self.score_all_items(torch.tensor([user])).cpu()
        seen = self._seen_for_ranking(unseen_items_only)
        order = top_k_unseen(scores, self.num_items, seen, [user])[0]
        index = pd.Index(order, name="item_id")
        return pd.Series(scores[0].numpy()[order], index=index, name="score")

    def get_user_predictions(self, item_id: int, unseen_items_only: bool = False, batch_size: int = 1024) -> pd.Series:
        """Scores of every user for one item, best first (ties: lower user id first), as in Collie.

        Parameters
        ----------
        item_id
            The item to score users for.
        unseen_items_only
            Drop the users who interacted with the item in the training data.
        batch_size
            Users scored at once.

        Returns
        -------
        pandas.Series
            Scores indexed by user id, sorted in descending order.
        """
        item = self._check_item(item_id)
        batch_size = check_int("batch_size", batch_size, minimum=1)
        with torch.no_grad():
            column = torch.cat(
                [
                    self.score_all_items(torch.arange(start, min(start + batch_size, self.num_users)))[:, item].cpu()
                    for start in range(0, self.num_users, batch_size)
                ]
            )
        seen = self._seen_for_ranking(unseen_items_only)
        # The same ranking rule with users in the place of items: one row, the item's column.
        order = top_k_unseen(column[None], self.num_users, None if seen is None else seen.T.tocsr()[[item]])[0]
        return pd.Series(column.numpy()[order], index=pd.Index(order, name="user_id"), name="score")

    def recommend(
        self, user_id: int, k: int = 10, unseen_items_only: bool | None = None, *, exclude_seen: bool | None = None
    ) -> pd.DataFrame:
        """The ``k`` best items for one user as a DataFrame with columns ``item_id`` and ``score``.

        ``unseen_items_only`` as in :meth:`get_item_predictions`. Not given, it is ``True`` for now
        (this method's old default) with a ``FutureWarning``: it becomes ``False``, the default of
        every ranking method. ``exclude_seen`` is its deprecated old name.
        """
        k = check_int("k", k, minimum=1)
        if exclude_seen is not None:
            warnings.warn(
                "recommend(exclude_seen=...) is deprecated; use unseen_items_only=... (the flag of every "
                "ranking method)",
                DeprecationWarning,
                stacklevel=2,
            )
            if unseen_items_only is None:
                unseen_items_only = exclude_seen
        if unseen_items_only is None:
            warnings.warn(
                "recommend() leaves out seen items by default for now, but will rank every item like "
                "get_item_predictions (unseen_items_only=False, Collie's default); pass "
                "unseen_items_only=True to keep leaving them out",
                FutureWarning,
                stacklevel=2,
            )
            unseen_items_only = True
        user = self._check_user(user_id)
        scores = self.score_all_items(torch.tensor([user])).cpu()
        top = top_k_unseen(scores, k, self._seen_for_ranking(unseen_items_only), [user])[0]
        return pd.DataFrame({"item_id": top, "score": scores[0].numpy()[top]})

    def _seen_for_ranking(self, unseen_items_only: bool) -> sp.csr_matrix | None:
        if not isinstance(unseen_items_only, (bool, np.bool_)):
            raise TypeError(f"unseen_items_only must be True or False, got {unseen_items_only!r}")
        if not unseen_items_only:
            return None
        if self._seen is None:
            raise ValueError(
                "this model does not know which items users have seen (it was built without "
                "training interactions); use unseen_items_only=False"
            )
        return self._seen

    # -- persistence ----------------------------------------------------------------------------

    def save_model(self, path: str | os.PathLike) -> Path:
        """Save weights and settings to ``path`` (atomically); reload with :func:`coursekit.model.load_model`."""
        return persistence.save_model(self, path)

    def load_weights(self, path: str | os.PathLike) -> "RecommenderMixin":
        """Load weights saved by ``save_model`` into this model; sizes must match. Returns ``self``."""
        return persistence.load_weights(self, path)

    # -- similarities --------------------------------------------------------------------------

    def _item_vectors(self) -> torch.Tensor:
        """Learned item vectors ``[num_items, dim]`` (biases excluded)."""
        raise NotImplementedError(f"{type(self).__name__} has no item embeddings to compare")

    def _user_vectors(self) -> torch.Tensor:
        """Learned user vectors ``[num_users, dim]`` (biases excluded)."""
        raise NotImplementedError(f"{type(self).__name__} has no user embeddings to compare")

    def item_item_similarity(self, item_id: int) -> pd.Series:
        """Cosine similarity of one item's embedding to every item's, most similar first.

        The item itself comes first, with similarity 1. Biases are not part of the
        comparison: they say how popular an item is, not what it is like.
        """
        item = self._check_item(item_id)
        return _cosine_ranking(self._item_vectors(), item, "item_id")

    def user_user_similarity(self, user_id: int) -> pd.Series:
        """Cosine similarity of one user's embedding to every user's, most similar first."""
        user = self._check_user(user_id)
        return _cosine_ranking(self._user_vectors(), user, "user_id")


def _check_id(name: str, value: Any, size: int) -> int:
    if hasattr(value, "item") and getattr(value, "ndim", 0) == 0:  # numpy / torch scalar
        value = value.item()
    value = check_int(name, value)
    if not 0 <= value < size:
        raise ValueError(f"{name} {value} is outside the valid range 0..{size - 1}")
    return value


def _check_id_tensor(name: str, values: Any, size: int) -> torch.Tensor:
    """``values`` as an int64 tensor of ids in ``0..size-1``; floats would be truncated, negatives wrap."""
    ids = torch.as_tensor(values)
    if ids.is_floating_point() or ids.is_complex() or ids.dtype == torch.bool:
        raise TypeError(f"{name} must hold integer ids, got dtype {ids.dtype}")
    ids = ids.to(torch.int64)
    if ids.numel() and (ids.min() < 0 or ids.max() >= size):
        bad = ids[(ids < 0) | (ids >= size)][0].item()
        raise ValueError(f"{name} contains {bad}, outside the valid range 0..{size - 1}")
    return ids


def _cosine_ranking(vectors: torch.Tensor, index: int, index_name: str) -> pd.Series:
    with torch.no_grad():
        unit = F.normalize(vectors.detach().float().cpu(), dim=1)
        similarity = (unit @ unit[index]).clamp_(-1.0, 1.0).numpy()
    # An all-zero vector has no direction; still, an entry is always most similar to itself.
    similarity[index] = 1.0
    order = np.argsort(-similarity, kind="stable")
    order = np.concatenate([[index], order[order != index]])
    return pd.Series(similarity[order], index=pd.Index(order, name=index_name), name="similarity")


def with_titles(data: pd.Series | pd.DataFrame, df_item: pd.DataFrame, id_offset: int = 1) -> pd.DataFrame:
    """Add MovieLens titles to item predictions or similarities.

    Parameters
    ----------
    data
        A Series indexed by item id (``item_item_similarity``, ``get_item_predictions``)
        or a DataFrame with an ``item_id`` column (``recommend``).
    df_item
        ``coursekit.movielens.read_movielens_df_item()``: one row per movie, with
        ``item_id`` and a title column.
    id_offset
        What to subtract from ``df_item['item_id']`` to get model ids. MovieLens ids
        start at 1 and models count from 0, hence the default 1; pass 0 if you already
        shifted ``df_item['item_id']``.

    Returns
    -------
    pandas.DataFrame
        ``data`` as a DataFrame with a ``title`` column, order kept.
    """
    title_column = next((c for c in ("movie_title", "title") if c in df_item.columns), None)
    if title_column is None or "item_id" not in df_item.columns:
        raise ValueError(f"df_item needs item_id and movie_title columns, got {list(df_item.columns)}")
    titles = pd.Series(df_item[title_column].to_numpy(), index=df_item["item_id"].to_numpy() - id_offset)
    if isinstance(data, pd.Series):
        frame = data.to_frame(data.name or "value")
        ids = data.index.to_numpy()
    else:
        if "item_id" not in data.columns:
            raise ValueError(f"data needs an item_id column, got {list(data.columns)}")
        frame = data.copy()
        ids = data["item_id"].to_numpy()
    frame["title"] = titles.reindex(ids).to_numpy()
    return frame
