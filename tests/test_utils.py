import pickle

import numpy as np
import pandas as pd
import pytest
import torch

from coursekit.movielens import read_movielens_df
from coursekit.utils import IdEncoder, convert_to_implicit, remove_users_with_fewer_than_n_interactions

# --- convert_to_implicit -----------------------------------------------------------------


def test_convert_to_implicit_on_movielens(ml100k_path):
    df = read_movielens_df()
    implicit = convert_to_implicit(df)
    assert len(implicit) == 55_375
    assert (implicit["rating"] == 1).all()
    assert list(implicit.columns) == list(df.columns)
    assert implicit.index.equals(pd.RangeIndex(len(implicit)))
    # No duplicate pairs in ML-100K, so this is exactly the rows rated >= 4, in file order.
    expected = df[df["rating"] >= 4].reset_index(drop=True).assign(rating=1)
    pd.testing.assert_frame_equal(implicit, expected)


def test_convert_to_implicit_keeps_the_best_rating_at_the_first_position():
    df = pd.DataFrame(
        {
            "user_id": [1, 0, 1, 2, 0, 2],
            "item_id": [5, 7, 5, 9, 7, 8],
            "rating": [2, 5, 4, 4, 3, 1],
            "timestamp": [10, 20, 30, 40, 50, 60],
        },
        index=[100, 101, 102, 103, 104, 105],
    )
    implicit = convert_to_implicit(df)
    # (1, 5) first appears at row 0 and counts by its best rating, 4 (timestamp 30);
    # (0, 7) keeps its 5 (timestamp 20), not the later 3; (2, 8) rated 1 is dropped.
    assert implicit.values.tolist() == [[1, 5, 1, 30], [0, 7, 1, 20], [2, 9, 1, 40]]
    assert implicit.index.tolist() == [0, 1, 2]


def test_convert_to_implicit_threshold_ties_and_custom_columns():
    df = pd.DataFrame({"u": ["a", "a", "b"], "i": ["x", "x", "y"], "r": [3.5, 3.5, 3.0], "t": [1, 2, 3]})
    implicit = convert_to_implicit(df, min_rating_to_keep=3.5, user_col="u", item_col="i", ratings_col="r")
    assert implicit.values.tolist() == [["a", "x", 1.0, 1]]  # the first of tied best rows
    assert len(convert_to_implicit(df, min_rating_to_keep=1, user_col="u", item_col="i", ratings_col="r")) == 2


def test_convert_to_implicit_does_not_modify_its_input():
    df = pd.DataFrame({"user_id": [0, 0], "item_id": [1, 2], "rating": [5, 4]})
    before = df.copy()
    convert_to_implicit(df)
    pd.testing.assert_frame_equal(df, before)


def test_convert_to_implicit_errors():
    df = pd.DataFrame({"user": [0], "item_id": [1], "stars": [5]})
    with pytest.raises(ValueError) as info:
        convert_to_implicit(df)
    message = str(info.value)
    assert "'user_id'" in message and "'rating'" in message and "'stars'" in message
    with pytest.raises(TypeError, match="DataFrame"):
        convert_to_implicit(df.to_numpy())
    with pytest.raises(TypeError, match="min_rating_to_keep"):
        convert_to_implicit(df, min_rating_to_keep="4", user_col="user", ratings_col="stars")


# --- remove_users_with_fewer_than_n_interactions -----------------------------------------


def test_remove_users_with_fewer_than_n_interactions():
    df = pd.DataFrame({"user_id": [3, 1, 3, 2, 3, 1], "item_id": range(6)}, index=list("abcdef"))
    kept = remove_users_with_fewer_than_n_interactions(df, min_num_of_interactions=2)
    assert kept.values.tolist() == [[3, 0], [1, 1], [3, 2], [3, 4], [1, 5]]
    assert kept.index.tolist() == list(range(5))
    assert remove_users_with_fewer_than_n_interactions(df)["user_id"].tolist() == [3, 3, 3]  # default 3
    assert len(remove_users_with_fewer_than_n_interactions(df, 4)) == 0


def test_remove_users_custom_column_and_errors():
    df = pd.DataFrame({"who": ["x", "y", "x"]})
    assert remove_users_with_fewer_than_n_interactions(df, 2, user_col="who")["who"].tolist() == ["x", "x"]
    with pytest.raises(ValueError, match="'user_id'"):
        remove_users_with_fewer_than_n_interactions(df)
    with pytest.raises(TypeError, match="min_num_of_interactions"):
        remove_users_with_fewer_than_n_interactions(df, 2.5, user_col="who")


def test_every_movielens_user_has_at_least_20_ratings(ml100k_path):
    df = read_movielens_df()
    assert len(remove_users_with_fewer_than_n_interactions(df, 20)) == 100_000
    assert len(remove_users_with_fewer_than_n_interactions(df, 21)) < 100_000


# --- IdEncoder ---------------------------------------------------------------------------


def test_id_encoder_maps_movielens_ids_to_their_decrement(ml100k_path):
    raw = read_movielens_df(decrement_ids=False)
    encoder = IdEncoder()
    encoded = encoder.fit_transform(raw)
    pd.testing.assert_frame_equal(encoded, read_movielens_df())
    assert (encoder.num_users, encoder.num_items) == (943, 1682)


@pytest.mark.parametrize(
    "users, items",
    [
        (["carol", "amy", "bob", "amy"], ["z", "x", "x", "y"]),  # strings
        ([-7, 1000, -7, 3], [0, -1, 5_000_000, 2**40]),  # negatives and gaps
        (["b", 3, "a", 3], [(1, 2), (0, 1), (1, 2), "x"]),  # mixed hashables, tuples
    ],
)
def test_id_encoder_round_trip(users, items):
    df = pd.DataFrame({"user_id": users, "item_id": items, "rating": range(len(users))})
    encoder = IdEncoder()
    encoded = encoder.fit_transform(df)
    assert encoded["user_id"].dtype == np.int64 and encoded["item_id"].dtype == np.int64
    assert sorted(set(encoded["user_id"])) == list(range(encoder.num_users)) == list(range(len(set(users))))
    assert sorted(set(encoded["item_id"])) == list(range(encoder.num_items))
    assert encoded["rating"].tolist() == df["rating"].tolist()
    pd.testing.assert_frame_equal(encoder.inverse_transform(encoded), df)
    assert encoder.decode_users(encoder.encode_users(users)).tolist() == users
    assert encoder.decode_items(encoder.encode_items(items)).tolist() == items


def test_id_encoder_order_sorted_when_possible_else_first_appearance():
    encoder = IdEncoder().fit(pd.DataFrame({"user_id": [30, -2, 7, 30], "item_id": ["b", 1, "a", 1]}))
    assert encoder.users.tolist() == [-2, 7, 30]
    assert encoder.items.tolist() == ["b", 1, "a"]  # str and int cannot be sorted together
    assert encoder.encode_users([7, 30, -2]).tolist() == [1, 2, 0]


def test_id_encoder_custom_columns_and_other_index():
    df = pd.DataFrame({"u": ["q", "p"], "i": [9, 8], "extra": [1.5, 2.5]}, index=[10, 20])
    encoder = IdEncoder().fit(df, user_col="u", item_col="i")
    encoded = encoder.transform(df)
    assert encoded.index.tolist() == [10, 20]
    assert encoded[["u", "i"]].values.tolist() == [[1, 1], [0, 0]]
    pd.testing.assert_frame_equal(encoder.inverse_transform(encoded), df)


def test_id_encoder_decodes_tensors():
    encoder = IdEncoder().fit(pd.DataFrame({"user_id": ["a", "b"], "item_id": [5, 6]}))
    assert encoder.decode_items(torch.tensor([1, 0])).tolist() == [6, 5]


def test_id_encoder_unknown_and_out_of_range_ids():
    encoder = IdEncoder().fit(pd.DataFrame({"user_id": ["a", "b"], "item_id": [5, 6]}))
    with pytest.raises(ValueError, match=r"2 unknown user_id ID\(s\).*\['zed', 'q'\]"):
        encoder.transform(pd.DataFrame({"user_id": ["a", "zed", "q", "zed"], "item_id": [5, 5, 5, 5]}))
    with pytest.raises(ValueError, match=r"\[7\]"):
        encoder.encode_items([5, 7])
    with pytest.raises(ValueError, match="out of range"):
        encoder.decode_users([0, 2])
    with pytest.raises(ValueError, match="non-negative"):
        encoder.decode_users([-1])
    with pytest.raises(ValueError, match="missing the column"):
        encoder.transform(pd.DataFrame({"user_id": ["a"]}))


def test_id_encoder_rejects_missing_ids_and_needs_fit():
    with pytest.raises(ValueError, match="missing IDs"):
        IdEncoder().fit(pd.DataFrame({"user_id": ["a", None], "item_id": [1, 2]}))
    with pytest.raises(RuntimeError, match="not fitted"):
        _ = IdEncoder().num_users
    with pytest.raises(RuntimeError, match="not fitted"):
        IdEncoder().transform(pd.DataFrame({"user_id": [1], "item_id": [1]}))
    with pytest.raises(TypeError, match="DataFrame"):
        IdEncoder().fit([[1, 2]])


def test_id_encoder_pickles():
    df = pd.DataFrame({"user_id": ["x", "y"], "item_id": [-1, 40]})
    encoder = pickle.loads(pickle.dumps(IdEncoder().fit(df)))
    assert encoder.transform(df).values.tolist() == [[0, 0], [1, 1]]
    assert repr(encoder) == "IdEncoder('user_id': 2 users, 'item_id': 2 items)"
