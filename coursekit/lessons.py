"""Old home of the lessons' data and artefacts: they live in :mod:`coursekit.course` (course layer).

The names the lessons use (``implicit_movielens``, ``build_tutorial_split``, ``tutorial_split``,
``save_artifact``, ``load_or_build``) work here without a warning; the others warn with a
``DeprecationWarning`` and say where they went. Artefacts are no longer joblib files: see
:mod:`coursekit.course.artifacts` (``.npz`` / ``.pt`` with a manifest, no pickle).
"""

from __future__ import annotations

from coursekit._deprecation import moved_names
from coursekit.course.artifacts import load_or_build, save_artifact
from coursekit.course.data import build_tutorial_split, implicit_movielens, tutorial_split

__all__ = ["build_tutorial_split", "implicit_movielens", "load_or_build", "save_artifact", "tutorial_split"]

_MOVED = {
    "artifact_path": "coursekit.course.artifacts",
    "load_artifact": "coursekit.course.artifacts",
    "ARTIFACTS_FOLDER": "coursekit.course.artifacts",
    "TUTORIAL_SPLIT": "coursekit.course.data",
    "MOVIELENS_SEED": "coursekit.course.data",
}


__getattr__ = moved_names(__name__, _MOVED)
