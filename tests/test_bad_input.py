"""Bad input to every public entry point fails early and clearly.

One table: ``(call, kwargs, exception type, regex)``. Each call must raise that exception
with a message matching the regex (which names the argument and, where there is one, the
offending value), raised from coursekit's own code -- never an error deep inside numpy,
pandas, torch or h5py, a hang, or a silently wrong result.
"""

from __future__ import annotations

import functools
import math
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch

import coursekit
from coursekit import course, losses, metrics, movielens, plots, utils
from coursekit.course import artifacts, compare, recipes
from coursekit.cross_validation import random_split, stratified_split, temporal_split
from coursekit.hdf5 import HDF5Interactions, HDF5InteractionsDataLoader, write_hdf5
from coursekit.interactions import (
    ApproximateNegativeSamplingInteractionsDataLoader,
    Interactions,
    InteractionsDataLoader,
)
from coursekit.model import CourseTrainer, MatrixFactorizationModel, PopularityModel, load_model, save_model
from coursekit.utils import IdEncoder
from tests.contracts import synthetic_interactions

PACKAGE_DIR = Path(coursekit.__file__).resolve().parent

# -- the objects and files the table refers to (all small; built once at import) -----------------

TMP = Path(tempfile.mkdtemp(prefix="coursekit-bad-input-"))
(TMP / "a_file.txt").write_text("not a folder")
(TMP / "garbage.pt").write_bytes(b"this is not a torch file")
torch.save({"weights": torch.zeros(2)}, TMP / "plain_dict.pt")
(TMP / "no_u_data" / "ml-100k").mkdir(parents=True)

RATINGS = pd.DataFrame({"user_id": [0, 1, 1, 2], "item_id": [0, 1, 2, 0], "rating": [5, 3, 4, 4]})
X = synthetic_interactions()  # 50 users x 40 items, 5 negatives
OTHER_SHAPE = synthetic_interactions(num_users=30)
ONE_EACH = Interactions([0, 1], [0, 1], num_items=3, num_negative_samples=1, allow_missing_ids=True)
NO_TIMESTAMPS = X
MF = MatrixFactorizationModel(X, embedding_dim=4, seed=0)
POP = PopularityModel(X)
MF_PATH = MF.save_model(TMP / "mf_dim4.pt")
MF_DIM6 = MatrixFactorizationModel(X, embedding_dim=6, seed=0)
ENCODER = IdEncoder().fit(pd.DataFrame({"user_id": ["amy", "bob"], "item_id": [10, 20]}))
SCORES = torch.zeros(2, 3)
TARGETS = torch.ones(2, 3, dtype=torch.bool)
ALL_METRICS = [metrics.mapk, metrics.mrr, metrics.auc, metrics.ndcg, metrics.precision, metrics.recall]


@pytest.fixture(scope="module", autouse=True)
def _remove_files():
    yield
    shutil.rmtree(TMP, ignore_errors=True)


def method(obj, name):
    """``obj.name`` with a readable repr for test ids."""
    bound = getattr(obj, name)
    return functools.update_wrapper(functools.partial(bound), bound)


def interactions(**kwargs):
    return Interactions(**{"num_negative_samples": 1, **kwargs})


def getitem(index):
    return X[index]


def case(id_, call, kwargs, error, match):
    return pytest.param(call, kwargs, error, match, id=id_)


def _metric_cases():
    for metric in ALL_METRICS:
        name = metric.__name__
        base = {"scores": SCORES, "targets": TARGETS}
        yield case(f"{name}-k-zero", metric, {**base, "k": 0}, ValueError, r"k must be >= 1, got 0")
        yield case(f"{name}-k-negative", metric, {**base, "k": -3}, ValueError, r"k must be >= 1, got -3")
        yield case(f"{name}-k-fraction", metric, {**base, "k": 2.5}, TypeError, r"k must be an integer, got 2\.5")
        yield case(
            f"{name}-numpy-scores",
            metric,
            {"scores": SCORES.numpy(), "targets": TARGETS},
            TypeError,
            r"scores and targets must be torch tensors, got ndarray",
        )
        yield case(
            f"{name}-shape-mismatch",
            metric,
            {"scores": SCORES, "targets": TARGETS[:1]},
            ValueError,
            r"scores \(2, 3\), targets \(1, 3\)",
        )
        yield case(
            f"{name}-nan-score",
            metric,
            {"scores": torch.tensor([[0.0, math.nan]]), "targets": torch.tensor([[True, False]])},
            ValueError,
            r"scores contain NaN",
        )


def _split_cases():
    timed = synthetic_interactions(with_timestamps=True)
    for split in (random_split, stratified_split, temporal_split):
        name = split.__name__
        yield case(
            f"{name}-test_p-zero",
            split,
            {"interactions": timed, "test_p": 0.0},
            ValueError,
            r"test_p must be in \(0, 1\), got 0\.0",
        )
        yield case(
            f"{name}-test_p-one",
            split,
            {"interactions": timed, "test_p": 1.0},
            ValueError,
            r"test_p must be in \(0, 1\), got 1\.0",
        )
        yield case(
            f"{name}-test_p-above-one",
            split,
            {"interactions": timed, "test_p": 1.5},
            ValueError,
            r"test_p must be in \(0, 1\), got 1\.5",
        )
        yield case(
            f"{name}-test_p-nan",
            split,
            {"interactions": timed, "test_p": math.nan},
            ValueError,
            r"test_p must be in \(0, 1\), got nan",
        )
        yield case(
            f"{name}-test_p-string",
            split,
            {"interactions": timed, "test_p": "0.2"},
            TypeError,
            r"test_p must be a number, got '0\.2'",
        )
        yield case(
            f"{name}-val_p-negative",
            split,
            {"interactions": timed, "val_p": -0.1},
            ValueError,
            r"val_p must be in \[0, 1\), got -0\.1",
        )
        yield case(
            f"{name}-val_p-plus-test_p-is-one",
            split,
            {"interactions": timed, "val_p": 0.6, "test_p": 0.4},
            ValueError,
            r"val_p \+ test_p must be < 1 .* got 0\.6 \+ 0\.4",
        )
        yield case(
            f"{name}-seed-negative",
            split,
            {"interactions": timed, "seed": -2},
            ValueError,
            r"seed must be >= 0, got -2",
        )
        yield case(
            f"{name}-dataframe",
            split,
            {"interactions": RATINGS},
            TypeError,
            r"interactions must be coursekit Interactions, got DataFrame",
        )


def _id_cases():
    for name, model in (("mf", MF), ("popularity", POP)):
        for bad, error, match in (
            (-1, ValueError, r"user_id -1 is outside the valid range 0\.\.49"),
            (50, ValueError, r"user_id 50 is outside the valid range 0\.\.49"),
            (1.5, TypeError, r"user_id must be an integer, got 1\.5"),
            ("3", TypeError, r"user_id must be an integer, got '3'"),
            (None, TypeError, r"user_id must be an integer, got None"),
        ):
            yield case(f"{name}-recommend-user-{bad!r}", method(model, "recommend"), {"user_id": bad}, error, match)
        yield case(
            f"{name}-get_item_predictions-user-50",
            method(model, "get_item_predictions"),
            {"user_id": 50},
            ValueError,
            r"user_id 50 is outside",
        )
        yield case(
            f"{name}-recommend-k-zero",
            method(model, "recommend"),
            {"user_id": 0, "k": 0},
            ValueError,
            r"k must be >= 1, got 0",
        )
        yield case(
            f"{name}-score_all_items-out-of-range",
            method(model, "score_all_items"),
            {"user_ids": torch.tensor([0, 50])},
            ValueError,
            r"user_ids contains 50, outside .*0\.\.49",
        )
        yield case(
            f"{name}-score_all_items-float-ids",
            method(model, "score_all_items"),
            {"user_ids": torch.tensor([1.5])},
            TypeError,
            r"user_ids must hold integer ids, got dtype torch\.float32",
        )
        yield case(
            f"{name}-forward-negative-item",
            model,
            {"users": torch.tensor([0]), "items": torch.tensor([-1])},
            ValueError,
            r"items contains -1, outside the valid range 0\.\.39",
        )
        yield case(
            f"{name}-forward-item-too-large",
            model,
            {"users": torch.tensor([0]), "items": torch.tensor([40])},
            ValueError,
            r"items contains 40, outside the valid range 0\.\.39",
        )
        yield case(
            f"{name}-forward-user-too-large",
            model,
            {"users": torch.tensor([50]), "items": torch.tensor([0])},
            ValueError,
            r"users contains 50, outside the valid range 0\.\.49",
        )
    for kind, size in (("item", 40), ("user", 50)):
        similarity = method(MF, f"{kind}_{kind}_similarity")
        key = f"{kind}_id"
        yield case(
            f"{kind}_{kind}_similarity-negative",
            similarity,
            {key: -1},
            ValueError,
            rf"{key} -1 is outside the valid range 0\.\.{size - 1}",
        )
        yield case(
            f"{kind}_{kind}_similarity-out-of-range",
            similarity,
            {key: size},
            ValueError,
            rf"{key} {size} is outside the valid range 0\.\.{size - 1}",
        )
        yield case(
            f"{kind}_{kind}_similarity-fraction",
            similarity,
            {key: 2.5},
            TypeError,
            rf"{key} must be an integer, got 2\.5",
        )
        yield case(
            f"{kind}_{kind}_similarity-string", similarity, {key: "7"}, TypeError, rf"{key} must be an integer, got '7'"
        )
        yield case(
            f"{kind}_{kind}_similarity-list",
            similarity,
            {key: [1, 2]},
            TypeError,
            rf"{key} must be an integer, got \[1, 2\]",
        )
    yield case(
        "popularity-has-no-similarity",
        method(POP, "item_item_similarity"),
        {"item_id": 0},
        NotImplementedError,
        r"PopularityModel has no item embeddings",
    )


CASES = [
    # -- MovieLens readers -------------------------------------------------------------------
    case(
        "read_movielens_df-data_path-int",
        movielens.read_movielens_df,
        {"data_path": 123},
        TypeError,
        r"data_path must be a folder path .*got 123",
    ),
    case(
        "read_movielens_df-data_path-is-a-file",
        movielens.read_movielens_df,
        {"data_path": TMP / "a_file.txt"},
        ValueError,
        r"data_path '.*a_file\.txt' is a file",
    ),
    case(
        "read_movielens_df_item-data_path-is-a-file",
        movielens.read_movielens_df_item,
        {"data_path": TMP / "a_file.txt"},
        ValueError,
        r"data_path '.*a_file\.txt' is a file",
    ),
    case(
        "read_movielens_df_user-data_path-list",
        movielens.read_movielens_df_user,
        {"data_path": ["data"]},
        TypeError,
        r"data_path must be a folder path .*\['data'\]",
    ),
    case(
        "read_movielens_df-folder-without-u.data",
        movielens.read_movielens_df,
        {"data_path": TMP / "no_u_data"},
        movielens.CorruptDataError,
        r"no_u_data/ml-100k exists but has no u\.data",
    ),
    case(
        "ensure_movielens-timeout-zero",
        movielens.ensure_movielens,
        {"data_path": TMP, "timeout": 0},
        ValueError,
        r"timeout must be a positive number of seconds, got 0",
    ),
    # -- converters --------------------------------------------------------------------------
    case(
        "convert_to_implicit-not-a-dataframe",
        utils.convert_to_implicit,
        {"df": [[0, 1, 5]]},
        TypeError,
        r"df must be a pandas DataFrame, got list",
    ),
    case(
        "convert_to_implicit-missing-rating-column",
        utils.convert_to_implicit,
        {"df": RATINGS.rename(columns={"rating": "stars"})},
        ValueError,
        r"df is missing the column\(s\) \['rating'\]",
    ),
    case(
        "convert_to_implicit-wrong-user_col",
        utils.convert_to_implicit,
        {"df": RATINGS, "user_col": "uid"},
        ValueError,
        r"missing the column\(s\) \['uid'\]; it has \['user_id', 'item_id', 'rating'\]",
    ),
    case(
        "convert_to_implicit-min_rating-string",
        utils.convert_to_implicit,
        {"df": RATINGS, "min_rating_to_keep": "4"},
        TypeError,
        r"min_rating_to_keep must be a number, got '4'",
    ),
    case(
        "convert_to_implicit-min_rating-nan",
        utils.convert_to_implicit,
        {"df": RATINGS, "min_rating_to_keep": math.nan},
        ValueError,
        r"min_rating_to_keep must be a number, got nan",
    ),
    case(
        "convert_to_implicit-text-ratings",
        utils.convert_to_implicit,
        {"df": RATINGS.assign(rating=["5", "3", "4", "4"])},
        TypeError,
        r"column 'rating' must hold numeric ratings",
    ),
    case(
        "convert_to_implicit-nan-rating",
        utils.convert_to_implicit,
        {"df": RATINGS.assign(rating=[5, np.nan, 4, 4])},
        ValueError,
        r"column 'rating' contains missing ratings .*row 1",
    ),
    case(
        "remove_users-not-a-dataframe",
        utils.remove_users_with_fewer_than_n_interactions,
        {"df": None},
        TypeError,
        r"df must be a pandas DataFrame, got NoneType",
    ),
    case(
        "remove_users-negative-minimum",
        utils.remove_users_with_fewer_than_n_interactions,
        {"df": RATINGS, "min_num_of_interactions": -1},
        ValueError,
        r"min_num_of_interactions must be >= 0, got -1",
    ),
    case(
        "remove_users-fractional-minimum",
        utils.remove_users_with_fewer_than_n_interactions,
        {"df": RATINGS, "min_num_of_interactions": 2.5},
        TypeError,
        r"min_num_of_interactions must be an integer, got 2\.5",
    ),
    case(
        "remove_users-wrong-user_col",
        utils.remove_users_with_fewer_than_n_interactions,
        {"df": RATINGS, "user_col": "who"},
        ValueError,
        r"missing the column\(s\) \['who'\]",
    ),
    case(
        "IdEncoder.fit-not-a-dataframe",
        IdEncoder().fit,
        {"df": {"user_id": [1]}},
        TypeError,
        r"df must be a pandas DataFrame, got dict",
    ),
    case(
        "IdEncoder.fit-wrong-item_col",
        IdEncoder().fit,
        {"df": RATINGS, "item_col": "movie"},
        ValueError,
        r"missing the column\(s\) \['movie'\]",
    ),
    case(
        "IdEncoder.fit-missing-ids",
        IdEncoder().fit,
        {"df": RATINGS.assign(user_id=[0, None, 1, 2])},
        ValueError,
        r"user_id contains missing IDs \(NaN/None\) at row 1",
    ),
    case(
        "IdEncoder.transform-not-fitted",
        IdEncoder().transform,
        {"df": RATINGS},
        RuntimeError,
        r"not fitted yet: call fit\(df\) first",
    ),
    case(
        "IdEncoder.encode_users-unknown",
        ENCODER.encode_users,
        {"raw_ids": ["amy", "zed"]},
        ValueError,
        r"1 unknown user ID\(s\), not seen by IdEncoder\.fit: \['zed'\]",
    ),
    case(
        "IdEncoder.encode_users-single-value",
        ENCODER.encode_users,
        {"raw_ids": "amy"},
        TypeError,
        r"raw user IDs must be a list or array of IDs, got the single value 'amy'",
    ),
    case(
        "IdEncoder.decode_items-out-of-range",
        ENCODER.decode_items,
        {"indices": [0, 2]},
        ValueError,
        r"item index 2 is out of range: the encoder knows 2",
    ),
    case(
        "IdEncoder.decode_users-negative",
        ENCODER.decode_users,
        {"indices": [-1]},
        ValueError,
        r"user indices must be non-negative, got -1",
    ),
    case(
        "IdEncoder.decode_users-fraction",
        ENCODER.decode_users,
        {"indices": [0.5]},
        ValueError,
        r"user indices must hold whole numbers, got 0\.5",
    ),
    # -- Interactions ------------------------------------------------------------------------
    case(
        "Interactions-string-ids",
        interactions,
        {"users": ["u1", "u2"], "items": [0, 1]},
        TypeError,
        r"users must hold integer IDs, got dtype <U2 \(e\.g\. 'u1'\).*IdEncoder",
    ),
    case(
        "Interactions-string-ids-in-series",
        interactions,
        {"users": [0, 1], "items": pd.Series(["7", "8"])},
        TypeError,
        r"items must hold integer IDs, got dtype .*'7'",
    ),
    case(
        "Interactions-fractional-ids",
        interactions,
        {"users": [0, 1], "items": [0.0, 2.5]},
        ValueError,
        r"items must hold whole numbers, got 2\.5",
    ),
    case(
        "Interactions-nan-id",
        interactions,
        {"users": [0.0, np.nan], "items": [0, 1]},
        ValueError,
        r"users contains NaN at position 1",
    ),
    case(
        "Interactions-nullable-missing-id",
        interactions,
        {"users": pd.Series([0, None], dtype="Int64"), "items": [0, 1]},
        ValueError,
        r"users contains NaN at position 1",
    ),
    case(
        "Interactions-negative-id",
        interactions,
        {"users": [0, 1], "items": [0, -4]},
        ValueError,
        r"items must be non-negative, got -4",
    ),
    case(
        "Interactions-empty",
        interactions,
        {"users": [], "items": []},
        ValueError,
        r"needs at least one interaction, got empty users and items",
    ),
    case(
        "Interactions-empty-matrix",
        interactions,
        {"mat": sp.csr_matrix((3, 4))},
        ValueError,
        r"needs at least one interaction",
    ),
    case(
        "Interactions-lengths-differ",
        interactions,
        {"users": [0, 1, 1], "items": [0, 1]},
        ValueError,
        r"users and items differ in length: 3 != 2",
    ),
    case(
        "Interactions-raw-huge-ids",
        interactions,
        {"users": [0, 10**12], "items": [0, 1]},
        ValueError,
        r"users: 999999999999 ids in 0\.\.1000000000000 never occur \(1, 2, 3, 4, 5, \.\.\.\)",
    ),
    case(
        "Interactions-gap-in-ids",
        interactions,
        {"users": [0, 2], "items": [0, 1]},
        ValueError,
        r"users: 1 ids in 0\.\.2 never occur \(1\).*allow_missing_ids=True",
    ),
    case(
        "Interactions-user-with-every-item",
        interactions,
        {"users": [0, 0, 1], "items": [0, 1, 0]},
        ValueError,
        r"user 0 has interacted with all 2 items",
    ),
    case(
        "Interactions-negatives-equal-num_items",
        interactions,
        {"users": [0, 1, 2], "items": [0, 1, 2], "num_negative_samples": 3},
        ValueError,
        r"num_negative_samples must be smaller than num_items \(3\), got 3",
    ),
    case(
        "Interactions-negatives-above-num_items",
        interactions,
        {"users": [0, 1, 2], "items": [0, 1, 2], "num_negative_samples": 10},
        ValueError,
        r"num_negative_samples must be smaller than num_items \(3\), got 10",
    ),
    case(
        "Interactions-zero-negatives",
        interactions,
        {"users": [0, 1], "items": [0, 1], "num_negative_samples": 0},
        ValueError,
        r"num_negative_samples must be >= 1, got 0",
    ),
    case(
        "Interactions-fractional-negatives",
        interactions,
        {"users": [0, 1], "items": [0, 1], "num_negative_samples": 1.5},
        TypeError,
        r"num_negative_samples must be an integer, got 1\.5",
    ),
    case(
        "Interactions-num_items-too-small",
        interactions,
        {"users": [0, 1], "items": [0, 5], "num_items": 5, "allow_missing_ids": True},
        ValueError,
        r"items contains id 5, out of range for num_items=5",
    ),
    case(
        "Interactions-dense-mat",
        interactions,
        {"mat": np.eye(3)},
        TypeError,
        r"mat must be a scipy sparse matrix, got ndarray",
    ),
    case(
        "Interactions-nan-rating",
        interactions,
        {"users": [0, 1], "items": [0, 1], "ratings": [1.0, np.nan]},
        ValueError,
        r"ratings contains NaN or infinite values",
    ),
    case(
        "Interactions-index-string",
        getitem,
        {"index": "3"},
        TypeError,
        r"index must be an integer, a slice or integer positions, got '3'",
    ),
    case("Interactions-index-float", getitem, {"index": 2.0}, TypeError, r"index must be an integer, .* got 2\.0"),
    case(
        "Interactions-index-out-of-range",
        getitem,
        {"index": 10**6},
        IndexError,
        r"index out of range for \d+ interactions: 1000000",
    ),
    # -- loaders -----------------------------------------------------------------------------
    *[
        case(f"{loader.__name__}-{label}", loader, {"interactions": X, **kwargs}, error, match)
        for loader in (InteractionsDataLoader, ApproximateNegativeSamplingInteractionsDataLoader)
        for label, kwargs, error, match in (
            ("batch_size-zero", {"batch_size": 0}, ValueError, r"batch_size must be >= 1, got 0"),
            ("batch_size-negative", {"batch_size": -8}, ValueError, r"batch_size must be >= 1, got -8"),
            ("batch_size-fraction", {"batch_size": 1.5}, TypeError, r"batch_size must be an integer, got 1\.5"),
            ("batch_size-string", {"batch_size": "64"}, TypeError, r"batch_size must be an integer, got '64'"),
            ("seed-negative", {"seed": -1}, ValueError, r"seed must be >= 0, got -1"),
        )
    ],
    case(
        "InteractionsDataLoader-dataframe",
        InteractionsDataLoader,
        {"interactions": RATINGS},
        TypeError,
        r"interactions must be a coursekit Interactions, got DataFrame",
    ),
    case(
        "HDF5InteractionsDataLoader-not-hdf5-interactions",
        HDF5InteractionsDataLoader,
        {"hdf5_interactions": X},
        TypeError,
        r"hdf5_interactions must be HDF5Interactions, got Interactions",
    ),
    case(
        "HDF5Interactions-missing-file",
        HDF5Interactions,
        {"hdf5_path": TMP / "missing.h5"},
        FileNotFoundError,
        r"hdf5_path '.*missing\.h5' does not exist",
    ),
    case(
        "HDF5Interactions-not-hdf5",
        HDF5Interactions,
        {"hdf5_path": TMP / "a_file.txt"},
        ValueError,
        r"hdf5_path '.*a_file\.txt' is not an HDF5 file",
    ),
    case(
        "write_hdf5-chunk_size-zero",
        write_hdf5,
        {"frames": RATINGS, "path": TMP / "x.h5", "chunk_size": 0},
        ValueError,
        r"chunk_size must be >= 1, got 0",
    ),
    case(
        "write_hdf5-not-frames",
        write_hdf5,
        {"frames": 42, "path": TMP / "x.h5"},
        TypeError,
        r"frames must be a DataFrame or an iterable of DataFrames, got int",
    ),
    # -- splits ------------------------------------------------------------------------------
    *_split_cases(),
    case(
        "stratified_split-too-few-interactions",
        stratified_split,
        {"interactions": ONE_EACH, "test_p": 0.2},
        ValueError,
        r"2 users have too few interactions to split \(e\.g\. user 0 has 1\).*force_split=True",
    ),
    case(
        "temporal_split-too-few-interactions",
        temporal_split,
        {
            "interactions": interactions(
                users=[0, 1], items=[0, 1], num_items=3, allow_missing_ids=True, timestamps=[5, 6]
            ),
            "test_p": 0.2,
        },
        ValueError,
        r"2 users have too few interactions to split \(e\.g\. user 0 has 1\)",
    ),
    case(
        "random_split-too-few-interactions",
        random_split,
        {"interactions": ONE_EACH, "test_p": 0.2},
        ValueError,
        r"the split left the test part empty",
    ),
    case(
        "temporal_split-without-timestamps",
        temporal_split,
        {"interactions": NO_TIMESTAMPS},
        ValueError,
        r"temporal_split needs timestamps",
    ),
    # -- models ------------------------------------------------------------------------------
    *[
        case(f"MatrixFactorizationModel-{label}", MatrixFactorizationModel, {"train": X, **kwargs}, error, match)
        for label, kwargs, error, match in (
            ("embedding_dim-zero", {"embedding_dim": 0}, ValueError, r"embedding_dim must be >= 1, got 0"),
            ("embedding_dim-negative", {"embedding_dim": -2}, ValueError, r"embedding_dim must be >= 1, got -2"),
            (
                "embedding_dim-fraction",
                {"embedding_dim": 8.5},
                TypeError,
                r"embedding_dim must be an integer, got 8\.5",
            ),
            ("lr-negative", {"lr": -0.1}, ValueError, r"lr must be a non-negative number, got -0\.1"),
            ("lr-nan", {"lr": math.nan}, ValueError, r"lr must be a non-negative number, got nan"),
            ("lr-inf", {"lr": math.inf}, ValueError, r"lr must be a non-negative number, got inf"),
            ("lr-string", {"lr": "1e-3"}, ValueError, r"lr must be a non-negative number, got '1e-3'"),
            ("bias_lr-negative", {"bias_lr": -1}, ValueError, r"bias_lr must be a non-negative number, got -1"),
            ("weight_decay-negative", {"weight_decay": -1e-4}, ValueError, r"weight_decay must be .* got -0\.0001"),
            ("dropout_p-one", {"dropout_p": 1.0}, ValueError, r"dropout_p must be in \[0, 1\), got 1\.0"),
            ("batch_size-zero", {"batch_size": 0}, ValueError, r"batch_size must be >= 1, got 0"),
            (
                "unknown-optimizer",
                {"optimizer": "nadam"},
                ValueError,
                r"optimizer must be one of \['adagrad', 'adam', 'lazy_adam', 'row_adagrad', 'row_sgd', 'sgd', 'sparse_adam'\] .* got 'nadam'",
            ),
            (
                "unknown-bias_optimizer",
                {"bias_optimizer": "rmsprop"},
                ValueError,
                r"bias_optimizer must be one of .*'rmsprop'",
            ),
            (
                "optimizer-not-a-class",
                {"optimizer": torch.optim.Adam([torch.zeros(1, requires_grad=True)])},
                TypeError,
                r"optimizer must be an optimizer name or a torch\.optim\.Optimizer class, got Adam",
            ),
            ("unknown-loss", {"loss": "bpr2"}, ValueError, r"unknown loss 'bpr2'; valid names are"),
            ("loss-not-callable", {"loss": 3}, TypeError, r"loss must be a name or a callable, got 3"),
            (
                "sparse_adam-without-sparse",
                {"optimizer": "sparse_adam"},
                ValueError,
                r"optimizer='sparse_adam' needs sparse gradients: pass sparse=True",
            ),
            (
                "adam-with-sparse",
                {"optimizer": "adam", "sparse": True},
                ValueError,
                r"optimizer='adam' cannot use the sparse gradients of sparse=True",
            ),
            (
                "weight_decay-with-sparse",
                {"optimizer": "sgd", "sparse": True, "weight_decay": 0.1},
                ValueError,
                r"weight_decay needs dense gradients; got weight_decay=0\.1 with sparse=True",
            ),
            (
                "lr_scheduler_func-not-callable",
                {"lr_scheduler_func": 0.5},
                TypeError,
                r"lr_scheduler_func must be None or a function .* got 0\.5",
            ),
            ("seed-negative", {"seed": -5}, ValueError, r"seed must be >= 0, got -5"),
            (
                "val-other-shape",
                {"val": OTHER_SHAPE},
                ValueError,
                r"val has 30 users x 40 items, but train has 50 x 40",
            ),
            (
                "val-dataframe",
                {"val": RATINGS},
                TypeError,
                r"val must be coursekit Interactions or a coursekit loader, got DataFrame",
            ),
            (
                "train-dataframe",
                {"train": RATINGS},
                TypeError,
                r"train must be coursekit Interactions or a coursekit loader, got DataFrame",
            ),
        )
    ],
    case(
        "MatrixFactorizationModel-no-train",
        MatrixFactorizationModel,
        {},
        ValueError,
        r"needs train \(or num_users and num_items\)",
    ),
    case(
        "MatrixFactorizationModel-num_items-zero",
        MatrixFactorizationModel,
        {"num_users": 3, "num_items": 0},
        ValueError,
        r"num_items must be >= 1, got 0",
    ),
    case(
        "PopularityModel-dataframe",
        PopularityModel,
        {"train": RATINGS},
        TypeError,
        r"train must be coursekit Interactions or a coursekit loader, got DataFrame",
    ),
    case(
        "PopularityModel-num_items-negative",
        PopularityModel,
        {"num_users": 2, "num_items": -1},
        ValueError,
        r"num_items must be >= 1, got -1",
    ),
    case(
        "CourseTrainer-model-not-a-module",
        CourseTrainer,
        {"model": "my model"},
        TypeError,
        r"model must be a LightningModule \(or None\), got str",
    ),
    # -- losses ------------------------------------------------------------------------------
    case("get_loss-unknown", losses.get_loss, {"name_or_callable": "hinj"}, ValueError, r"unknown loss 'hinj'"),
    case(
        "get_loss-zero-negatives",
        losses.get_loss,
        {"name_or_callable": "bpr", "num_negative_samples": 0},
        ValueError,
        r"num_negative_samples must be >= 1, got 0",
    ),
    case(
        "bpr-numpy",
        losses.bpr,
        {"positive_scores": np.zeros(3), "negative_scores": torch.zeros(3, 2)},
        TypeError,
        r"positive_scores must be a torch\.Tensor, got ndarray",
    ),
    case(
        "hinge-shape-mismatch",
        losses.hinge,
        {"positive_scores": torch.zeros(3), "negative_scores": torch.zeros(2, 4)},
        ValueError,
        r"positive_scores \(3,\), negative_scores \(2, 4\)",
    ),
    case(
        "warp-without-num_items",
        losses.warp,
        {"positive_scores": torch.zeros(3), "negative_scores": torch.zeros(3, 2)},
        ValueError,
        r"warp needs num_items .*got num_items=None",
    ),
    # -- metrics -----------------------------------------------------------------------------
    *_metric_cases(),
    case(
        "evaluate_in_batches-empty-metric-list",
        metrics.evaluate_in_batches,
        {"metric_list": [], "test_interactions": X, "model": MF},
        ValueError,
        r"metric_list is empty",
    ),
    case(
        "evaluate_in_batches-single-metric",
        metrics.evaluate_in_batches,
        {"metric_list": metrics.auc, "test_interactions": X, "model": MF},
        TypeError,
        r"metric_list must be a list of metrics; wrap a single metric as \[metric\]",
    ),
    case(
        "evaluate_in_batches-metric-name",
        metrics.evaluate_in_batches,
        {"metric_list": ["auc"], "test_interactions": X, "model": MF},
        TypeError,
        r"every entry of metric_list must be callable, got 'auc'",
    ),
    case(
        "evaluate_in_batches-k-zero",
        metrics.evaluate_in_batches,
        {"metric_list": [metrics.auc], "test_interactions": X, "model": MF, "k": 0},
        ValueError,
        r"k must be >= 1, got 0",
    ),
    case(
        "evaluate_in_batches-batch_size-zero",
        metrics.evaluate_in_batches,
        {"metric_list": [metrics.auc], "test_interactions": X, "model": MF, "batch_size": 0},
        ValueError,
        r"batch_size must be >= 1, got 0",
    ),
    case(
        "evaluate_in_batches-other-shape",
        metrics.evaluate_in_batches,
        {"metric_list": [metrics.auc], "test_interactions": OTHER_SHAPE, "model": MF},
        ValueError,
        r"test_interactions has shape \(num_users, num_items\) = \(30, 40\) but the model has \(50, 40\)",
    ),
    case(
        "evaluate_in_batches-train-other-shape",
        metrics.evaluate_in_batches,
        {"metric_list": [metrics.auc], "test_interactions": X, "model": MF, "train_interactions": OTHER_SHAPE},
        ValueError,
        r"train_interactions has shape .* \(30, 40\) but test_interactions has \(50, 40\)",
    ),
    case(
        "evaluate_in_batches-dataframe",
        metrics.evaluate_in_batches,
        {"metric_list": [metrics.auc], "test_interactions": RATINGS, "model": MF},
        TypeError,
        r"test_interactions must have num_users and num_items .*got DataFrame",
    ),
    case(
        "evaluate_in_batches-no-model",
        metrics.evaluate_in_batches,
        {"metric_list": [metrics.auc], "test_interactions": X, "model": None},
        TypeError,
        r"model must have num_users and num_items .*got NoneType",
    ),
    # -- predictions and similarities ---------------------------------------------------------
    *_id_cases(),
    # -- save and load -----------------------------------------------------------------------
    case(
        "load_model-missing-file",
        load_model,
        {"path": TMP / "missing.pt"},
        FileNotFoundError,
        r"no saved model at .*missing\.pt",
    ),
    case("load_model-folder", load_model, {"path": TMP}, FileNotFoundError, r"no saved model at "),
    case(
        "load_model-not-a-torch-file",
        load_model,
        {"path": TMP / "garbage.pt"},
        ValueError,
        r"garbage\.pt is not a coursekit model file",
    ),
    case(
        "load_model-torch-file-of-something-else",
        load_model,
        {"path": TMP / "plain_dict.pt"},
        ValueError,
        r"plain_dict\.pt is not a coursekit model file",
    ),
    case(
        "load_model-path-none",
        load_model,
        {"path": None},
        TypeError,
        r"path must be a file path \(str or os\.PathLike\), got None",
    ),
    case(
        "save_model-not-a-model",
        save_model,
        {"model": RATINGS, "path": TMP / "df.pt"},
        TypeError,
        r"save_model saves coursekit models, got DataFrame",
    ),
    case(
        "save_model-into-a-folder",
        save_model,
        {"model": MF, "path": TMP},
        IsADirectoryError,
        r"path '.*' is a folder; give a file name such as",
    ),
    case(
        "save_model-missing-folder",
        save_model,
        {"model": MF, "path": TMP / "nowhere" / "mf.pt"},
        FileNotFoundError,
        r"the folder '.*nowhere' does not exist",
    ),
    case(
        "load_weights-other-embedding-size",
        method(MF_DIM6, "load_weights"),
        {"path": MF_PATH},
        ValueError,
        r"user_embeddings\.weight has shape \(50, 4\) there but \(50, 6\).*embedding_dim=4.*embedding_dim=6",
    ),
    case(
        "load_weights-other-class",
        method(POP, "load_weights"),
        {"path": MF_PATH},
        ValueError,
        r"holds a MatrixFactorizationModel, cannot load it into a PopularityModel",
    ),
    case(
        "load_weights-garbage",
        method(MF, "load_weights"),
        {"path": TMP / "garbage.pt"},
        ValueError,
        r"is not a coursekit model file",
    ),
    # -- lessons, plots, setup ----------------------------------------------------------------
    case("setup-threads-zero", course.setup, {"threads": 0}, ValueError, r"threads must be >= 1, got 0"),
    case("setup-seed-negative", course.setup, {"seed": -1}, ValueError, r"seed must be >= 0, got -1"),
    case(
        "artifact_path-folder-name",
        artifacts.artifact_path,
        {"name": "../secrets"},
        ValueError,
        r"name must be a plain file stem .* got '\.\./secrets'",
    ),
    case(
        "load_or_build-not-callable",
        artifacts.load_or_build,
        {"name": "x", "build": 3},
        TypeError,
        r"build must be a function of no arguments, got int",
    ),
    case(
        "save_artifact-not-an-artefact",
        artifacts.save_artifact,
        {"obj": {"a": 1}, "name": "x"},
        TypeError,
        r"an artefact must be an Interactions, a tuple of Interactions \(a split\) or a coursekit model, got dict",
    ),
    case(
        "save_artifact-settings-not-plain",
        artifacts.save_artifact,
        {"obj": X, "name": "x", "settings": {"f": object()}},
        TypeError,
        r"settings must hold plain values .* got <object object",
    ),
    case(
        "get_recipe-unknown",
        recipes.get_recipe,
        {"recipe": "tunde"},
        KeyError,
        r"recipe must be a Recipe or one of \[.*'tuned'\], got 'tunde'",
    ),
    case(
        "recipe-negatives-unknown",
        recipes.Recipe,
        {"name": "r", "description": "", "negatives": "exactly"},
        ValueError,
        r"negatives must be one of \('exact', 'approximate'\), got 'exactly'",
    ),
    case(
        "recipe-seed-in-settings",
        recipes.Recipe,
        {"name": "r", "description": "", "model": {"seed": 1}},
        ValueError,
        r"must not hold train, val or seed: pass them to build\(\)",
    ),
    case(
        "recipe-build-seed-negative",
        recipes.LESSON03.build,
        {"train": X, "seed": -1},
        ValueError,
        r"seed must be >= 0, got -1",
    ),
    case(
        "seed_study-no-seeds",
        compare.seed_study,
        {"test_interactions": X, "recipe": "popularity", "train_interactions": X, "seeds": []},
        ValueError,
        r"seeds must be a count or a non-empty sequence of seeds, got \[\]",
    ),
    case(
        "seed_study-repeated-seeds",
        compare.seed_study,
        {"test_interactions": X, "recipe": "popularity", "train_interactions": X, "seeds": [2, 2]},
        ValueError,
        r"seeds must be distinct, got \[2, 2\]",
    ),
    case(
        "popular_share-no-train",
        compare.popular_share,
        {"model": POP},
        TypeError,
        r"popular_share needs train_interactions",
    ),
    case(
        "plot_item_popularity-head_fraction-zero",
        plots.plot_item_popularity,
        {"items": [1, 2], "head_fraction": 0},
        ValueError,
        r"head_fraction must be in \(0, 1\), got 0",
    ),
    case(
        "plot_rating_distribution-empty",
        plots.plot_rating_distribution,
        {"ratings": []},
        ValueError,
        r"ratings must be a non-empty one-dimensional sequence, got shape \(0,\)",
    ),
]


@pytest.mark.parametrize("call, kwargs, error, match", CASES)
def test_bad_input_fails_clearly(call, kwargs, error, match):
    with pytest.raises(error, match=match) as info:
        call(**kwargs)
    # Raised by coursekit's own checks, not by numpy/pandas/torch deep inside.
    raised_in = Path(info.traceback[-1].path).resolve()
    assert PACKAGE_DIR in raised_in.parents, f"raised in {raised_in}"


# -- edge cases that are valid and must work ---------------------------------------------------


def test_a_single_user_with_a_negative_works():
    x = Interactions([0, 0], [0, 2], num_negative_samples=1, allow_missing_ids=True)
    assert (x.num_users, x.num_items, len(x)) == (1, 3, 2)
    (users, items), negatives = next(iter(InteractionsDataLoader(x, batch_size=2, seed=0)))
    assert negatives.flatten().tolist() == [1, 1]  # the only unseen item
    model = MatrixFactorizationModel(x, embedding_dim=2, seed=0)
    assert model.recommend(0, unseen_items_only=True).item_id.tolist() == [1]


def test_num_negative_samples_of_num_items_minus_one_works():
    x = Interactions([0, 1, 2], [0, 1, 2], num_negative_samples=2)
    (users, _), negatives = next(iter(InteractionsDataLoader(x, batch_size=3, seed=0)))
    for user, row in zip(users.tolist(), negatives.tolist()):
        assert set(row) <= {0, 1, 2} - {user}  # drawn with replacement among the two unseen items


def test_whole_number_floats_and_numpy_scalars_are_accepted():
    x = Interactions(np.array([0.0, 1.0]), torch.tensor([1, 0]), num_negative_samples=1)
    assert x.users.dtype == np.int64 and x.items.tolist() == [1, 0]
    assert (
        len(MF.recommend(np.int64(3), k=2, unseen_items_only=True)) == 2
        and len(MF.item_item_similarity(torch.tensor(4))) == 40
    )
