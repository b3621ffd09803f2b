"""What the lessons share: the implicit MovieLens data, the tutorial split, and saved artefacts.

Every lesson can run on its own. A lesson that needs what an earlier one built calls
:func:`load_or_build`: it loads the artefact the earlier lesson saved under
``<data path>/artifacts/`` (see :func:`coursekit.movielens.get_data_path`), or rebuilds it
with the same code when the file is missing. Artefacts are joblib files written
atomically, so an interrupted lesson never leaves half a file for the next one.

A reloaded :class:`~coursekit.interactions.Interactions` resumes its random generator
where it was when saved; save objects before drawing negatives from them if a later
lesson must sample exactly as a fresh one would.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import joblib

from coursekit._files import atomic_write
from coursekit.interactions import Interactions
from coursekit.movielens import get_data_path, read_movielens_df
from coursekit.utils import convert_to_implicit

T = TypeVar("T")

ARTIFACTS_FOLDER = "artifacts"
# The split every lesson from 03 on trains and validates on.
TUTORIAL_SPLIT = {"name": "tutorial_split", "test_p": 0.1, "seed": 42}
# Seed of the Interactions built by implicit_movielens (it drives __getitem__'s negatives).
MOVIELENS_SEED = 42

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


def artifact_path(name: str) -> Path:
    """Where the artefact ``name`` lives: ``<data path>/artifacts/<name>.joblib``."""
    if not isinstance(name, str) or not _NAME.fullmatch(name) or name.endswith(".joblib"):
        raise ValueError(
            f"name must be a plain file stem (letters, digits, '_', '.', '-'; no folders, no "
            f"'.joblib'), got {name!r}"
        )
    return get_data_path() / ARTIFACTS_FOLDER / f"{name}.joblib"


def save_artifact(obj: Any, name: str) -> Path:
    """Save ``obj`` with joblib as the artefact ``name``, atomically; return the file's path.

    The object is written to a temporary file in the same folder, then moved into place
    with ``os.replace``: readers see the old file or the new one, never a partial one.
    """
    path = artifact_path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path) as stream:
        joblib.dump(obj, stream)
    return path


def load_artifact(name: str) -> Any:
    """Load the artefact ``name``; ``FileNotFoundError`` says which lesson to run when it is missing."""
    path = artifact_path(name)
    if not path.exists():
        raise FileNotFoundError(
            f"no saved artefact {name!r} at {path}: run the lesson that saves it, "
            "or use coursekit.lessons.load_or_build"
        )
    return joblib.load(path)


def load_or_build(
    name: str,
    build: Callable[[], T],
    load: Callable[[str], T] = load_artifact,
    save: Callable[[T, str], Any] = save_artifact,
) -> T:
    """Load the artefact ``name`` if it was saved, else return ``build()`` (saved for next time).

    ``load`` (raising ``FileNotFoundError`` when nothing was saved) and ``save`` default to joblib
    artefacts; :func:`coursekit.compare.load_or_train_model` passes the model file format instead.
    """
    if not callable(build):
        raise TypeError(f"build must be a function of no arguments, got {type(build).__name__}")
    try:
        return load(name)
    except FileNotFoundError:
        pass
    obj = build()
    save(obj, name)
    return obj


def implicit_movielens(
    min_rating: float = 4, num_negative_samples: int = 10, seed: int = MOVIELENS_SEED
) -> Interactions:
    """MovieLens 100K as implicit feedback: every rating of at least ``min_rating`` stars.

    Item ``i`` is MovieLens movie ``i + 1`` (ids are only decremented, not re-encoded), so
    titles from ``read_movielens_df_item`` join on ``item_id - 1``. Movies nobody rated that
    high are empty columns (``allow_missing_ids=True``), and the last such movies (1675-1682)
    get no column at all: ``num_items`` is the largest id kept plus one. Timestamps are kept
    for :func:`coursekit.cross_validation.temporal_split`.

    With the defaults: 55,375 interactions, 943 users, 1,674 items.
    """
    implicit = convert_to_implicit(read_movielens_df(), min_rating_to_keep=min_rating)
    return Interactions(
        users=implicit["user_id"],
        items=implicit["item_id"],
        timestamps=implicit["timestamp"],
        num_negative_samples=num_negative_samples,
        allow_missing_ids=True,
        seed=seed,
    )


def build_tutorial_split() -> tuple[Interactions, Interactions]:
    """Build the tutorial split from scratch: ``stratified_split(implicit_movielens(), test_p=0.1, seed=42)``."""
    from coursekit.cross_validation import stratified_split

    train, validation = stratified_split(
        implicit_movielens(), test_p=TUTORIAL_SPLIT["test_p"], seed=TUTORIAL_SPLIT["seed"]
    )
    return train, validation


def tutorial_split() -> tuple[Interactions, Interactions]:
    """The ``(train, validation)`` pair of lessons 03+: 49,426 and 5,949 interactions.

    Loaded from the artefact lesson 02 saved, or rebuilt (and saved) when it is missing.
    """
    return load_or_build(TUTORIAL_SPLIT["name"], build_tutorial_split)
