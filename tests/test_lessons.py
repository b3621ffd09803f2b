import os
import pickle

import numpy as np
import pytest
import torch

from coursekit import lessons
from coursekit.cross_validation import stratified_split
from coursekit.interactions import Interactions


def small(users, items, **kwargs):
    """A tiny Interactions: gaps allowed, one negative per interaction."""
    return Interactions(users=users, items=items, num_negative_samples=1, allow_missing_ids=True, **kwargs)


@pytest.fixture
def data_path(tmp_path, monkeypatch):
    """An empty data folder: artefacts written by a test never reach the real cache."""
    monkeypatch.setenv("DATA_PATH", str(tmp_path))
    return tmp_path


@pytest.fixture
def data_path_with_movielens(data_path, ml100k_path):
    (data_path / "ml-100k").symlink_to(ml100k_path.resolve(), target_is_directory=True)
    return data_path


# --- artefacts ------------------------------------------------------------------------------


def test_artifact_path_is_under_the_data_path(data_path):
    assert lessons.artifact_path("tutorial_split") == data_path / "artifacts" / "tutorial_split.joblib"


@pytest.mark.parametrize("name", ["", "../escape", "a/b", "/abs", ".hidden", "x.joblib", "sp ace", 3, None])
def test_artifact_names_must_be_plain_stems(data_path, name):
    with pytest.raises(ValueError, match="name must be a plain file stem"):
        lessons.artifact_path(name)


def test_save_and_load_round_trip(data_path):
    obj = {"array": np.arange(5), "text": "hello"}
    path = lessons.save_artifact(obj, "thing")
    assert path == data_path / "artifacts" / "thing.joblib" and path.exists()
    loaded = lessons.load_artifact("thing")
    assert loaded["text"] == "hello"
    np.testing.assert_array_equal(loaded["array"], np.arange(5))
    assert os.listdir(path.parent) == ["thing.joblib"]  # no temporary file left behind


def test_save_overwrites(data_path):
    lessons.save_artifact(1, "thing")
    lessons.save_artifact(2, "thing")
    assert lessons.load_artifact("thing") == 2


def test_a_failed_save_keeps_the_old_file_and_leaves_no_temporary(data_path):
    lessons.save_artifact("old", "thing")
    with pytest.raises(pickle.PicklingError):
        lessons.save_artifact(lambda: None, "thing")  # a lambda cannot be pickled
    assert lessons.load_artifact("thing") == "old"
    assert os.listdir(data_path / "artifacts") == ["thing.joblib"]


def test_loading_a_missing_artifact_names_it(data_path):
    with pytest.raises(FileNotFoundError, match="'nothing'.*run the lesson"):
        lessons.load_artifact("nothing")


def test_load_or_build_builds_once_then_loads(data_path):
    calls = []

    def build():
        calls.append(1)
        return [len(calls)]

    assert lessons.load_or_build("built", build) == [1]
    assert lessons.load_or_build("built", build) == [1]  # loaded: build not called again
    assert calls == [1]


def test_load_or_build_rejects_a_non_callable(data_path):
    with pytest.raises(TypeError, match="build must be a function"):
        lessons.load_or_build("x", 42)


def test_interactions_survive_a_round_trip(data_path):
    interactions = small([0, 0, 1, 2], [1, 2, 0, 3], timestamps=[5, 6, 7, 8], seed=3)
    lessons.save_artifact(interactions, "small")
    loaded = lessons.load_artifact("small")
    assert repr(loaded) == repr(interactions)
    assert (loaded.mat != interactions.mat).nnz == 0
    np.testing.assert_array_equal(loaded.timestamps, interactions.timestamps)
    # Same generator state, so the same negatives.
    assert loaded[0][1].tolist() == interactions[0][1].tolist()


# --- MovieLens and the tutorial split ----------------------------------------------------------


def test_implicit_movielens(ml100k_path):
    interactions = lessons.implicit_movielens()
    assert (interactions.num_interactions, interactions.num_users, interactions.num_items) == (55_375, 943, 1674)
    assert repr(interactions) == (
        "Interactions object with 55375 interactions between 943 users and 1674 items, "
        "returning 10 negative samples per interaction."
    )
    assert interactions.timestamps is not None and len(interactions.timestamps) == 55_375
    assert interactions.seed == lessons.MOVIELENS_SEED
    # Item i is MovieLens movie i + 1: the Star Wars (movie 50) fans are still at column 49.
    assert interactions.mat[:, 49].nnz == 501


def test_implicit_movielens_options(ml100k_path):
    strict = lessons.implicit_movielens(min_rating=5, num_negative_samples=3, seed=7)
    assert strict.num_interactions == 21_201
    assert (strict.num_negative_samples, strict.seed) == (3, 7)


def test_implicit_movielens_is_deterministic(ml100k_path):
    first, second = lessons.implicit_movielens(), lessons.implicit_movielens()
    assert (first.mat != second.mat).nnz == 0
    # Interactions holds no random state (lib branch): indexing is seeded by torch's global RNG.
    torch.manual_seed(0)
    negatives = first[0:20][1].tolist()
    torch.manual_seed(0)
    assert second[0:20][1].tolist() == negatives


def test_tutorial_split_is_built_saved_then_loaded(data_path_with_movielens, monkeypatch):
    train, validation = lessons.tutorial_split()
    assert (train.num_interactions, validation.num_interactions) == (49_426, 5_949)
    expected_train, expected_validation = stratified_split(lessons.implicit_movielens(), test_p=0.1, seed=42)
    assert (train.mat != expected_train.mat).nnz == 0
    assert (validation.mat != expected_validation.mat).nnz == 0
    assert lessons.artifact_path("tutorial_split").exists()

    def fail():
        raise AssertionError("tutorial_split rebuilt although it was saved")

    monkeypatch.setattr(lessons, "build_tutorial_split", fail)
    loaded_train, loaded_validation = lessons.tutorial_split()
    assert (loaded_train.mat != train.mat).nnz == 0
    assert (loaded_validation.mat != validation.mat).nnz == 0


def test_tutorial_split_loads_what_lesson_02_saves(data_path, monkeypatch):
    # Lesson 02 saves the pair under this name; tutorial_split must find it without MovieLens.
    part = small([0, 0, 1, 1], [0, 1, 1, 2])
    lessons.save_artifact((part, part), "tutorial_split")
    monkeypatch.setattr(lessons, "build_tutorial_split", lambda: pytest.fail("rebuilt"))
    train, validation = lessons.tutorial_split()
    assert train.num_interactions == validation.num_interactions == 4
