"""Save and load trained models: weights, settings and seen items in one ``torch.save`` file.

The file holds only tensors and plain values, so it loads with ``torch.load(weights_only=True)``
(no pickled code runs on load). Settings that are callables or custom classes (a custom loss,
scheduler or optimizer class) are not saved: the loaded model predicts identically, but to train
it further, rebuild it with those settings and call ``load_weights``.

Which classes can be saved: every subclass of :class:`coursekit.model.base.RecommenderMixin`
registers itself here when it is defined (``register_model_class``), so this module imports no
model and models import it only through the base class: no import cycle.

A file records ``format_version`` (the layout of the file, ``FORMAT_VERSION``) and the class's
``config_version`` (the meaning of its saved settings). Loading checks both, and checks that every
size in the settings matches the tensors actually stored before building anything, so a damaged or
crafted file fails with a message naming it instead of allocating what it claims.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

from coursekit._files import atomic_write

#: Layout of a model file. 1: no ``config_version`` (read as version 1); 2: with it.
FORMAT_VERSION = 2

_CLASSES: dict[str, type] = {}


def register_model_class(cls: type) -> type:
    """Make ``cls`` saveable and loadable by its name; called by ``RecommenderMixin.__init_subclass__``.

    A class defined again under the same name (a re-run notebook cell) replaces the old one.
    """
    _CLASSES[cls.__name__] = cls
    return cls


def _model_classes() -> dict[str, type]:
    return dict(_CLASSES)


def save_model(model: Any, path: str | os.PathLike) -> Path:
    """Write ``model`` to ``path`` atomically: a failed save leaves any previous file intact.

    Returns
    -------
    pathlib.Path
        The path written.
    """
    path = _as_path(path)
    if type(model).__name__ not in _model_classes():
        raise TypeError(f"save_model saves coursekit models, got {type(model).__name__}")
    seen = model._seen
    payload = {
        "format_version": FORMAT_VERSION,
        "class": type(model).__name__,
        "config_version": int(getattr(type(model), "config_version", 1)),
        "config": model._config(),
        "state_dict": {name: tensor.detach().cpu() for name, tensor in model.state_dict().items()},
        # The training matrix, so a loaded model can still leave out items a user has seen.
        "seen": None
        if seen is None
        else {
            "indptr": torch.from_numpy(seen.indptr.astype(np.int64)),
            "indices": torch.from_numpy(seen.indices.astype(np.int64)),
            "shape": list(seen.shape),
        },
    }
    _atomic_torch_save(payload, path)
    return path


def load_model(path: str | os.PathLike) -> Any:
    """Load a model written by ``save_model``, on the CPU and in eval mode; no training data needed."""
    payload = _read(path)
    cls = _class_of(payload, path)
    config = payload["config"]
    _check_sizes(cls, config, payload, path)
    payload["state_dict"] = cls._upgrade_state_dict(payload["state_dict"])
    try:
        model = cls._from_config(config)
    except TypeError as error:  # settings this class does not take: a file from another version
        raise ValueError(
            f"{path} holds a {cls.__name__} whose settings this version of coursekit cannot rebuild "
            f"({error}); re-save it with the coursekit that wrote it, or rebuild and retrain the model"
        ) from error
    model.load_state_dict(payload["state_dict"])
    saved_seen = payload["seen"]
    if saved_seen is not None:
        data = np.ones(len(saved_seen["indices"]), dtype=np.float32)
        model._seen = sp.csr_matrix(
            (data, saved_seen["indices"].numpy(), saved_seen["indptr"].numpy()), shape=tuple(saved_seen["shape"])
        )
    return model.eval()


def _class_of(payload: dict[str, Any], path: Any) -> type:
    classes = _model_classes()
    name = payload.get("class")
    if name not in classes:
        raise ValueError(f"{path} holds a {name!r}, not one of {sorted(classes)}")
    cls = classes[name]
    saved, current = payload.get("config_version", 1), int(getattr(cls, "config_version", 1))
    if saved != current:
        raise ValueError(
            f"{path} was saved by another version of {name} (settings version {saved!r}; this coursekit "
            f"reads version {current}); re-save it with the coursekit that wrote it, or rebuild the model"
        )
    return cls


def _check_sizes(cls: type, config: Any, payload: dict[str, Any], path: Any) -> None:
    """Every size in ``config`` agrees with the tensors stored in the file, before anything is allocated."""
    if not isinstance(config, dict):
        raise ValueError(f"{path} is damaged: its settings are a {type(config).__name__}, not a dict")
    state = payload.get("state_dict")
    if not isinstance(state, dict) or not all(isinstance(t, torch.Tensor) for t in state.values()):
        raise ValueError(f"{path} is damaged: it has no state_dict of tensors")
    state = cls._upgrade_state_dict(state)
    try:
        expected = cls._state_shapes(config)
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"{path} is damaged or from another version: bad settings ({error})") from error
    for name, shape in expected.items():
        stored = tuple(state[name].shape) if name in state else None
        if stored != tuple(shape):
            raise ValueError(
                f"{path} is damaged: its settings say {name} has shape {tuple(shape)} but the file stores {stored}"
            )
    seen = payload.get("seen")
    if seen is not None:
        users, items = config.get("num_users"), config.get("num_items")
        ok = (
            isinstance(seen, dict)
            and list(seen.get("shape", [])) == [users, items]
            and isinstance(seen.get("indptr"), torch.Tensor)
            and isinstance(seen.get("indices"), torch.Tensor)
            and seen["indptr"].shape == (users + 1,)
            and (len(seen["indices"]) == 0 or 0 <= int(seen["indices"].min()) <= int(seen["indices"].max()) < items)
            and int(seen["indptr"][0]) == 0
            and int(seen["indptr"][-1]) == len(seen["indices"])
            and bool((seen["indptr"].diff() >= 0).all())
        )
        if not ok:
            raise ValueError(f"{path} is damaged: its seen-items matrix does not fit {users} users x {items} items")


def load_weights(model: Any, path: str | os.PathLike) -> Any:
    """Load the weights saved in ``path`` into ``model``; raise ``ValueError`` if they do not fit."""
    payload = _read(path)
    if payload["class"] != type(model).__name__:
        raise ValueError(f"{path} holds a {payload['class']}, cannot load it into a {type(model).__name__}")
    _class_of(payload, path)
    payload["state_dict"] = type(model)._upgrade_state_dict(payload["state_dict"])
    own = model.state_dict()
    for name, tensor in payload["state_dict"].items():
        if name in own and own[name].shape != tensor.shape:
            raise ValueError(
                f"cannot load {path}: {name} has shape {tuple(tensor.shape)} there but "
                f"{tuple(own[name].shape)} in this model (saved with {_describe(payload['config'])}; "
                f"this model has {_describe(model._config())})"
            )
    model.load_state_dict(payload["state_dict"])
    return model


def _describe(config: dict[str, Any]) -> str:
    keys = ("num_users", "num_items", "embedding_dim")
    return ", ".join(f"{k}={config[k]}" for k in keys if k in config)


def _read(path: str | os.PathLike) -> dict[str, Any]:
    path = _as_path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no saved model at {path}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # not a torch file at all (or a truncated one): say so plainly
        raise ValueError(f"{path} is not a coursekit model file (use save_model to write one): {error}") from error
    if not isinstance(payload, dict) or "format_version" not in payload:
        raise ValueError(f"{path} is not a coursekit model file (use save_model to write one)")
    version = payload["format_version"]
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ValueError(f"{path} is damaged: format_version is {version!r}")
    if version > FORMAT_VERSION:
        raise ValueError(
            f"{path} was written by a newer coursekit (file format {version}; this coursekit reads up to "
            f"{FORMAT_VERSION}); upgrade coursekit"
        )
    return payload


def _as_path(path: Any) -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a file path (str or os.PathLike), got {path!r}")
    return Path(path)


def _atomic_torch_save(payload: Any, path: Path) -> None:
    if path.is_dir():
        raise IsADirectoryError(f"path {str(path)!r} is a folder; give a file name such as {str(path / 'model.pt')!r}")
    if not path.parent.is_dir():
        raise FileNotFoundError(f"cannot save to {str(path)!r}: the folder {str(path.parent)!r} does not exist")
    with atomic_write(path) as stream:
        torch.save(payload, stream)
