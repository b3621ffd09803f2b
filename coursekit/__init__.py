"""coursekit: a Jupyter-first course on implicit-feedback recommenders, and its library."""

__version__ = "0.1.0"

