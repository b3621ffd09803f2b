"""Turn explicit ratings into implicit feedback, filter sparse users, and map raw IDs to indices."""

from __future__ import annotations

import numbers
from collections.abc import Hashable, Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from coursekit._checks import as_id_array, check_int, shown


def convert_to_implicit(
    df: pd.DataFrame,
    min_rating_to_keep: float = 4,
    user_col: str = "user_id",
    item_col: str = "item_id",
    ratings_col: str = "rating",
) -> pd.DataFrame:
    """Keep the (user, item) pairs rated at least ``min_rating_to_keep``, with rating 1.

    A pair rated more than once counts by its highest rating and keeps that row (the first
    one among ties). Pairs appear in the order of their first occurrence in ``df``; the
    index is reset.

    Parameters
    ----------
    df : pandas.DataFrame
        Explicit ratings; other columns (e.g. ``timestamp``) are carried along.
    min_rating_to_keep : float
        Smallest rating that counts as a positive interaction.
    user_col, item_col, ratings_col : str
        Column names.

    Returns
    -------
    pandas.DataFrame
        The positive interactions, ``ratings_col`` set to 1.
    """
    _check_columns(df, [user_col, item_col, ratings_col])
    if isinstance(min_rating_to_keep, bool) or not isinstance(min_rating_to_keep, numbers.Real):
        raise TypeError(f"min_rating_to_keep must be a number, got {shown(min_rating_to_keep)}")
    if min_rating_to_keep != min_rating_to_keep:  # NaN would silently keep nothing
        raise ValueError(f"min_rating_to_keep must be a number, got {shown(min_rating_to_keep)}")
    ratings = df[ratings_col].reset_index(drop=True)
    if not pd.api.types.is_numeric_dtype(ratings) or pd.api.types.is_bool_dtype(ratings):
        raise TypeError(f"column {ratings_col!r} must hold numeric ratings, got dtype {ratings.dtype}")
    if ratings.isna().any():
        row = int(ratings.isna().argmax())
        raise ValueError(f"column {ratings_col!r} contains missing ratings (NaN), e.g. at row {row}")
    # groupby(sort=False) lists pairs by first occurrence; idxmax picks each pair's best row.
    best_rows = ratings.groupby([df[user_col].to_numpy(), df[item_col].to_numpy()], sort=False).idxmax()
    implicit = df.iloc[best_rows.to_numpy()]
    implicit = implicit[implicit[ratings_col] >= min_rating_to_keep].reset_index(drop=True)
    implicit[ratings_col] = 1
    return implicit


def remove_users_with_fewer_than_n_interactions(
    df: pd.DataFrame, min_num_of_interactions: int = 3, user_col: str = "user_id"
) -> pd.DataFrame:
    """Drop every row of users with fewer than ``min_num_of_interactions`` rows; reset the index.

    Parameters
    ----------
    df : pandas.DataFrame
        Interactions, one per row.
    min_num_of_interactions : int
        Users with at least this many rows are kept.
    user_col : str
        Name of the user column.
    """
    _check_columns(df, [user_col])
    check_int("min_num_of_interactions", min_num_of_interactions, minimum=0)
    counts = df.groupby(user_col, sort=False)[user_col].transform("size")
    return df[counts >= min_num_of_interactions].reset_index(drop=True)


class IdEncoder:
    """Map raw user and item IDs (strings, gaps, negatives...) to ``0..n-1`` and back.

    Each ID's index is its position among the sorted unique raw IDs when they can be sorted,
    so integer IDs keep their order (MovieLens's ``1..943`` become ``0..942``); when they
    cannot (e.g. strings mixed with numbers) it is the order of first appearance.

    A column mixing booleans, integers and floats (``True``, ``1``, ``1.0``) is refused with
    a ``TypeError``: Python and pandas treat those as one value, so distinct raw IDs would
    merge into one index; so is looking up IDs of another number type than the fitted ones
    (``1.0`` or ``True`` among integer IDs). Convert such IDs to one type first.

    Examples
    --------
    >>> df = pd.DataFrame({"user_id": ["bob", "amy", "bob"], "item_id": [30, -5, 7]})
    >>> encoder = IdEncoder()
    >>> encoder.fit_transform(df).values.tolist()
    [[1, 2], [0, 0], [1, 1]]
    >>> encoder.decode_users([0, 1]).tolist()
    ['amy', 'bob']
    """

    def __init__(self) -> None:
        self.user_col: str | None = None
        self.item_col: str | None = None
        self._users: pd.Index | None = None
        self._items: pd.Index | None = None

    def fit(self, df: pd.DataFrame, user_col: str = "user_id", item_col: str = "item_id") -> IdEncoder:
        """Learn the user and item vocabularies of ``df``; return ``self``."""
        _check_columns(df, [user_col, item_col])
        self.user_col, self.item_col = user_col, item_col
        self._users = _vocabulary(df[user_col], user_col)
        self._items = _vocabulary(df[item_col], item_col)
        return self

    def transform(self, df: pd.DataFrame) -> pd.DataFrame:
        """Return a copy of ``df`` with the user and item columns replaced by int64 indices.

        Raises ``ValueError`` naming some of the IDs not seen by :meth:`fit`.
        """
        users, items = self._fitted()
        _check_columns(df, [self.user_col, self.item_col])
        out = df.copy()
        out[self.user_col] = _encode(users, df[self.user_col], self.user_col)
        out[self.item_col] = _encode(items, df[self.item_col], self.item_col)
        return out

    def fit_transform(self, df: pd.DataFrame, user_col: str = "user_id", item_col: str = "item_id") -> pd.DataFrame:
        """:meth:`fit` then :meth:`transform` the same frame."""
        return self.fit(df, user_col, item_col).transform(df)

    def inverse_transform(self, df: pd.DataFrame) -> pd.DataFrame:
        """Return a copy of ``df`` with the index columns mapped back to the raw IDs."""
        users, items = self._fitted()
        _check_columns(df, [self.user_col, self.item_col])
        out = df.copy()
        # Assigning an Index (not a Series) keeps the raw IDs' dtype and ignores df's index.
        out[self.user_col] = _decode(users, df[self.user_col], "user")
        out[self.item_col] = _decode(items, df[self.item_col], "item")
        return out

    def encode_users(self, raw_ids: Iterable[Hashable]) -> np.ndarray:
        """Indices (int64 array) of the raw user IDs ``raw_ids``."""
        return _encode(self._fitted()[0], raw_ids, "user")

    def encode_items(self, raw_ids: Iterable[Hashable]) -> np.ndarray:
        """Indices (int64 array) of the raw item IDs ``raw_ids``."""
        return _encode(self._fitted()[1], raw_ids, "item")

    def decode_users(self, indices: Sequence[int]) -> np.ndarray:
        """Raw user IDs of the user ``indices`` (also accepts a torch tensor)."""
        return _decode(self._fitted()[0], indices, "user").to_numpy()

    def decode_items(self, indices: Sequence[int]) -> np.ndarray:
        """Raw item IDs of the item ``indices`` (also accepts a torch tensor)."""
        return _decode(self._fitted()[1], indices, "item").to_numpy()

    @property
    def num_users(self) -> int:
        """Number of distinct users seen by :meth:`fit`."""
        return len(self._fitted()[0])

    @property
    def num_items(self) -> int:
        """Number of distinct items seen by :meth:`fit`."""
        return len(self._fitted()[1])

    @property
    def users(self) -> pd.Index:
        """The raw user IDs; position ``i`` holds the ID encoded as ``i``."""
        return self._fitted()[0]

    @property
    def items(self) -> pd.Index:
        """The raw item IDs; position ``i`` holds the ID encoded as ``i``."""
        return self._fitted()[1]

    def _fitted(self) -> tuple[pd.Index, pd.Index]:
        if self._users is None or self._items is None:
            raise RuntimeError("This IdEncoder is not fitted yet: call fit(df) first")
        return self._users, self._items

    def __repr__(self) -> str:
        if self._users is None:
            return "IdEncoder(unfitted)"
        return f"IdEncoder({self.user_col!r}: {self.num_users} users, {self.item_col!r}: {self.num_items} items)"


def _check_columns(df: Any, columns: list[str]) -> None:
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"df must be a pandas DataFrame, got {type(df).__name__}")
    missing = [column for column in columns if column not in df.columns]
    if missing:
        raise ValueError(f"df is missing the column(s) {missing}; it has {list(df.columns)}")


def _as_index(values: Any) -> pd.Index:
    # tupleize_cols=False keeps tuple IDs as single labels instead of building a MultiIndex.
    return values if isinstance(values, pd.Index) else pd.Index(values, tupleize_cols=False)


def _vocabulary(values: pd.Series, name: str) -> pd.Index:
    if values.isna().any():
        raise ValueError(f"{name} contains missing IDs (NaN/None) at row {shown(values.index[values.isna()][0])}")
    _check_one_number_type(_number_kinds(values), name)
    uniques = _as_index(pd.unique(values))
    try:
        return uniques.sort_values()
    except TypeError:  # e.g. strings mixed with numbers: keep first-appearance order
        return uniques


_DTYPE_NUMBER_KIND = {"b": "bool", "i": "int", "u": "int", "f": "float", "c": "float"}


def _number_kind(kind: type) -> str | None:
    if issubclass(kind, (bool, np.bool_)):
        return "bool"
    if issubclass(kind, numbers.Integral):
        return "int"
    if issubclass(kind, numbers.Number):
        return "float"
    return None  # strings, tuples...: never equal to a number


def _number_kinds(values: pd.Index | pd.Series) -> dict[str, Any]:
    """The number kinds (bool, int, float) among ``values``, each with a first example."""
    kind = _DTYPE_NUMBER_KIND.get(values.dtype.kind)
    if kind is not None:  # a typed column holds one kind of value
        return {kind: values.array[0]} if len(values) else {}
    if values.dtype != object:
        return {}  # strings, datetimes, categoricals of those
    found: dict[str, Any] = {}
    for value_type in set(map(type, values.array)):
        number_kind = _number_kind(value_type)
        if number_kind is not None and number_kind not in found:
            found[number_kind] = next(v for v in values.array if _number_kind(type(v)) == number_kind)
    return found


def _check_one_number_type(kinds: dict[str, Any], name: str) -> None:
    """Refuse IDs holding more than one of bool, int and float: Python and pandas merge equal values."""
    if len(kinds) > 1:
        examples = " and ".join(f"{shown(value)} ({kind})" for kind, value in sorted(kinds.items()))
        raise TypeError(
            f"mixed number types in {name}, e.g. {examples}: equal values such as 1, 1.0 and True would "
            f"become one ID. Convert the IDs to one type first (e.g. .astype(str) keeps them apart)"
        )


def _encode(vocabulary: pd.Index, raw_ids: Any, name: str) -> np.ndarray:
    if isinstance(raw_ids, (str, bytes)) or not isinstance(raw_ids, Iterable):
        raise TypeError(f"raw {name} IDs must be a list or array of IDs, got the single value {raw_ids!r}")
    raw = _as_index(raw_ids)
    # 1.0 or True looked up among integer IDs would silently take the index of 1.
    _check_one_number_type({**_number_kinds(raw), **_number_kinds(vocabulary)}, f"raw {name} IDs and the fitted ones")
    codes = vocabulary.get_indexer(raw)
    unknown = codes < 0
    if unknown.any():
        examples = list(pd.unique(raw[unknown]))
        raise ValueError(f"{len(examples)} unknown {name} ID(s), not seen by IdEncoder.fit: {shown(examples[:5])}")
    return codes.astype(np.int64, copy=False)


def _decode(vocabulary: pd.Index, indices: Any, name: str) -> pd.Index:
    codes = as_id_array(f"{name} indices", indices)
    if len(codes) and codes.max() >= len(vocabulary):
        raise ValueError(f"{name} index {int(codes.max())} is out of range: the encoder knows {len(vocabulary)}")
    return vocabulary.take(codes)
