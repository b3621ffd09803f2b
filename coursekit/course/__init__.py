"""The course layer: what the lessons need on top of the library.

==================  ===========================================================================
module              what it holds
==================  ===========================================================================
``session``         ``setup()`` (seed, threads, data path, quiet logs, plot style) and ``reset()``
``artifacts``       the one load-or-build for every artefact: manifests, checksums, settings keys
``formats``         how interactions, splits and models are stored (``.npz`` / ``.pt``, no pickle)
``data``            the tutorial data sets: ``implicit_movielens()``, ``tutorial_split()``, ``evaluation_split()``,
                    ``explicit_split()``
``recipes``         named recipes (the Collie lesson's models, lesson 03's, ``TUNED``), explicit seeds
``models``          trained models as artefacts (``load_or_train``, ``mf_lesson03``, ``mf_tuned``)
``training``        ``fit_timed()``
``compare``         evaluation tables, ``popular_share``, studies over seeds, paired comparisons
``search``          ``random_search()`` over a recipe's settings, scored on validation data
``plots``           the lessons' matplotlib figures
==================  ===========================================================================

The library (everything outside ``coursekit.course``) never imports this package.
"""

from coursekit.course.artifacts import ArtifactError, load_artifact, load_or_build, save_artifact
from coursekit.course.compare import (
    compare_models,
    evaluate_model,
    paired_comparison,
    popular_share,
    seed_study,
)
from coursekit.course.data import (
    build_tutorial_split,
    evaluation_split,
    explicit_split,
    implicit_movielens,
    tutorial_split,
)
from coursekit.course.models import load_or_train, load_or_train_model, save_trained_model
from coursekit.course.recipes import RECIPES, TUNED, Recipe, get_recipe
from coursekit.course.search import SearchResult, random_search
from coursekit.course.session import reset, setup
from coursekit.course.training import fit_timed

__all__ = [
    "RECIPES",
    "TUNED",
    "ArtifactError",
    "Recipe",
    "SearchResult",
    "build_tutorial_split",
    "evaluation_split",
    "compare_models",
    "evaluate_model",
    "explicit_split",
    "fit_timed",
    "get_recipe",
    "implicit_movielens",
    "load_artifact",
    "load_or_build",
    "load_or_train",
    "load_or_train_model",
    "paired_comparison",
    "popular_share",
    "random_search",
    "reset",
    "save_artifact",
    "save_trained_model",
    "seed_study",
    "setup",
    "tutorial_split",
]
