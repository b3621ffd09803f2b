"""Odd inputs are handled consistently (issue 11): zero ratings, mixed-type raw IDs, uint64 and
huge ids, duplicate rows, and error messages that read the same on numpy 1 and numpy 2."""

from __future__ import annotations

import time
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from coursekit import _checks
from coursekit._checks import as_id_array, check_fraction, check_int
from coursekit.interactions import Interactions
from coursekit.utils import IdEncoder, convert_to_implicit

# -- zero and negative ratings are not interactions ---------------------------------------------


def test_zero_rating_is_not_a_positive_in_len_sampling_or_mat(recwarn, capsys):
    data = Interactions(users=[0, 0, 1, 1], items=[0, 1, 1, 2], ratings=[1, 0, 1, 1], num_negative_samples=1)
    assert len(data) == 3 == data.mat.nnz
    assert data.mat.toarray().tolist() == [[1, 0, 0], [0, 1, 1]]
    (users, items), _ = data[np.arange(len(data))]
    assert sorted(zip(users.tolist(), items.tolist())) == [(0, 0), (1, 1), (1, 2)]
    # Item 1 is not user 0's positive, so it is a valid (indeed the likeliest) negative for them.
    draws = np.concatenate([data[[0] * 50][1].numpy().ravel() for _ in range(4)])
    assert 0 not in set(draws.tolist()) and 1 in set(draws.tolist())
    assert data.num_users == 2 and data.num_items == 3
    assert not recwarn.list and capsys.readouterr() == ("", "")  # dropped silently, as documented


def test_negative_ratings_and_stored_zeros_are_dropped_too():
    data = Interactions(users=[0, 0, 1, 1], items=[0, 1, 1, 2], ratings=[2.5, -1, 1, 0.0], num_negative_samples=1)
    assert data.mat.toarray().tolist() == [[2.5, 0, 0], [0, 1, 0]]
    mat = sp.csr_matrix((np.array([1.0, 0.0, 1.0]), np.array([0, 1, 2]), np.array([0, 2, 3])), shape=(2, 3))
    assert mat.nnz == 3  # an explicitly stored zero
    from_mat = Interactions(mat=mat, num_negative_samples=1)
    assert len(from_mat) == 2 == from_mat.mat.nnz and from_mat.mat.toarray().tolist() == [[1, 0, 0], [0, 0, 1]]


def test_timestamps_follow_the_kept_rows():
    data = Interactions(
        users=[0, 0, 1], items=[0, 1, 2], ratings=[1, 0, 1], timestamps=[10, 20, 30], num_negative_samples=1
    )
    assert data.timestamps.tolist() == [10, 30]


def test_ids_are_checked_before_zero_ratings_are_dropped():
    # User 1 rated only zeros: still a user of the id space, so encoded ids do not shift.
    data = Interactions(users=[0, 1, 2], items=[0, 1, 2], ratings=[1, 0, 1], num_negative_samples=1)
    assert data.num_users == 3 and data.num_items == 3 and len(data) == 2
    assert np.diff(data.mat.indptr).tolist() == [1, 0, 1]


def test_only_zero_ratings_is_refused_clearly():
    with pytest.raises(ValueError, match="at least one positive rating: all 2 ratings are zero or negative"):
        Interactions(users=[0, 1], items=[0, 1], ratings=[0, -2])


# -- duplicate rows resolve to one real row ----------------------------------------------------

DUPLICATED = pd.DataFrame(
    {
        "user_id": [0, 0, 0, 0, 1, 1, 1],
        "item_id": [0, 0, 0, 0, 1, 0, 1],
        "rating": [3, 5, 5, 4, 4, 5, 2],
        "timestamp": [100, 50, 70, 200, 10, 20, 90],
    }
)


def test_duplicates_keep_one_real_row_in_interactions():
    with pytest.warns(
        UserWarning, match="removed 4 duplicate user-item pairs, keeping the row with the highest rating"
    ):
        data = Interactions(
            users=DUPLICATED.user_id, items=DUPLICATED.item_id, ratings=DUPLICATED.rating,
            timestamps=DUPLICATED.timestamp, num_items=3, allow_missing_ids=True, num_negative_samples=1,
        )  # fmt: skip
    kept = data.head(10)
    # (0, 0): ratings 3, 5, 5, 4 -> the first 5 (timestamp 50), not the max timestamp 200.
    assert kept.values.tolist() == [[0, 0, 5.0, 50], [1, 0, 5.0, 20], [1, 1, 4.0, 10]]
    rows = set(map(tuple, DUPLICATED[["user_id", "item_id", "rating", "timestamp"]].values.tolist()))
    assert all(tuple(row) in rows for row in kept.astype(int).values.tolist())  # every kept row existed


def test_duplicates_resolve_to_the_same_row_in_convert_to_implicit():
    with pytest.warns(UserWarning):
        data = Interactions(
            users=DUPLICATED.user_id, items=DUPLICATED.item_id, ratings=DUPLICATED.rating,
            timestamps=DUPLICATED.timestamp, num_items=3, allow_missing_ids=True, num_negative_samples=1,
        )  # fmt: skip
    implicit = convert_to_implicit(DUPLICATED, min_rating_to_keep=0)
    from_interactions = data.head(10)[["user_id", "item_id", "timestamp"]]
    from_pandas = implicit[["user_id", "item_id", "timestamp"]].sort_values(["user_id", "item_id"])
    assert from_pandas.values.tolist() == from_interactions.values.tolist()


def test_duplicates_kept_when_asked():
    data = Interactions(users=[0, 0], items=[0, 0], ratings=[1, 2], num_items=2, allow_missing_ids=True, num_negative_samples=1,
                        remove_duplicate_user_item_pairs=False)  # fmt: skip
    assert len(data) == 2


# -- raw IDs and ids -----------------------------------------------------------------------------


def test_id_encoder_refuses_ids_that_python_would_merge():
    df = pd.DataFrame({"user_id": pd.Series([1, 1.0, True], dtype=object), "item_id": [10, 11, 12]})
    with pytest.raises(
        TypeError, match=r"mixed number types in user_id, e.g. True \(bool\) and 1.0 \(float\) and 1 \(int\)"
    ):
        IdEncoder().fit(df)
    as_strings = df.assign(user_id=df.user_id.astype(str))
    assert IdEncoder().fit(as_strings).num_users == 3


@pytest.mark.parametrize("raw", [[True], [1.0], np.array([1.0])], ids=["bool", "float-list", "float-array"])
def test_id_encoder_does_not_look_up_other_number_types(raw):
    encoder = IdEncoder().fit(pd.DataFrame({"user_id": [1, 2], "item_id": [1, 2]}))
    with pytest.raises(TypeError, match="mixed number types in raw user IDs and the fitted ones"):
        encoder.encode_users(raw)  # True or 1.0 would silently take the index of 1
    assert encoder.encode_users(np.array([2, 1], dtype=np.int32)).tolist() == [1, 0]


@pytest.mark.parametrize(
    "values, count",
    [([1, 2, 1], 2), ([1.5, 2.0, 1.5], 2), (["a", 1, "a"], 2), ([True, False, True], 2), (["1", 1, "x"], 3)],
    ids=["ints", "floats", "strings-and-ints", "bools", "string-1-and-int-1"],
)
def test_id_encoder_still_takes_one_number_type(values, count):
    df = pd.DataFrame({"user_id": pd.Series(values, dtype=object), "item_id": [1, 2, 3]})
    encoder = IdEncoder().fit(df)
    assert encoder.num_users == count
    assert encoder.decode_users(encoder.transform(df).user_id).tolist() == values


def test_uint64_id_past_int64_is_reported_as_it_is():
    users = np.array([0, 2**63], dtype=np.uint64)
    with pytest.raises(ValueError) as info:
        Interactions(users=users, items=[0, 1])
    message = str(info.value)
    assert "9223372036854775808" in message and "-9223372036854775808" not in message
    assert message.startswith("users contains id 9223372036854775808, larger than the largest int64 id")
    assert as_id_array("items", np.array([2**63 - 1], dtype=np.uint64)).tolist() == [2**63 - 1]


def test_huge_id_with_allow_missing_ids_fails_fast():
    start = time.perf_counter()
    with pytest.raises(ValueError) as info:
        Interactions(users=[200_000_000, 200_000_000], items=[0, 1], allow_missing_ids=True)
    assert time.perf_counter() - start < 5  # no 1.6 GB indptr (15 s and 3.4 GB before the bound)
    assert str(info.value) == (
        "users: ids up to 200000000 need 200000001 rows for only 2 interactions; allow_missing_ids=True "
        "allows at most max(1000000, 100 x interactions) = 1000000 ids. Map raw ids to 0..n-1 with "
        "coursekit.utils.IdEncoder"
    )
    with pytest.raises(ValueError, match="items: ids up to 1000000 need 1000001 rows"):
        Interactions(users=[0, 1], items=[0, 10**6], allow_missing_ids=True)
    # A size the caller gives is their choice (splits keep their parent's sizes): not bounded.
    given = Interactions(
        users=[0, 1], items=[0, 1], num_users=2_000_000, allow_missing_ids=True, num_negative_samples=1
    )
    assert given.num_users == 2_000_000


def test_sparse_ids_within_the_bound_still_work():
    data = Interactions(users=[0, 999_999], items=[0, 1], allow_missing_ids=True, num_negative_samples=1)
    assert data.num_users == 1_000_000 and len(data) == 2
    n = 20_000  # 100 ids per interaction above the floor
    data = Interactions(
        users=np.arange(n) * 100, items=np.arange(n) % 7, allow_missing_ids=True, num_negative_samples=1
    )
    assert data.num_users == 100 * (n - 1) + 1


# -- messages read the same on numpy 1 and numpy 2 -----------------------------------------------


def _message(call) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises((TypeError, ValueError)) as info:
            call()
    return str(info.value)


MESSAGES = {
    "check_int-float": (lambda: check_int("k", np.float64(1.5)), "k must be an integer, got 1.5 (float64)"),
    "check_int-too-small": (lambda: check_int("k", np.int64(-1), minimum=0), "k must be >= 0, got -1"),
    "check_fraction-type": (lambda: check_fraction("test_p", np.str_("x")), "test_p must be a number, got 'x' (str_)"),
    "check_fraction-range": (lambda: check_fraction("test_p", np.float32(1.5)), "test_p must be in (0, 1), got 1.5"),
    "ids-strings": (lambda: as_id_array("users", np.array(["a"])), "(e.g. 'a')"),
    "ids-fraction": (lambda: as_id_array("users", np.array([1.5])), "whole numbers, got 1.5"),
    "ids-negative": (lambda: as_id_array("users", np.array([-3])), "must be non-negative, got -3"),
    "ids-out-of-range": (lambda: Interactions(users=np.array([0, 5]), items=[0, 1], num_users=np.int64(3)),
                         "users contains id 5, out of range for num_users=3"),
    "encoder-unknown": (lambda: IdEncoder().fit(pd.DataFrame({"user_id": [1, 2], "item_id": [1, 2]})).encode_users(np.array([7, 8])),
                        "not seen by IdEncoder.fit: [7, 8]"),
    "encoder-nan-row": (lambda: IdEncoder().fit(pd.DataFrame({"user_id": [1.0, np.nan], "item_id": [1, 2]})),
                        "missing IDs (NaN/None) at row 1"),
    "encoder-decode-range": (lambda: IdEncoder().fit(pd.DataFrame({"user_id": [1], "item_id": [1]})).decode_users(np.array([4])),
                             "user index 4 is out of range"),
    "convert-nan-threshold": (lambda: convert_to_implicit(pd.DataFrame({"user_id": [1], "item_id": [1], "rating": [5]}),
                                                          min_rating_to_keep=np.float64("nan")),
                              "min_rating_to_keep must be a number, got nan"),
    "shown-list": (lambda: (_ for _ in ()).throw(ValueError(_checks.shown([np.int64(1), np.float32(0.5)]))), "[1, 0.5]"),
}  # fmt: skip


@pytest.mark.parametrize("case", MESSAGES)
def test_messages_print_plain_numbers(case):
    call, expected = MESSAGES[case]
    message = _message(call)
    assert expected in message, message
    assert "np." not in message and "numpy" not in message, message
