"""Recommender models, the course trainer, and saving/loading trained models."""

from coursekit.model.base import RecommenderMixin, with_titles
from coursekit.model.baselines import RandomModel
from coursekit.model.cold_start import ColdStartModel
from coursekit.model.matrix_factorization import MatrixFactorizationModel
from coursekit.model.persistence import load_model, save_model
from coursekit.model.popularity import PopularityModel
from coursekit.model.trainer import CourseTrainer, History

__all__ = [
    "ColdStartModel",
    "CourseTrainer",
    "History",
    "MatrixFactorizationModel",
    "PopularityModel",
    "RandomModel",
    "RecommenderMixin",
    "load_model",
    "save_model",
    "with_titles",
]
