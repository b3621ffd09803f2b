"""Old home of the lesson plots: they live in :mod:`coursekit.course.plots` (course layer).

``from coursekit import plots`` keeps working without a warning: the lessons use it.
"""

from coursekit.course.plots import *  # noqa: F403
from coursekit.course.plots import __all__  # noqa: F401
