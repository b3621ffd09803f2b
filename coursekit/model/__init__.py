"""Recommender models, the course trainer, and saving/loading trained models."""

from coursekit.model.base import RecommenderMixin, with_titles
from coursekit.model.baselines import RandomModel
from coursekit.model.cold_start import ColdStartModel
from coursekit.model.explicit_factorization import ExplicitMatrixFactorizationModel
from coursekit.model.hybrid import HybridModel
from coursekit.model.implicit_baselines import ImplicitALSModel, ImplicitBPRModel, implicit_available
from coursekit.model.item_knn import ItemKNNModel
from coursekit.model.matrix_factorization import MatrixFactorizationModel
from coursekit.model.persistence import load_model, save_model
from coursekit.model.popularity import PopularityModel
from coursekit.model.trainer import CourseTrainer, History

__all__ = [
    "ColdStartModel",
    "CourseTrainer",
    "ExplicitMatrixFactorizationModel",
    "History",
    "ImplicitALSModel",
    "ImplicitBPRModel",
    "HybridModel",
    "ItemKNNModel",
    "MatrixFactorizationModel",
    "PopularityModel",
    "RandomModel",
    "RecommenderMixin",
    "implicit_available",
    "load_model",
    "save_model",
    "with_titles",
]
