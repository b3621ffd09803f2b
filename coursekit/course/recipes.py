"""Named recipes: the models the lessons, the benchmarks and the tests train, one copy each.

A :class:`Recipe` is a model's settings (``MatrixFactorizationModel`` keywords), how many epochs it
trains and how its negatives are drawn. Every recipe trains from an explicit ``seed``: the model's
initial embeddings use ``seed``, its training loader ``seed + 1`` and its validation loader
``seed + 2`` (the model's own convention), so nothing depends on global random state.

>>> from coursekit.course.recipes import COLLIE_APPROXIMATE
>>> COLLIE_APPROXIMATE.negatives, dict(COLLIE_APPROXIMATE.model)
('approximate', {'embedding_dim': 10, 'lr': 0.01})
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from coursekit._checks import check_int

_NEGATIVES = ("exact", "approximate")
_KINDS = ("mf", "popularity", "explicit_mf")


@dataclasses.dataclass(frozen=True)
class Recipe:
    """How to build and train one model.

    Parameters
    ----------
    name
        Short name (the key in :data:`RECIPES`).
    description
        One sentence: where the recipe comes from.
    model
        ``MatrixFactorizationModel`` keywords (ignored for ``kind='popularity'``).
    max_epochs
        Training epochs.
    negatives
        ``'exact'``: the model wraps ``Interactions`` in ``InteractionsDataLoader`` (exact negatives);
        ``'approximate'``: ``ApproximateNegativeSamplingInteractionsDataLoader`` loaders of
        ``loader_batch_size`` rows (the Collie lesson's code).
    loader_batch_size
        Rows per batch of the approximate loaders.
    kind
        ``'mf'`` (``MatrixFactorizationModel``), ``'popularity'`` (``PopularityModel``, nothing to train)
        or ``'explicit_mf'`` (``ExplicitMatrixFactorizationModel`` on ``ExplicitInteractions``: ratings, no
        negatives, so ``negatives`` is unused).
    """

    name: str
    description: str
    model: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    max_epochs: int = 10
    negatives: str = "exact"
    loader_batch_size: int = 1024
    kind: str = "mf"

    def __post_init__(self) -> None:
        object.__setattr__(self, "model", MappingProxyType(dict(self.model)))
        check_int("max_epochs", self.max_epochs, minimum=1)
        check_int("loader_batch_size", self.loader_batch_size, minimum=1)
        if self.negatives not in _NEGATIVES:
            raise ValueError(f"negatives must be one of {_NEGATIVES}, got {self.negatives!r}")
        if self.kind not in _KINDS:
            raise ValueError(f"kind must be one of {_KINDS}, got {self.kind!r}")
        if "seed" in self.model or "train" in self.model or "val" in self.model:
            raise ValueError("a recipe's model settings must not hold train, val or seed: pass them to build()")

    def settings(self) -> dict[str, Any]:
        """Everything that decides what this recipe trains, as plain values (artefacts are keyed by it)."""
        return {
            "name": self.name,
            "kind": self.kind,
            "model": dict(self.model),
            "max_epochs": self.max_epochs,
            "negatives": self.negatives,
            "loader_batch_size": self.loader_batch_size,
        }

    def as_dict(self) -> dict[str, Any]:
        """``MatrixFactorizationModel`` keywords plus ``max_epochs``: the shape of the old ``TUNED`` dict."""
        return {**self.model, "max_epochs": self.max_epochs}

    def replace(self, name: str | None = None, max_epochs: int | None = None, **model: Any) -> Recipe:
        """A copy with some model settings (or ``max_epochs``) changed, e.g. ``TUNED.replace(lr=1e-2)``."""
        return dataclasses.replace(
            self,
            name=self.name if name is None else name,
            model={**self.model, **model},
            max_epochs=self.max_epochs if max_epochs is None else max_epochs,
        )

    def build(self, train: Any, val: Any = None, *, seed: int) -> Any:
        """The untrained model on ``train`` (and ``val``, whose loss the default schedule watches)."""
        from coursekit.model import MatrixFactorizationModel, PopularityModel

        seed = check_int("seed", seed, minimum=0)
        if self.kind == "popularity":
            return PopularityModel(train=train)
        if self.kind == "explicit_mf":
            from coursekit.model import ExplicitMatrixFactorizationModel

            return ExplicitMatrixFactorizationModel(train=train, val=val, seed=seed, **self.model)
        if self.negatives == "approximate":
            from coursekit.loaders import ApproximateNegativeSamplingInteractionsDataLoader as Approximate

            batch = self.loader_batch_size
            train = Approximate(train, batch_size=batch, shuffle=True, seed=seed + 1)
            val = None if val is None else Approximate(val, batch_size=batch, shuffle=False, seed=seed + 2)
        return MatrixFactorizationModel(train=train, val=val, seed=seed, **_resolved_metadata(self.model, train))

    def fit(self, train: Any, val: Any = None, *, seed: int, **trainer_kwargs: Any) -> tuple[Any, Any, float]:
        """Build and train the model; return ``(model in eval mode, trainer or None, seconds)``."""
        import coursekit.model  # noqa: F401  (imported before the clock starts: Lightning takes seconds to import)
        from coursekit.course.training import fit_timed

        started = time.perf_counter()
        model = self.build(train, val, seed=seed)
        if self.kind == "popularity":
            return model.eval(), None, time.perf_counter() - started
        trainer, seconds = fit_timed(model, max_epochs=self.max_epochs, **trainer_kwargs)
        return model, trainer, seconds


#: Item metadata a recipe can name in ``metadata_for_loss`` (its settings stay plain values):
#: ``{"genre": "movielens_genres"}`` builds the 19 MovieLens genre flags for the training data's items.
LOSS_METADATA = {
    "movielens_genres": lambda num_items: _movielens_item_features(num_items, "genre:"),
    "movielens_decades": lambda num_items: _movielens_item_features(num_items, "decade:"),
}


def _movielens_item_features(num_items: int, prefix: str) -> Any:
    from coursekit.metadata import movielens_item_metadata

    return movielens_item_metadata(num_items=num_items, decades=prefix == "decade:").select(prefix).values


def _resolved_metadata(settings: Mapping[str, Any], train: Any) -> dict[str, Any]:
    """``settings`` with each name in ``metadata_for_loss`` replaced by its matrix (see :data:`LOSS_METADATA`)."""
    settings = dict(settings)
    named = settings.get("metadata_for_loss")
    if isinstance(named, Mapping) and any(isinstance(value, str) for value in named.values()):
        from coursekit.model.base import interactions_of

        num_items = interactions_of(train).num_items
        resolved = {}
        for key, value in named.items():
            if isinstance(value, str) and value not in LOSS_METADATA:
                raise KeyError(f"metadata_for_loss[{key!r}] names {value!r}, not one of {sorted(LOSS_METADATA)}")
            resolved[key] = LOSS_METADATA[value](num_items) if isinstance(value, str) else value
        settings["metadata_for_loss"] = resolved
    return settings


POPULARITY = Recipe(
    "popularity", "PopularityModel: every user gets the items most users liked in train.", kind="popularity"
)

LESSON03 = Recipe(
    "lesson03",
    "Lesson 03's first model: exact negatives, 10 dimensions, Adam at 0.01, SGD biases at the default 0.01.",
    {"embedding_dim": 10, "lr": 1e-2},
)

COLLIE_APPROXIMATE = Recipe(
    "collie_approximate",
    "The Collie lesson's first model (lesson 04, section 3): approximate-negative loaders of 1,024 rows, "
    "10 dimensions, Adam at 0.01.",
    {"embedding_dim": 10, "lr": 1e-2},
    negatives="approximate",
)

COLLIE_SEPARATE_BIAS = Recipe(
    "collie_separate_bias",
    "The Collie lesson's second model (lesson 04, section 4): Adam at 0.01 for the vectors, SGD at 0.1 for the biases.",
    {"embedding_dim": 10, "lr": 1e-2, "bias_lr": 1e-1, "optimizer": "adam", "bias_optimizer": "sgd"},
)

ONE_OPTIMIZER = Recipe(
    "one_optimizer",
    "Lesson 04's contrast: one Adam at 0.01 for vectors and biases alike.",
    {"embedding_dim": 10, "lr": 1e-2, "bias_optimizer": None},
)

CONSTANT_LR = Recipe(
    "constant_lr",
    "Lesson 04, section 5: the separate bias optimizer with constant learning rates (no schedule).",
    {"embedding_dim": 10, "lr": 1e-2, "bias_lr": 1e-1, "lr_scheduler_func": None},
)

#: The course's tuned model: the winner of lesson 06's two-stage grid search (embedding size and
#: learning rate, then weight decay and loss) by masked MAP@10 on the validation part of
#: ``evaluation_split()``, reported once on its test part (lesson 06 asserts the two agree). No learning-rate schedule: the validation loss it would watch counts a user's
#: training items as negatives, and cut the rate while rankings still improved.
TUNED = Recipe(
    "tuned",
    "The course's tuned model: 64 dimensions, Adam at 0.002 with weight decay 1e-4, SGD biases at 0.1, "
    "adaptive hinge, constant rates.",
    {
        "embedding_dim": 64,
        "lr": 2e-3,
        "bias_lr": 1e-1,
        "optimizer": "adam",
        "bias_optimizer": "sgd",
        "loss": "adaptive_hinge",  # the hinge on the hardest of the 10 negatives
        "weight_decay": 1e-4,  # L2 on the embeddings; biases are not decayed
        "lr_scheduler_func": None,
    },
    max_epochs=10,
)

#: Lesson 10's rating model: Collie's tutorial 07 settings (10 dimensions, Adam at 0.01, SGD biases at 0.01,
#: the default schedule), mean squared error on 1-5 star ratings squashed into ``y_range``.
EXPLICIT_MSE = Recipe(
    "explicit_mse",
    "Lesson 10's explicit model, Collie's tutorial 07: MSE on 1-5 stars, y_range (1, 5), 10 dimensions, Adam at 0.01.",
    {"embedding_dim": 10, "lr": 1e-2, "y_range": (1, 5)},
    kind="explicit_mf",
)

#: Lesson 07: Collie's tutorial 04 model, lesson 03's settings plus partial credit for shared genres.
PARTIAL_CREDIT = Recipe(
    "partial_credit",
    "Lesson 07 (Collie's tutorial 04): lesson 03's model, with a negative that shares genres with the positive "
    "needing a smaller score gap (genre weight 0.4, Jaccard overlap of the 19 genre flags).",
    {
        "embedding_dim": 10,
        "lr": 1e-2,
        "metadata_for_loss": {"genre": "movielens_genres"},
        "metadata_for_loss_weights": {"genre": 0.4},
    },
)

#: Every named recipe, by name.
RECIPES: dict[str, Recipe] = {
    recipe.name: recipe
    for recipe in (
        POPULARITY,
        LESSON03,
        COLLIE_APPROXIMATE,
        COLLIE_SEPARATE_BIAS,
        ONE_OPTIMIZER,
        CONSTANT_LR,
        TUNED,
        EXPLICIT_MSE,
        PARTIAL_CREDIT,
    )
}


def get_recipe(recipe: str | Recipe) -> Recipe:
    """``recipe`` itself, or the named recipe; ``KeyError`` lists the names."""
    if isinstance(recipe, Recipe):
        return recipe
    if isinstance(recipe, str) and recipe in RECIPES:
        return RECIPES[recipe]
    raise KeyError(f"recipe must be a Recipe or one of {sorted(RECIPES)}, got {recipe!r}")
