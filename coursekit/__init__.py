"""coursekit: a Jupyter-first course on implicit-feedback recommenders, and its library.

Import what you need from the modules (``coursekit.interactions``, ``coursekit.model``, ...);
importing the package itself stays light, so data tools load without torch and Lightning.
The course layer (``coursekit.course``: setup, artefacts, recipes, comparisons, plots) is
imported only when asked for; ``coursekit.setup`` is ``coursekit.course.setup``.
"""

from typing import Any

__version__ = "0.1.0"

__all__ = ["setup", "__version__"]


def __getattr__(name: str) -> Any:
    # Lazy: `import coursekit.movielens` must not pull in the course layer (or torch).
    if name == "setup":
        from coursekit.course import setup

        return setup
    raise AttributeError(f"module 'coursekit' has no attribute {name!r}")
