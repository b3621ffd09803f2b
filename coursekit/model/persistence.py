"""Save and load trained models: weights, settings and seen items in one ``torch.save`` file.

The file holds only tensors and plain values, so it loads with ``torch.load(weights_only=True)``
(no pickled code runs on load). Settings that are callables or custom classes (a custom loss,
scheduler or optimizer class) are not saved: the loaded model predicts identically, but to train
it further, rebuild it with those settings and call ``load_weights``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

from coursekit._files import atomic_write

FORMAT_VERSION = 1


def _model_classes() -> dict[str, type]:
    from coursekit.model.matrix_factorization import MatrixFactorizationModel
    from coursekit.model.popularity import PopularityModel

    return {cls.__name__: cls for cls in (MatrixFactorizationModel, PopularityModel)}


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
    classes = _model_classes()
    if payload["class"] not in classes:
        raise ValueError(f"{path} holds a {payload['class']!r}, not one of {sorted(classes)}")
    model = classes[payload["class"]]._from_config(payload["config"])
    model.load_state_dict(payload["state_dict"])
    saved_seen = payload["seen"]
    if saved_seen is not None:
        data = np.ones(len(saved_seen["indices"]), dtype=np.float32)
        model._seen = sp.csr_matrix(
            (data, saved_seen["indices"].numpy(), saved_seen["indptr"].numpy()), shape=tuple(saved_seen["shape"])
        )
    return model.eval()


def load_weights(model: Any, path: str | os.PathLike) -> Any:
    """Load the weights saved in ``path`` into ``model``; raise ``ValueError`` if they do not fit."""
    payload = _read(path)
    if payload["class"] != type(model).__name__:
        raise ValueError(f"{path} holds a {payload['class']}, cannot load it into a {type(model).__name__}")
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
    if payload["format_version"] > FORMAT_VERSION:
        raise ValueError(
            f"{path} was written by a newer coursekit (format {payload['format_version']}); upgrade coursekit"
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
