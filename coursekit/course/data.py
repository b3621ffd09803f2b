"""The course's data sets: MovieLens 100K as implicit feedback, the tutorial split of lessons 03+,
and the three-way splits of lesson 06 (train / validation / test, stratified and temporal).

Both are registered artefacts (:mod:`coursekit.course.artifacts`): built once, saved with their
settings, checked on every load, rebuilt when missing, damaged or built differently.
"""

from __future__ import annotations

from typing import Any

from coursekit.course import artifacts
from coursekit.interactions import Interactions

#: Kept for old imports: Interactions hold no random state any more (loaders own the seeds).
MOVIELENS_SEED = 42
#: What :func:`implicit_movielens` builds by default (the settings its artefact is keyed by).
MOVIELENS_SETTINGS: dict[str, Any] = {
    "dataset": "ml-100k",
    "min_rating": 4,
    "num_negative_samples": 10,
}
#: The split every lesson from 03 on trains and validates on.
TUTORIAL_SPLIT: dict[str, Any] = {"name": "tutorial_split", "test_p": 0.1, "seed": 42}
#: What the tutorial split artefact is keyed by: its data and how it is split.
TUTORIAL_SPLIT_SETTINGS: dict[str, Any] = {
    "data": MOVIELENS_SETTINGS,
    "split": "stratified_split",
    "test_p": TUTORIAL_SPLIT["test_p"],
    "seed": TUTORIAL_SPLIT["seed"],
}


def implicit_movielens(min_rating: float = 4, num_negative_samples: int = 10, seed: int | None = None) -> Interactions:
    """MovieLens 100K as implicit feedback: every rating of at least ``min_rating`` stars.

    Item ``i`` is MovieLens movie ``i + 1`` (ids are only decremented, not re-encoded), so
    titles from ``read_movielens_df_item`` join on ``item_id - 1``. Movies nobody rated that
    high are empty columns (``allow_missing_ids=True``), and the last such movies (1675-1682)
    get no column at all: ``num_items`` is the largest id kept plus one. Timestamps are kept
    for :func:`coursekit.cross_validation.temporal_split`.

    With the defaults: 55,375 interactions, 943 users, 1,674 items. ``seed`` is ignored (an
    ``Interactions`` holds no random state; seed the loaders instead) and kept for old calls.
    """
    from coursekit.movielens import read_movielens_df
    from coursekit.utils import convert_to_implicit

    implicit = convert_to_implicit(read_movielens_df(), min_rating_to_keep=min_rating)
    return Interactions(
        users=implicit["user_id"],
        items=implicit["item_id"],
        timestamps=implicit["timestamp"],
        num_negative_samples=num_negative_samples,
        allow_missing_ids=True,
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

    Loaded from the artefact lesson 02 saved, or rebuilt (and saved) when it is missing,
    damaged or was built with other settings.
    """
    return artifacts.load_or_build(TUTORIAL_SPLIT["name"], build_tutorial_split, TUTORIAL_SPLIT_SETTINGS)


#: Lesson 06's protocol: 80 % train, 10 % validation (for choosing settings), 10 % test (touched once).
#: Another seed than the tutorial split's, so the test part is not the validation part lessons 03-05 looked at.
EVALUATION_SPLIT: dict[str, Any] = {"val_p": 0.1, "test_p": 0.1, "seed": 6}


def evaluation_split_settings(kind: str = "stratified") -> dict[str, Any]:
    """What an evaluation split artefact is keyed by: its data, its kind and its fractions."""
    if kind not in ("stratified", "temporal"):
        raise ValueError(f"kind must be 'stratified' or 'temporal', got {kind!r}")
    settings = {"data": MOVIELENS_SETTINGS, "split": f"{kind}_split", **EVALUATION_SPLIT}
    if kind == "temporal":
        settings.pop("seed")  # a temporal split is decided by the timestamps alone
    return settings


def build_evaluation_split(kind: str = "stratified") -> tuple[Interactions, Interactions, Interactions]:
    """``(train, validation, test)``: each user's interactions split 80/10/10, at random or by time.

    ``kind='stratified'`` holds out a random ``ceil(10 %)`` of each user's interactions for test and
    another for validation (``seed`` 6); ``kind='temporal'`` holds out each user's most recent 10 %
    for test and the 10 % before those for validation.
    """
    from coursekit.cross_validation import stratified_split, temporal_split

    settings = evaluation_split_settings(kind)
    if kind == "temporal":
        return temporal_split(implicit_movielens(), val_p=settings["val_p"], test_p=settings["test_p"])
    return stratified_split(
        implicit_movielens(), val_p=settings["val_p"], test_p=settings["test_p"], seed=settings["seed"]
    )


def evaluation_split(kind: str = "stratified") -> tuple[Interactions, Interactions, Interactions]:
    """Lesson 06's ``(train, validation, test)`` split (see :func:`build_evaluation_split`), cached as an artefact."""
    return artifacts.load_or_build(
        f"evaluation_split_{kind}", lambda: build_evaluation_split(kind), evaluation_split_settings(kind)
    )


artifacts.register("implicit_movielens", implicit_movielens, MOVIELENS_SETTINGS)
for _kind in ("stratified", "temporal"):
    artifacts.register(
        f"evaluation_split_{_kind}", lambda kind=_kind: build_evaluation_split(kind), evaluation_split_settings(_kind)
    )
# A lambda, so a test (or a teacher) replacing build_tutorial_split is what a rebuild calls.
artifacts.register(TUTORIAL_SPLIT["name"], lambda: build_tutorial_split(), TUTORIAL_SPLIT_SETTINGS)


# -- explicit ratings (lesson 10) ----------------------------------------------------------------

#: What :func:`explicit_movielens` builds: every rating of MovieLens 100K, on its 1-5 star scale.
EXPLICIT_MOVIELENS_SETTINGS: dict[str, Any] = {"dataset": "ml-100k", "ratings": "explicit", "rating_range": [1, 5]}
#: Lesson 10's split, Collie's tutorial 07: stratified, 10% of each user's ratings held out, seed 42.
EXPLICIT_SPLIT: dict[str, Any] = {"name": "explicit_split", "test_p": 0.1, "seed": 42}
EXPLICIT_SPLIT_SETTINGS: dict[str, Any] = {
    "data": EXPLICIT_MOVIELENS_SETTINGS,
    "split": "stratified_split",
    "test_p": EXPLICIT_SPLIT["test_p"],
    "seed": EXPLICIT_SPLIT["seed"],
}


def explicit_movielens() -> Any:
    """All 100,000 MovieLens 100K ratings as :class:`~coursekit.explicit.ExplicitInteractions` (1-5 stars).

    943 users, 1,682 items (item ``i`` is movie ``i + 1``), timestamps kept.
    """
    from coursekit.explicit import ExplicitInteractions
    from coursekit.movielens import read_movielens_df

    df = read_movielens_df()
    return ExplicitInteractions(
        df["user_id"], df["item_id"], df["rating"], rating_range=(1, 5), timestamps=df["timestamp"]
    )


def build_explicit_split() -> tuple[Any, Any]:
    """``stratified_split(explicit_movielens(), test_p=0.1, seed=42)``: Collie tutorial 07's split."""
    from coursekit.cross_validation import stratified_split

    train, test = stratified_split(explicit_movielens(), test_p=EXPLICIT_SPLIT["test_p"], seed=EXPLICIT_SPLIT["seed"])
    return train, test


def explicit_split() -> tuple[Any, Any]:
    """The ``(train, test)`` ratings of lesson 10: 89,561 and 10,439 (the numbers Collie prints).

    Loaded from its artefact, or rebuilt (and saved) when missing, damaged or built with other settings.
    """
    return artifacts.load_or_build(EXPLICIT_SPLIT["name"], build_explicit_split, EXPLICIT_SPLIT_SETTINGS)


artifacts.register(EXPLICIT_SPLIT["name"], lambda: build_explicit_split(), EXPLICIT_SPLIT_SETTINGS)
