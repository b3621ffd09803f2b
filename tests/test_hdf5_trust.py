"""HDF5 files are not trusted as read (issue 11): HDF5Interactions checks ids as in-memory
Interactions does (the same error type and message for the same data), and the per-chunk
Fletcher-32 checksum that write_hdf5 stores catches damage on every read."""

from __future__ import annotations

import h5py
import numpy as np
import pandas as pd
import pytest

from coursekit import hdf5
from coursekit.hdf5 import HDF5Interactions, write_hdf5
from coursekit.interactions import Interactions
from coursekit.movielens import CorruptDataError


def _raw_file(path, users, items, num_users=None, num_items=None):
    """A file as another program might write it: the datasets and attributes, nothing checked."""
    users, items = np.asarray(users), np.asarray(items)
    with h5py.File(path, "w") as f:
        f["users"], f["items"] = users, items
        f.attrs["num_users"] = num_users if num_users is not None else int(np.nanmax(users.astype(float))) + 1
        f.attrs["num_items"] = num_items if num_items is not None else int(np.nanmax(items.astype(float))) + 1
    return path


def _error(call) -> tuple[type, str]:
    with pytest.raises((TypeError, ValueError)) as info:
        call()
    return info.type, str(info.value)


BAD = {  # users, items, file attributes (default: largest id + 1), extra keyword arguments
    "negative-user": ([0, -1, 1], [0, 1, 2], {"num_users": 2}, {}),
    "negative-item-wraps-no-more": ([0, 1, 2], [0, 1, -1], {"num_items": 2}, {}),
    "ids-start-at-1-phantom-user-and-item-0": ([1, 2, 2], [1, 2, 3], {}, {}),
    "gap-in-items": ([0, 1, 2, 0], [0, 1, 3, 3], {}, {}),
    "absurd-id-4.6e18": ([0, 1, 2**62 + 1], [0, 1, 2], {"num_users": 3}, {}),
    "absurd-id-with-matching-attribute": ([0, 1, 2**62 + 1], [0, 1, 2], {"num_users": 2**62 + 2}, {}),
    "id-beyond-given-num_items": ([0, 1, 2], [0, 1, 2], {}, {"num_items": 2}),
    "fractional-id": (np.array([0.0, 1.5, 2.0]), [0, 1, 2], {}, {}),
    "nan-id": (np.array([0.0, np.nan, 2.0]), [0, 1, 2], {"num_users": 3}, {}),
    "uint64-past-int64": (np.array([0, 1, 2**63], dtype=np.uint64), [0, 1, 2], {"num_users": 3}, {}),
    "string-ids": (np.array([b"a", b"b", b"c"]), [0, 1, 2], {"num_users": 3}, {}),
    "huge-id-with-allow_missing_ids": ([0, 1, 10**8], [0, 1, 2], {}, {"allow_missing_ids": True}),
    "num_users-zero": ([0, 1, 2], [0, 1, 2], {}, {"num_users": 0}),
}


@pytest.mark.parametrize("case", BAD)
def test_bad_ids_fail_as_in_memory(tmp_path, case):
    users, items, attributes, kwargs = BAD[case]
    path = _raw_file(tmp_path / "x.h5", users, items, **attributes)
    # Sizes the file declares are given to Interactions; the default ones (largest id + 1) it infers.
    expected = _error(
        lambda: Interactions(users=users, items=items, num_negative_samples=1, **{**attributes, **kwargs})
    )
    assert _error(lambda: HDF5Interactions(path, num_negative_samples=1, **kwargs)) == expected


def test_positions_count_from_the_start_of_the_file(tmp_path, monkeypatch):
    monkeypatch.setattr(hdf5, "_CHECK_BLOCK", 4)  # read in blocks of 4 rows
    users = np.arange(10, dtype=float)
    users[6] = np.nan
    path = _raw_file(tmp_path / "x.h5", users, np.arange(10), num_users=10)
    expected = _error(lambda: Interactions(users=users, items=np.arange(10), num_users=10, num_items=10))
    assert expected == (ValueError, "users contains NaN at position 6")
    assert _error(lambda: HDF5Interactions(path, num_negative_samples=1)) == expected


def test_blockwise_missing_id_check_matches_in_memory(tmp_path, monkeypatch):
    monkeypatch.setattr(hdf5, "_CHECK_BLOCK", 3)
    users, items = [1, 2, 3, 1, 5, 5, 6], [0, 1, 2, 3, 4, 5, 6]
    path = _raw_file(tmp_path / "x.h5", users, items)
    expected = _error(lambda: Interactions(users=users, items=items))
    assert expected[1].startswith("users: 2 ids in 0..6 never occur (0, 4)")
    assert _error(lambda: HDF5Interactions(path, num_negative_samples=1)) == expected
    data = HDF5Interactions(path, num_negative_samples=1, allow_missing_ids=True)  # as Interactions allows
    assert (data.num_users, data.num_items) == (7, 7)


def test_good_files_from_other_programs_still_read(tmp_path):
    path = _raw_file(tmp_path / "x.h5", np.array([0, 1, 2, 1], dtype=np.int32), np.array([2.0, 1.0, 0.0, 0.0]))
    data = HDF5Interactions(path, num_negative_samples=1)
    users, items = data.read(0, 4)
    assert users.tolist() == [0, 1, 2, 1] and items.tolist() == [2, 1, 0, 0] and users.dtype == np.int64


# -- per-chunk checksums -------------------------------------------------------------------------


def _written(tmp_path, checksum=True, n=300):
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"user_id": np.arange(n) % 20, "item_id": rng.permutation(n) % 30})
    return write_hdf5(df, tmp_path / "x.h5", chunk_size=100, checksum=checksum), df


def _flip(path, dataset: str, chunk: int, byte: int, mask: int) -> None:
    with h5py.File(path, "r") as f:
        offset = f[dataset].id.get_chunk_info(chunk).byte_offset
    with open(path, "r+b") as stream:
        stream.seek(offset + byte)
        value = stream.read(1)[0]
        stream.seek(offset + byte)
        stream.write(bytes([value ^ mask]))


def test_write_hdf5_stores_a_checksum_per_chunk_unless_told_not_to(tmp_path):
    path, _ = _written(tmp_path)
    with h5py.File(path, "r") as f:
        assert f["users"].fletcher32 and f["items"].fletcher32 and f["users"].chunks == (100,)
    path, _ = _written(tmp_path, checksum=False)
    with h5py.File(path, "r") as f:
        assert not f["users"].fletcher32
    with pytest.raises(TypeError, match="checksum must be True or False"):
        write_hdf5(pd.DataFrame({"user_id": [0], "item_id": [0]}), tmp_path / "y.h5", checksum="yes")


@pytest.mark.parametrize("dataset, chunk, byte", [("users", 0, 0), ("users", 2, 13), ("items", 1, 800 - 1)])
def test_a_flipped_bit_in_a_checksummed_file_is_caught_at_open(tmp_path, dataset, chunk, byte):
    path, _ = _written(tmp_path)
    _flip(path, dataset, chunk, byte, 0x01)  # 3 -> 2: a plausible id, only the checksum can tell
    with pytest.raises(CorruptDataError) as info:
        HDF5Interactions(path, num_negative_samples=1)
    assert str(path) in str(info.value) and "write it again with write_hdf5" in str(info.value)


def test_damage_after_opening_is_caught_by_read(tmp_path):
    path, df = _written(tmp_path)
    data = HDF5Interactions(path, num_negative_samples=1)
    assert data.read(0, 300)[0].tolist() == df.user_id.tolist()
    data.close()
    _flip(path, "items", 2, 8, 0x02)
    with pytest.raises(CorruptDataError, match="is damaged"):
        data.read(200, 300)
    assert data.read(0, 100)[1].tolist() == df.item_id[:100].tolist()  # the intact chunks still read


def test_without_checksum_a_high_bit_flip_fails_the_id_check_like_memory(tmp_path):
    path, df = _written(tmp_path, checksum=False)
    _flip(path, "users", 1, 8 * 5 + 7, 0x40)  # the top byte of row 105's user id: + 2**62
    users = df.user_id.to_numpy().copy()
    users[105] += 2**62
    expected = _error(lambda: Interactions(users=users, items=df.item_id, num_users=20, num_items=30))
    assert expected == (ValueError, f"users contains id {users[105]}, out of range for num_users=20")
    assert _error(lambda: HDF5Interactions(path, num_negative_samples=1)) == expected
