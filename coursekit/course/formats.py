"""How each kind of artefact is written and read, without pickle.

* ``interactions``: one :class:`~coursekit.interactions.Interactions`, as ``.npz``: the CSR
  arrays (``indptr``, ``indices``, ``data``) and the timestamps, plus small JSON metadata
  (sizes, negatives per row) that the manifest keeps;
* ``split``: a tuple of ``Interactions`` (e.g. train and validation), the same arrays per part;
  :class:`~coursekit.explicit.ExplicitInteractions` are stored alike, the ratings as ``data`` and
  ``"explicit": true`` with their ``rating_range`` in the metadata;
* ``model``: a coursekit model, written by :func:`coursekit.model.save_model` (a
  ``torch.load(weights_only=True)`` file).

Reading never unpickles: ``.npz`` files are opened with ``allow_pickle=False`` after every
member's header (dtype, shape, size) is checked against the manifest, so a crafted header cannot
ask for a huge allocation; models load with ``weights_only=True``. What is read is checked again
(type, dtype, shape, id ranges) before an object is built from it.
"""

from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from coursekit._files import atomic_write

# Array dtypes an artefact may hold: ids and timestamps, and float32 ratings. Nothing else
# (in particular no object arrays, the only ones numpy would need pickle for).
_DTYPES = {"int64": np.dtype("<i8"), "float32": np.dtype("<f4")}


class ArtifactFormatError(ValueError):
    """The file's content is not what an artefact of its kind may hold."""


@dataclass(frozen=True)
class Kind:
    """One kind of artefact: its file suffix, which objects it stores, how it writes and reads them."""

    name: str
    suffix: str
    accepts: Callable[[Any], bool]
    write: Callable[[Any, Path], dict]  # writes the file; returns the manifest's "content"
    read: Callable[[Path, dict], Any]  # rebuilds the object from the file and that "content"


def kind_of(obj: Any) -> Kind:
    """The kind that stores ``obj``; ``TypeError`` names the kinds there are."""
    for kind in KINDS.values():
        if kind.accepts(obj):
            return kind
    raise TypeError(
        "an artefact must be an Interactions, a tuple of Interactions (a split) or a coursekit model, "
        f"got {type(obj).__name__}"
    )


# -- Interactions and splits ---------------------------------------------------------------------


def _is_interactions(obj: Any) -> bool:
    from coursekit.explicit import ExplicitInteractions
    from coursekit.interactions import Interactions

    return isinstance(obj, (Interactions, ExplicitInteractions))


def _is_split(obj: Any) -> bool:
    return isinstance(obj, tuple) and len(obj) > 0 and all(_is_interactions(part) for part in obj)


def _arrays_of(interactions: Any, prefix: str) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    mat = interactions.mat.tocsr()
    arrays = {
        f"{prefix}indptr": mat.indptr.astype("<i8"),
        f"{prefix}indices": mat.indices.astype("<i8"),
        f"{prefix}data": mat.data.astype("<f4"),
    }
    if interactions.timestamps is not None:
        arrays[f"{prefix}timestamps"] = np.asarray(interactions.timestamps).astype("<i8")
    meta = {
        "num_users": int(interactions.num_users),
        "num_items": int(interactions.num_items),
        "timestamps": interactions.timestamps is not None,
    }
    if hasattr(interactions, "rating_range"):  # ExplicitInteractions: ratings, no negatives
        rating_range = interactions.rating_range
        meta["explicit"] = True
        meta["rating_range"] = None if rating_range is None else [float(value) for value in rating_range]
    else:
        meta["num_negative_samples"] = int(interactions.num_negative_samples)
    return arrays, meta


def _write_npz(arrays: dict[str, np.ndarray], path: Path) -> dict[str, dict]:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)  # stored, not compressed: a member's size is its array's size
    with atomic_write(path) as stream:
        stream.write(buffer.getbuffer())
    return {name: {"dtype": _dtype_name(array.dtype), "shape": list(array.shape)} for name, array in arrays.items()}


def _write_interactions(obj: Any, path: Path) -> dict:
    arrays, meta = _arrays_of(obj, "")
    return {"arrays": _write_npz(arrays, path), "parts": [meta]}


def _write_split(obj: tuple, path: Path) -> dict:
    arrays, parts = {}, []
    for index, part in enumerate(obj):
        part_arrays, meta = _arrays_of(part, f"part{index}_")
        arrays.update(part_arrays)
        parts.append(meta)
    return {"arrays": _write_npz(arrays, path), "parts": parts}


def _read_interactions(path: Path, content: dict) -> Any:
    (part,) = _read_parts(path, content, single=True)
    return part


def _read_split(path: Path, content: dict) -> tuple:
    return tuple(_read_parts(path, content, single=False))


def _read_parts(path: Path, content: dict, single: bool) -> list:
    arrays_spec = _expect(content.get("arrays"), dict, "content.arrays")
    parts = _expect(content.get("parts"), list, "content.parts")
    if not parts or (single and len(parts) != 1):
        raise ArtifactFormatError(f"content.parts must list {'one part' if single else 'the parts'}, got {len(parts)}")
    arrays = _read_npz(path, arrays_spec)
    return [
        _build_interactions(arrays, _expect(meta, dict, f"part {index}"), "" if single else f"part{index}_")
        for index, meta in enumerate(parts)
    ]


def _build_interactions(arrays: dict[str, np.ndarray], meta: dict, prefix: str) -> Any:
    import scipy.sparse as sp

    from coursekit.interactions import Interactions

    num_users = _count(meta, "num_users")
    num_items = _count(meta, "num_items")
    explicit = _expect(meta.get("explicit", False), bool, "explicit")
    negatives = None if explicit else _count(meta, "num_negative_samples")
    expected = {"indptr": ("int64", (num_users + 1,)), "indices": ("int64", None), "data": ("float32", None)}
    if _expect(meta.get("timestamps"), bool, "timestamps"):
        expected["timestamps"] = ("int64", None)
    names = {prefix + name for name in expected}
    missing = names - set(arrays)
    if missing:
        raise ArtifactFormatError(f"missing array {min(missing)!r}")
    indptr = arrays[prefix + "indptr"]
    nnz = int(indptr[-1]) if len(indptr) else -1
    for name, (dtype, shape) in expected.items():
        array = arrays[prefix + name]
        shape = (nnz,) if shape is None else shape
        if array.dtype != _DTYPES[dtype] or array.shape != shape:
            raise ArtifactFormatError(
                f"array {prefix + name!r} must be {dtype} of shape {shape}, got {array.dtype} of shape {array.shape}"
            )
    indices = arrays[prefix + "indices"]
    if indptr[0] != 0 or (np.diff(indptr) < 0).any():
        raise ArtifactFormatError(
            f"array {prefix}indptr is not a valid CSR row pointer (must start at 0 and never decrease)"
        )
    if len(indices) and (indices.min() < 0 or indices.max() >= num_items):
        raise ArtifactFormatError(f"array {prefix}indices has item ids outside 0..{num_items - 1}")
    data = arrays[prefix + "data"]
    if not np.isfinite(data).all():
        raise ArtifactFormatError(f"array {prefix}data has values that are not finite")
    if explicit:
        return _build_explicit(arrays, meta, prefix, indptr, indices, data, num_users, num_items)
    mat = sp.csr_matrix((data, indices, indptr), shape=(num_users, num_items))
    kwargs: dict[str, Any] = {
        "mat": mat,
        "num_negative_samples": negatives,
        "allow_missing_ids": True,
        "timestamps": arrays.get(prefix + "timestamps"),
    }
    return Interactions(**kwargs)


def _build_explicit(arrays, meta, prefix, indptr, indices, data, num_users, num_items) -> Any:
    from coursekit.explicit import ExplicitInteractions

    rating_range = meta.get("rating_range")
    if rating_range is not None and not (
        isinstance(rating_range, list) and len(rating_range) == 2 and all(isinstance(v, float) for v in rating_range)
    ):
        raise ArtifactFormatError(f"rating_range must be null or two numbers, got {rating_range!r}")
    users = np.repeat(np.arange(num_users, dtype=np.int64), np.diff(indptr))
    try:  # the constructor checks the ratings against the range and refuses repeated pairs
        return ExplicitInteractions(
            users,
            indices,
            data,
            rating_range=None if rating_range is None else tuple(rating_range),
            num_users=num_users,
            num_items=num_items,
            allow_missing_ids=True,
            timestamps=arrays.get(prefix + "timestamps"),
        )
    except (TypeError, ValueError) as error:
        raise ArtifactFormatError(f"its explicit ratings are not valid ({error})") from error


def _read_npz(path: Path, spec: dict[str, Any]) -> dict[str, np.ndarray]:
    """The arrays of ``path``, after checking each member's header against ``spec`` (no pickle, no huge allocation)."""
    expected = {}
    for name, entry in spec.items():
        entry = _expect(entry, dict, f"array {name!r}")
        dtype = entry.get("dtype")
        if dtype not in _DTYPES:
            raise ArtifactFormatError(f"array {name!r} has dtype {dtype!r}; artefacts hold only {sorted(_DTYPES)}")
        shape = _expect(entry.get("shape"), list, f"array {name!r} shape")
        if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape):
            raise ArtifactFormatError(f"array {name!r} has an invalid shape {shape!r}")
        expected[f"{name}.npy"] = (_DTYPES[dtype], tuple(shape))
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as error:
        raise ArtifactFormatError(f"not an .npz archive ({error})") from error
    with archive:
        members = {info.filename: info for info in archive.infolist()}
        if set(members) != set(expected):
            raise ArtifactFormatError(f"holds arrays {sorted(members)}, the manifest lists {sorted(expected)}")
        for member, info in members.items():
            dtype, shape = expected[member]
            if info.compress_type != zipfile.ZIP_STORED:
                raise ArtifactFormatError(f"member {member!r} is compressed; coursekit writes stored members only")
            with archive.open(info) as stream:
                try:
                    version = np.lib.format.read_magic(stream)
                    read_header = (
                        np.lib.format.read_array_header_1_0
                        if version == (1, 0)
                        else np.lib.format.read_array_header_2_0
                    )
                    found_shape, fortran, found_dtype = read_header(stream)
                except ValueError as error:
                    raise ArtifactFormatError(f"member {member!r} has no valid array header ({error})") from error
            if found_dtype != dtype or tuple(found_shape) != shape or fortran:
                raise ArtifactFormatError(
                    f"member {member!r} is {found_dtype} {tuple(found_shape)}, the manifest says {dtype} {shape}"
                )
            if int(np.prod(shape, dtype=np.int64)) * dtype.itemsize > info.file_size:
                raise ArtifactFormatError(f"member {member!r} is shorter than its {shape} array")
        try:
            with np.load(path, allow_pickle=False) as npz:
                return {name: npz[name] for name in npz.files}
        except Exception as error:  # a damaged member: numpy raises several kinds
            raise ArtifactFormatError(f"cannot read its arrays ({type(error).__name__}: {error})") from error


# -- models ---------------------------------------------------------------------------------------


def _is_model(obj: Any) -> bool:
    from coursekit.model import MatrixFactorizationModel, PopularityModel

    return isinstance(obj, (MatrixFactorizationModel, PopularityModel))


def _write_model(obj: Any, path: Path) -> dict:
    from coursekit.model import save_model

    save_model(obj, os.fspath(path))
    return {"class": type(obj).__name__}


def _read_model(path: Path, content: dict) -> Any:
    from coursekit.model import load_model

    model = load_model(path)
    expected = content.get("class")
    if type(model).__name__ != expected:
        raise ArtifactFormatError(f"holds a {type(model).__name__}, the manifest says {expected!r}")
    return model


# -- helpers --------------------------------------------------------------------------------------


def _dtype_name(dtype: np.dtype) -> str:
    for name, known in _DTYPES.items():
        if dtype == known:
            return name
    raise TypeError(f"artefact arrays must be one of {sorted(_DTYPES)}, got {dtype}")


def _expect(value: Any, kind: type, what: str) -> Any:
    if not isinstance(value, kind):
        raise ArtifactFormatError(f"{what} must be a {kind.__name__}, got {type(value).__name__}")
    return value


def _count(meta: dict, key: str, minimum: int = 1) -> int:
    value = meta.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum or value >= 2**40:
        raise ArtifactFormatError(f"{key} must be an integer in {minimum}..2**40, got {value!r}")
    return value


KINDS: dict[str, Kind] = {
    "interactions": Kind("interactions", ".npz", _is_interactions, _write_interactions, _read_interactions),
    "split": Kind("split", ".npz", _is_split, _write_split, _read_split),
    "model": Kind("model", ".pt", _is_model, _write_model, _read_model),
}
