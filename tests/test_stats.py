import pytest

from coursekit.interactions import Interactions
from coursekit.stats import split_summary


def small(users, items, **kwargs):
    """A tiny Interactions: gaps allowed, one negative per interaction."""
    return Interactions(users=users, items=items, num_negative_samples=1, allow_missing_ids=True, **kwargs)


def test_split_summary_counts_users_and_items_in_each_part():
    # Users: 0 in both parts, 1 only in train, 3 only in validation, 2 nowhere.
    # Items: 0 and 1 in both, 2 only in train, 3 and 4 only in validation (cold start).
    train = small([0, 0, 0, 1, 1], [0, 1, 2, 0, 1], num_users=4, num_items=6)
    validation = small([0, 3, 3, 0], [3, 0, 4, 4], num_users=4, num_items=6)
    assert split_summary(train, validation) == {
        "train": 5,
        "validation": 4,
        "users in train": 2,
        "users in validation": 2,
        "users without train data": 1,
        "users not in validation": 1,
        "items in train": 3,
        "items in validation": 3,
        "cold-start items": 2,
        "cold-start interactions": 3,
    }


def test_split_summary_of_a_stratified_split_on_movielens(ml100k_path):
    from coursekit import lessons
    from coursekit.cross_validation import stratified_split

    summary = split_summary(*stratified_split(lessons.implicit_movielens(), test_p=0.1, seed=42))
    assert summary["users not in validation"] == summary["users without train data"] == 0
    assert summary["users in train"] == summary["users in validation"] == 942
    assert (summary["train"], summary["validation"]) == (49_426, 5_949)


def test_split_summary_rejects_parts_of_different_shapes():
    train = small([0, 1], [0, 1], num_users=2, num_items=3)
    validation = small([0, 1], [0, 1], num_users=2, num_items=4)
    with pytest.raises(ValueError, match="same shape, got 2x3 and 2x4"):
        split_summary(train, validation)
