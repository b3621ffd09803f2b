"""Side information about items and users: float matrices aligned with a model's index.

A model knows item ``i`` only as row ``i`` of its embedding table. Metadata (a movie's genres,
a user's age) is useful to a model only in that same order, so a :class:`Metadata` holds one
row per index, one named column per feature, and the raw ID each row belongs to (the MovieLens
movie or user number), so nothing is lost on the way.

* :func:`movielens_item_metadata`: 19 genre flags from ``u.item`` and, optionally, the release
  decade one-hot.
* :func:`movielens_user_metadata`: age group, gender and occupation from ``u.user``, one-hot.

Both align to a model's index by ``raw_ids``: the raw ID of each index row, in index order
(``IdEncoder.items`` / ``IdEncoder.users``, or ``range(1, n + 1)`` for lessons whose ids are
MovieLens's minus one, the default).

>>> import numpy as np
>>> meta = Metadata(np.array([[1, 0], [0, 1]], dtype=np.float32), ("genre:Drama", "genre:Comedy"), np.array([7, 9]))
>>> meta.row_of(9), meta.columns_like("genre:")
(1, ['genre:Drama', 'genre:Comedy'])
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from coursekit._checks import check_int, shown

#: Age groups of the user metadata (lower bounds; the last is open): MovieLens 1M's groups.
AGE_GROUPS = (0, 18, 25, 35, 45, 50, 56)


@dataclasses.dataclass(frozen=True)
class Metadata:
    """Features per index row: ``values[row]`` describes item (or user) ``row`` of a model.

    Parameters
    ----------
    values
        ``[num_rows, num_features]`` finite numbers (stored as float32).
    columns
        One name per feature column, e.g. ``"genre:Drama"``.
    raw_ids
        The raw ID (e.g. MovieLens movie number) of each row, in row order.
    """

    values: np.ndarray
    columns: tuple[str, ...]
    raw_ids: np.ndarray

    def __post_init__(self) -> None:
        values = check_metadata("values", self.values)
        columns = tuple(str(column) for column in self.columns)
        if len(columns) != values.shape[1]:
            raise ValueError(f"columns names {len(columns)} features but values has {values.shape[1]} columns")
        if len(set(columns)) != len(columns):
            raise ValueError(f"columns must be distinct, got {list(columns)}")
        raw_ids = np.asarray(self.raw_ids)
        if raw_ids.shape != (values.shape[0],):
            raise ValueError(f"raw_ids must hold one ID per row ({values.shape[0]}), got shape {raw_ids.shape}")
        if len(pd.unique(raw_ids)) != len(raw_ids):
            raise ValueError("raw_ids must be distinct: two rows would describe the same item or user")
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "columns", columns)
        object.__setattr__(self, "raw_ids", raw_ids)

    @property
    def num_rows(self) -> int:
        """Number of index rows (items or users)."""
        return self.values.shape[0]

    @property
    def num_features(self) -> int:
        """Number of feature columns."""
        return self.values.shape[1]

    def frame(self) -> pd.DataFrame:
        """The values as a DataFrame: index = row (model index), columns = feature names."""
        return pd.DataFrame(self.values, columns=list(self.columns))

    def columns_like(self, prefix: str) -> list[str]:
        """Feature names starting with ``prefix`` (e.g. ``"genre:"``)."""
        return [column for column in self.columns if column.startswith(prefix)]

    def select(self, prefix: str) -> Metadata:
        """Only the features whose names start with ``prefix``."""
        keep = [i for i, column in enumerate(self.columns) if column.startswith(prefix)]
        if not keep:
            raise ValueError(f"no feature starts with {prefix!r}; features are {list(self.columns)}")
        return Metadata(self.values[:, keep], tuple(self.columns[i] for i in keep), self.raw_ids)

    def row_of(self, raw_id: Any) -> int:
        """The index row of one raw ID (``KeyError`` naming it when absent)."""
        rows = np.flatnonzero(self.raw_ids == raw_id)
        if len(rows) == 0:
            raise KeyError(f"raw ID {shown(raw_id)} has no metadata row")
        return int(rows[0])

    def tensor(self) -> Any:
        """The values as a float32 torch tensor (a copy)."""
        import torch

        return torch.tensor(self.values)


def check_metadata(name: str, values: Any, num_rows: int | None = None) -> np.ndarray:
    """``values`` as a 2-D float32 array of finite numbers, with ``num_rows`` rows when given.

    Raises ``ValueError`` naming ``name`` for another shape, NaN or infinity (with the first bad row),
    or the wrong number of rows (a metadata matrix must describe every item the model knows).
    """
    if hasattr(values, "detach"):
        values = values.detach().cpu().numpy()
    if isinstance(values, pd.DataFrame):
        values = values.to_numpy()
    try:
        array = np.asarray(values, dtype=np.float32)
    except (TypeError, ValueError) as error:
        raise TypeError(f"{name} must be a matrix of numbers, got {type(values).__name__}: {error}") from None
    if array.ndim != 2:
        raise ValueError(f"{name} must be 2-D (one row per item or user, one column per feature), got {array.shape}")
    if array.shape[1] == 0:
        raise ValueError(f"{name} has no feature columns")
    bad = ~np.isfinite(array)
    if bad.any():
        row, column = np.argwhere(bad)[0]
        raise ValueError(
            f"{name} holds {int(bad.sum())} NaN or infinite values (first at row {row}, column {column}); "
            "fill them (e.g. with 0 and an 'unknown' flag column) before training"
        )
    if num_rows is not None and array.shape[0] != check_int("num_rows", num_rows, minimum=0):
        raise ValueError(
            f"{name} has {array.shape[0]} rows but the model has {num_rows} items or users: "
            "metadata needs exactly one row per index"
        )
    return np.ascontiguousarray(array)


def _aligned(table: pd.DataFrame, raw_ids: Sequence[Any], what: str) -> pd.DataFrame:
    """``table`` (indexed by raw ID) reordered to ``raw_ids``; a clear error for IDs it lacks."""
    raw_ids = pd.Index(raw_ids)
    missing = raw_ids.difference(table.index)
    if len(missing):
        raise ValueError(
            f"{len(missing)} {what} IDs have no row in the MovieLens file, e.g. {list(missing[:5])}: raw_ids must "
            f"be the file's 1-based {what} numbers in index order (IdEncoder.{what}s of the encoder that built the data)"
        )
    return table.loc[raw_ids]


def movielens_item_metadata(
    num_items: int | None = None,
    raw_ids: Sequence[Any] | None = None,
    decades: bool = False,
    data_path: str | os.PathLike | None = None,
) -> Metadata:
    """Genre flags (19 columns ``genre:<name>``) of MovieLens 100K movies, one row per item index.

    Parameters
    ----------
    num_items
        Items of the model: rows are movies ``1..num_items`` (item ``i`` is movie ``i + 1``, the
        lessons' convention). Give this or ``raw_ids``.
    raw_ids
        The movie number of each item index, in order (e.g. ``encoder.items`` of an ``IdEncoder``).
    decades
        Also add the release decade, one-hot (``decade:1990``, ...; ``decade:unknown`` for the one
        movie without a date).
    data_path
        Folder holding ``ml-100k/``; defaults to the course's data folder.
    """
    from coursekit.movielens import GENRES, read_movielens_df_item

    raw_ids = _raw_ids(num_items, raw_ids, "num_items")
    table = _aligned(read_movielens_df_item(data_path).set_index("item_id"), raw_ids, "item")
    features = table[GENRES].astype(np.float32).rename(columns=lambda genre: f"genre:{genre}")
    if decades:
        year = table["release_date"].dt.year
        decade = pd.Series(
            np.where(year.isna(), "unknown", (year.fillna(0) // 10 * 10).astype(int).astype(str)), table.index
        )
        features = pd.concat(
            [features, pd.get_dummies(decade, prefix="decade", prefix_sep=":", dtype=np.float32)], axis=1
        )
    return Metadata(features.to_numpy(np.float32), tuple(features.columns), np.asarray(raw_ids))


def movielens_user_metadata(
    num_users: int | None = None,
    raw_ids: Sequence[Any] | None = None,
    data_path: str | os.PathLike | None = None,
) -> Metadata:
    """Age group, gender and occupation of MovieLens 100K users, one-hot, one row per user index.

    Columns: ``age:<lower bound>`` for the groups of :data:`AGE_GROUPS`, ``gender:F`` / ``gender:M``,
    and ``occupation:<name>`` for the 21 occupations. ``num_users`` / ``raw_ids`` as in
    :func:`movielens_item_metadata` (user ``u`` is MovieLens user ``u + 1`` by default).
    """
    from coursekit.movielens import read_movielens_df_user

    raw_ids = _raw_ids(num_users, raw_ids, "num_users")
    table = _aligned(read_movielens_df_user(data_path).set_index("user_id"), raw_ids, "user")
    groups = np.asarray(AGE_GROUPS)
    age = pd.Categorical(groups[np.searchsorted(groups, table["age"].to_numpy(), side="right") - 1], categories=groups)
    parts = [
        pd.get_dummies(pd.Series(age, index=table.index), prefix="age", prefix_sep=":", dtype=np.float32),
        pd.get_dummies(table["gender"], prefix="gender", prefix_sep=":", dtype=np.float32),
        pd.get_dummies(table["occupation"], prefix="occupation", prefix_sep=":", dtype=np.float32),
    ]
    features = pd.concat(parts, axis=1)
    return Metadata(features.to_numpy(np.float32), tuple(features.columns), np.asarray(raw_ids))


def _raw_ids(count: int | None, raw_ids: Sequence[Any] | None, count_name: str) -> np.ndarray:
    if (count is None) == (raw_ids is None):
        raise TypeError(f"give exactly one of {count_name} and raw_ids")
    if raw_ids is None:
        return np.arange(1, check_int(count_name, count, minimum=1) + 1)
    array = np.asarray(raw_ids)
    if array.ndim != 1 or len(array) == 0:
        raise ValueError(f"raw_ids must be a non-empty 1-D sequence of IDs, got shape {array.shape}")
    return array
