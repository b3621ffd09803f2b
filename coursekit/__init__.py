"""coursekit: a Jupyter-first course on implicit-feedback recommenders, and its library.

Import what you need from the modules (``coursekit.interactions``, ``coursekit.model``, ...);
importing the package itself stays light, so data tools load without torch and Lightning.
"""

from coursekit.course import setup

__version__ = "0.1.0"

__all__ = ["setup", "__version__"]
