"""HDF5: streaming writes (atomic), lazy reads, and the loader contract for out-of-memory data."""

from __future__ import annotations

import io
import pickle

import h5py
import numpy as np
import pandas as pd
import pytest
import torch

from coursekit.hdf5 import HDF5Interactions, HDF5InteractionsDataLoader, write_hdf5
from tests.contracts import LoaderContract, epoch_arrays, pairs, synthetic_interactions


def frame(n: int = 500, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "user_id": rng.integers(0, 40, n),
            "item_id": rng.integers(0, 30, n),
            "rating": rng.integers(1, 6, n).astype(float),
        }
    )


def test_write_dataframe_round_trip(tmp_path):
    df = frame()
    path = write_hdf5(df, tmp_path / "x.h5", ratings_col="rating", chunk_size=64)
    assert path == tmp_path / "x.h5"
    with h5py.File(path, "r") as f:
        np.testing.assert_array_equal(f["users"][:], df.user_id)
        np.testing.assert_array_equal(f["items"][:], df.item_id)
        np.testing.assert_array_equal(f["ratings"][:], df.rating.astype(np.float32))
        assert f["users"].dtype == np.int64 and f["ratings"].dtype == np.float32
        assert f["users"].chunks == (64,) and f["users"].maxshape == (None,)
        assert (f.attrs["num_users"], f.attrs["num_items"]) == (df.user_id.max() + 1, df.item_id.max() + 1)
    x = HDF5Interactions(path, num_negative_samples=3)
    assert (len(x), x.num_interactions, x.num_users, x.num_items) == (500, 500, df.user_id.max() + 1, 30)
    users, items = x.read(100, 250)
    assert users.dtype == items.dtype == np.int64
    np.testing.assert_array_equal(users, df.user_id[100:250])
    np.testing.assert_array_equal(items, df.item_id[100:250])


def test_write_from_chunked_csv(tmp_path):
    df = frame(1000, seed=1)
    chunks = pd.read_csv(io.StringIO(df.to_csv(index=False)), chunksize=77)
    path = write_hdf5(chunks, tmp_path / "csv.h5")
    with h5py.File(path, "r") as f:
        assert "ratings" not in f
        np.testing.assert_array_equal(f["users"][:], df.user_id)
        np.testing.assert_array_equal(f["items"][:], df.item_id)


def test_write_from_generator_with_other_columns_and_empty_chunks(tmp_path):
    df = frame(300).rename(columns={"user_id": "u", "item_id": "i"})
    pieces = (part for part in (df.iloc[:100], df.iloc[100:100], df.iloc[100:]))
    path = write_hdf5(pieces, tmp_path / "g.h5", user_col="u", item_col="i")
    x = HDF5Interactions(path, num_negative_samples=2)
    np.testing.assert_array_equal(x.read(0, 300)[0], df.u)


def test_write_replaces_existing_file(tmp_path):
    path = tmp_path / "x.h5"
    write_hdf5(frame(100), path)
    write_hdf5(frame(50, seed=3), path)
    assert len(HDF5Interactions(path, num_negative_samples=1, allow_missing_ids=True)) == 50


def test_failure_mid_stream_leaves_no_file_and_no_temp(tmp_path):
    good = frame(100)
    bad = good.assign(user_id=good.user_id.astype(float))
    bad.loc[50, "user_id"] = -1.0

    def chunks():
        yield good
        yield bad

    with pytest.raises(ValueError, match="user_id must be non-negative, got -1"):
        write_hdf5(chunks(), tmp_path / "x.h5")
    assert list(tmp_path.iterdir()) == []

    def interrupted():
        yield good
        raise KeyboardInterrupt

    write_hdf5(frame(10), tmp_path / "keep.h5")
    with pytest.raises(KeyboardInterrupt):
        write_hdf5(interrupted(), tmp_path / "keep.h5")
    assert [p.name for p in tmp_path.iterdir()] == ["keep.h5"]
    assert (
        len(HDF5Interactions(tmp_path / "keep.h5", num_negative_samples=1, allow_missing_ids=True)) == 10
    )  # old file intact


@pytest.mark.parametrize(
    "frames, kwargs, error, match",
    [
        (pd.DataFrame({"user": [0], "item_id": [0]}), {}, ValueError, "column 'user_id' not found in chunk 0"),
        (pd.DataFrame({"user_id": [0], "item_id": [0]}), {"ratings_col": "r"}, ValueError, "column 'r' not found"),
        (pd.DataFrame({"user_id": [0, 1.5], "item_id": [0, 1]}), {}, ValueError, "user_id must hold whole numbers"),
        (pd.DataFrame({"user_id": ["a"], "item_id": [0]}), {}, TypeError, "user_id must hold integer IDs"),
        (pd.DataFrame({"user_id": [0], "item_id": [np.nan]}), {}, ValueError, "item_id contains NaN"),
        (
            pd.DataFrame({"user_id": [0, 1], "item_id": [0, 1], "r": [1.0, np.nan]}),
            {"ratings_col": "r"},
            ValueError,
            "r contains NaN",
        ),
        ([pd.DataFrame({"user_id": [0], "item_id": [0]}), [1, 2]], {}, TypeError, "chunk 1 is a list"),
        ("file.csv", {}, TypeError, "frames must be a DataFrame or an iterable"),
        (pd.DataFrame({"user_id": [0], "item_id": [0]}), {"chunk_size": 0}, ValueError, "chunk_size must be >= 1"),
    ],
)
def test_write_errors(tmp_path, frames, kwargs, error, match):
    with pytest.raises(error, match=match):
        write_hdf5(frames, tmp_path / "x.h5", **kwargs)
    assert list(tmp_path.iterdir()) == []


def test_interactions_sizes_and_errors(tmp_path):
    path = write_hdf5(frame(), tmp_path / "x.h5")
    x = HDF5Interactions(path, num_negative_samples=4, num_users=100, num_items=50, seed=1, allow_missing_ids=True)
    assert (x.num_users, x.num_items, x.num_negative_samples, x.seed) == (100, 50, 4, 1)
    assert repr(x) == (
        "HDF5Interactions object with 500 interactions between 100 users and 50 items, "
        f"returning 4 approximate negative samples per interaction (file {str(path)!r})."
    )
    with pytest.raises(ValueError, match="items contains id 29, out of range for num_items=10"):
        HDF5Interactions(path, num_items=10, num_negative_samples=1)
    with pytest.raises(ValueError, match="num_negative_samples must be smaller than num_items"):
        HDF5Interactions(path, num_negative_samples=30)
    with pytest.raises(FileNotFoundError, match="missing.h5"):
        HDF5Interactions(tmp_path / "missing.h5")
    with pytest.raises(ValueError, match="stop must be <= 500"):
        x.read(0, 501)
    with pytest.raises(ValueError, match="stop must be >= 10"):
        x.read(10, 5)
    empty = write_hdf5(pd.DataFrame({"user_id": [], "item_id": []}, dtype=np.int64), tmp_path / "empty.h5")
    with pytest.raises(ValueError, match="holds no interactions"):
        HDF5Interactions(empty)
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f["users"] = np.arange(3)
    with pytest.raises(ValueError, match="no 'items' dataset"):
        HDF5Interactions(tmp_path / "other.h5")


def test_indexing_gives_approximate_negatives(tmp_path):
    df = frame()
    x = HDF5Interactions(write_hdf5(df, tmp_path / "x.h5"), num_negative_samples=3, seed=0)
    (user, item), negatives = x[7]
    assert (user.item(), item.item()) == (df.user_id[7], df.item_id[7]) and negatives.shape == (3,)
    (users, items), negatives = x[-5:]
    np.testing.assert_array_equal(users.numpy(), df.user_id[-5:])
    assert negatives.shape == (5, 3) and negatives.dtype == torch.int64
    assert 0 <= negatives.min() and negatives.max() < x.num_items
    with pytest.raises(IndexError):
        x[500]
    with pytest.raises(IndexError, match="contiguous"):
        x[::2]
    with pytest.raises(TypeError, match="int or a slice"):
        x[[1, 2]]


def test_pickle_reopens_lazily(tmp_path):
    x = HDF5Interactions(write_hdf5(frame(), tmp_path / "x.h5"), num_negative_samples=2, seed=0)
    x.read(0, 10)  # opens the file
    y = pickle.loads(pickle.dumps(x))
    assert y._file is None
    np.testing.assert_array_equal(y.read(0, 10)[1], x.read(0, 10)[1])
    x.close()
    np.testing.assert_array_equal(x.read(0, 10)[1], y.read(0, 10)[1])  # reopened after close


def test_loader_is_a_block_shuffle(tmp_path):
    # 1000 rows in order, blocks of 2 batches x 50 rows: each batch's rows come from one block.
    df = pd.DataFrame({"user_id": np.arange(1000), "item_id": np.zeros(1000, dtype=np.int64)})
    df.loc[0, "item_id"] = 1
    x = HDF5Interactions(write_hdf5(df, tmp_path / "x.h5"), num_negative_samples=1)
    loader = HDF5InteractionsDataLoader(x, batch_size=50, shuffle=True, seed=0, batches_per_block=2)
    blocks = [set((batch.numpy() // 100).tolist()) for (batch, _), _ in loader]
    assert all(len(b) == 1 for b in blocks) and len(blocks) == 20
    assert [b.pop() for b in blocks[::2]] != list(range(10))  # block order shuffled


def test_loader_argument_errors(tmp_path):
    x = HDF5Interactions(write_hdf5(frame(), tmp_path / "x.h5"), num_negative_samples=2)
    with pytest.raises(TypeError, match="hdf5_interactions must be HDF5Interactions"):
        HDF5InteractionsDataLoader(synthetic_interactions())
    with pytest.raises(ValueError, match="batch_size"):
        HDF5InteractionsDataLoader(x, batch_size=0)
    with pytest.raises(ValueError, match="batches_per_block"):
        HDF5InteractionsDataLoader(x, batches_per_block=0)


class TestHDF5InteractionsDataLoader(LoaderContract):
    """The contract on a file holding the synthetic interactions in their CSR order.

    Small blocks (3 batches) so that block order, carried partial batches and
    rank spans crossing blocks are all exercised.
    """

    @pytest.fixture(autouse=True)
    def _tmp(self, tmp_path):
        self.tmp_path = tmp_path
        self.files = 0

    def make_loader(self, interactions, **kwargs):
        self.files += 1
        df = pd.DataFrame({"user_id": interactions.users, "item_id": interactions.items})
        path = write_hdf5(df, self.tmp_path / f"data{self.files}.h5", chunk_size=50)
        data = HDF5Interactions(
            path,
            num_negative_samples=interactions.num_negative_samples,
            num_users=interactions.num_users,
            num_items=interactions.num_items,
        )
        return HDF5InteractionsDataLoader(data, **{"batches_per_block": 3, **kwargs})

    def test_default_large_blocks(self, data):
        loader = self.make_loader(data, batch_size=8, shuffle=True, seed=0, batches_per_block=64)
        assert loader.block_size == 8 * 64 > len(data)
        users, items, _, sizes = epoch_arrays(loader)
        assert pairs(users, items) == pairs(data.users, data.items) and len(sizes) == len(loader)


def test_hdf5_interactions_close_their_file_as_a_context_manager(tmp_path):
    path = write_hdf5(pd.DataFrame({"user_id": [0, 1, 1], "item_id": [1, 0, 2]}), tmp_path / "x.h5")
    with HDF5Interactions(path, num_negative_samples=1) as data:
        users, items = data.read(0, 3)
        assert data._file is not None  # opened by the read
    assert data._file is None
    np.testing.assert_array_equal(users, [0, 1, 1])


def test_head_and_tail_read_the_ends_of_the_file(tmp_path):
    df = pd.DataFrame({"user_id": [0, 1, 2, 3, 4], "item_id": [4, 3, 2, 1, 0]})
    with HDF5Interactions(write_hdf5(df, tmp_path / "x.h5"), num_negative_samples=1) as x:
        assert x.head(2).to_dict("list") == {"user_id": [0, 1], "item_id": [4, 3]}
        tail = x.tail(2)
        assert tail.to_dict("list") == {"user_id": [3, 4], "item_id": [1, 0]} and list(tail.index) == [3, 4]
        assert len(x.head(100)) == 5 and len(x.tail(0)) == 0
