"""Lesson 06's three-way splits: disjoint parts that add up to the data, cached, the test part new."""

import numpy as np
import pytest

from coursekit.course import data
from coursekit.course.artifacts import artifact_path


@pytest.fixture
def folder(tmp_path, monkeypatch, ml100k_path):
    (tmp_path / "ml-100k").symlink_to(ml100k_path.resolve(), target_is_directory=True)
    monkeypatch.setenv("DATA_PATH", str(tmp_path))
    return tmp_path


def pairs(part):
    return set(zip(part.users.tolist(), part.items.tolist()))


@pytest.mark.parametrize("kind", ["stratified", "temporal"])
def test_parts_are_disjoint_and_cover_the_data(folder, kind):
    train, validation, test = data.evaluation_split(kind)
    everything = pairs(data.implicit_movielens())
    assert pairs(train) | pairs(validation) | pairs(test) == everything
    assert len(train) + len(validation) + len(test) == len(everything)
    assert (len(validation), len(test)) == (5_949, 5_949)  # ceil(10 %) of each of the 942 users, twice
    assert np.all(test.mat.getnnz(axis=1)[train.mat.getnnz(axis=1) > 0] > 0)  # every user is evaluated
    assert artifact_path(f"evaluation_split_{kind}").exists()
    again = data.evaluation_split(kind)
    assert [pairs(part) for part in again] == [pairs(train), pairs(validation), pairs(test)]


def test_temporal_test_is_each_users_latest(folder):
    train, validation, test = data.evaluation_split("temporal")
    latest = {p: np.zeros(train.num_users) for p in ("train", "validation")}
    for name, part in (("train", train), ("validation", validation)):
        np.maximum.at(latest[name], part.users, part.timestamps)
    earliest_test = np.full(test.num_users, np.inf)
    np.minimum.at(earliest_test, test.users, test.timestamps)
    assert np.all(earliest_test[test.users] >= latest["validation"][test.users])
    assert np.all(earliest_test[test.users] >= latest["train"][test.users])


def test_the_test_part_is_not_the_tutorial_validation(folder):
    _, tutorial_validation = data.tutorial_split()
    _, _, test = data.evaluation_split("stratified")
    overlap = len(pairs(test) & pairs(tutorial_validation)) / len(test)
    assert overlap < 0.3  # another seed: about 10 % overlap by chance, not the same interactions


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="kind must be 'stratified' or 'temporal', got 'random'"):
        data.evaluation_split_settings("random")
