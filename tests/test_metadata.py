"""Metadata matrices: aligned with the model's index, complete, and refused when they cannot be."""

import numpy as np
import pytest

from coursekit.metadata import Metadata, check_metadata, movielens_item_metadata, movielens_user_metadata
from coursekit.movielens import GENRES, read_movielens_df_item, read_movielens_df_user


def test_item_genres_follow_the_item_index(ml100k_path):
    meta = movielens_item_metadata(num_items=1682, data_path=ml100k_path.parent)
    items = read_movielens_df_item(ml100k_path.parent)
    assert meta.values.shape == (1682, len(GENRES))
    np.testing.assert_array_equal(meta.values, items[GENRES].to_numpy(np.float32))  # row i is movie i + 1
    np.testing.assert_array_equal(meta.raw_ids, np.arange(1, 1683))
    assert meta.columns_like("genre:")[:2] == ["genre:unknown", "genre:Action"]


def test_item_rows_follow_raw_ids_and_decades_are_one_hot(ml100k_path):
    meta = movielens_item_metadata(raw_ids=[50, 1, 267], decades=True, data_path=ml100k_path.parent)
    decades = meta.select("decade:").frame()
    assert meta.row_of(1) == 1 and meta.row_of(267) == 2
    np.testing.assert_array_equal(decades.sum(axis=1), [1, 1, 1])
    assert decades.loc[0, "decade:1970"] == 1  # Star Wars (1977)
    assert decades.loc[2, "decade:unknown"] == 1  # the one movie without a release date


def test_user_features_are_one_hot_per_group(ml100k_path):
    meta = movielens_user_metadata(num_users=943, data_path=ml100k_path.parent)
    users = read_movielens_df_user(ml100k_path.parent)
    for prefix in ("age:", "gender:", "occupation:"):
        np.testing.assert_array_equal(meta.select(prefix).values.sum(axis=1), np.ones(943))
    assert len(meta.columns_like("occupation:")) == users["occupation"].nunique() == 21
    young = meta.frame()["age:0"].to_numpy() == 1
    np.testing.assert_array_equal(young, users["age"].to_numpy() < 18)


def test_unknown_ids_are_named(ml100k_path):
    with pytest.raises(ValueError, match=r"1 item IDs .*\[5000\]"):
        movielens_item_metadata(raw_ids=[1, 2, 5000], data_path=ml100k_path.parent)
    with pytest.raises(TypeError, match="exactly one of num_users and raw_ids"):
        movielens_user_metadata(data_path=ml100k_path.parent)


@pytest.mark.parametrize(
    "values, rows, message",
    [
        ([[1.0, float("nan")]], None, r"1 NaN or infinite values \(first at row 0, column 1\)"),
        ([[1.0, 2.0]], 3, "has 1 rows but the model has 3"),
        ([1.0, 2.0], None, "must be 2-D"),
        (np.zeros((3, 0)), None, "no feature columns"),
    ],
)
def test_bad_matrices_get_clear_errors(values, rows, message):
    with pytest.raises(ValueError, match=message):
        check_metadata("item_metadata", values, rows)


def test_metadata_checks_its_parts():
    with pytest.raises(ValueError, match="columns names 1 features but values has 2"):
        Metadata(np.zeros((2, 2)), ("a",), np.arange(2))
    with pytest.raises(ValueError, match="one ID per row"):
        Metadata(np.zeros((2, 1)), ("a",), np.arange(3))
    with pytest.raises(ValueError, match="distinct"):
        Metadata(np.zeros((2, 1)), ("a",), np.array([4, 4]))
    with pytest.raises(KeyError, match="raw ID 9"):
        Metadata(np.zeros((2, 1)), ("a",), np.arange(2)).row_of(9)
