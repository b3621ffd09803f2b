"""The top of every lesson, generated from one source of truth: ``pyproject.toml``.

The distribution name (``[project] name``) and the repository (``[project.urls] Repository``) live
there once. From them this module renders each lesson's badge line (Colab, Binder) and its install
cell; ``make course`` writes both into every lesson's ``.py`` before running it, and a unit test
fails when a lesson's copy differs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[1]

BADGE_LINE = re.compile(r"^# \[!\[Open In Colab\].*$", re.MULTILINE)
INSTALL_MARKER = "# On Colab or Binder, install"

INSTALL_CELL = """\
# On Colab or Binder, install the course's library first (nothing happens where it is installed).
import glob
import importlib.metadata
import subprocess
import sys

try:
    importlib.metadata.version("{dist}")  # this course's coursekit, not another package of that name
except importlib.metadata.PackageNotFoundError:
    wheels = sorted(glob.glob("{wheel}-*.whl"))  # a wheel uploaded beside the notebook wins
    source = wheels[-1] if wheels else "{dist} @ git+{repository}"
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "-q", source], capture_output=True, text=True)
    if pip.returncode != 0:
        print(
            "coursekit could not be installed: upload its wheel ({wheel}-*.whl, from `make dist`) next to "
            "this notebook and run this cell again, or run `pip install /path/to/a/clone` yourself."
        )"""


@dataclass(frozen=True)
class Project:
    """What the lessons need to know about where coursekit comes from."""

    dist: str
    repository: str

    @property
    def wheel(self) -> str:
        """The distribution name as wheel file names spell it."""
        return re.sub(r"[-_.]+", "_", self.dist)

    @property
    def github_path(self) -> str:
        """``owner/name`` of the repository on GitHub."""
        match = re.fullmatch(r"https://github\.com/([^/]+/[^/]+?)(?:\.git)?/?", self.repository)
        if match is None:
            raise ValueError(
                f"[project.urls] Repository must be a https://github.com/owner/name URL, got {self.repository!r}"
            )
        return match.group(1)


def project(pyproject: Path = ROOT / "pyproject.toml") -> Project:
    """The distribution name and repository URL from ``pyproject``."""
    meta = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    return Project(dist=meta["name"], repository=meta["urls"]["Repository"])


def badges(lesson: str, meta: Project) -> str:
    """The markdown line of badges of the lesson notebook ``lesson`` (e.g. ``03_matrix_factorization``)."""
    notebook = f"tutorials/{lesson}.ipynb"
    colab = f"https://colab.research.google.com/github/{meta.github_path}/blob/main/{notebook}"
    binder = f"https://mybinder.org/v2/gh/{meta.github_path}/main?labpath={notebook}"
    return (
        f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({colab}) "
        f"[![Binder](https://mybinder.org/badge_logo.svg)]({binder})"
    )


def install_cell(meta: Project) -> str:
    """The source of every lesson's first code cell."""
    return INSTALL_CELL.format(dist=meta.dist, wheel=meta.wheel, repository=meta.repository)


def render(text: str, lesson: str, meta: Project) -> str:
    """Lesson source ``text`` (Jupytext percent format) with its badge line and install cell regenerated.

    Raises ``ValueError`` when the lesson lacks either: each lesson has a badge line in its first
    markdown cell and an install cell, starting with ``INSTALL_MARKER``, as its first code cell.
    """
    if not BADGE_LINE.search(text):
        raise ValueError(f"{lesson}: no badge line ('# [![Open In Colab]...') to regenerate")
    text = BADGE_LINE.sub(lambda _: "# " + badges(lesson, meta), text, count=1)
    cells = re.split(r"(?m)^(?=# %%)", text)
    for index, cell in enumerate(cells):
        header, _, body = cell.partition("\n")
        if header.startswith("# %%") and "[markdown]" not in header:
            if not body.startswith(INSTALL_MARKER):
                raise ValueError(f"{lesson}: the first code cell must be the install cell ('{INSTALL_MARKER} ...')")
            cells[index] = f"{header}\n{install_cell(meta)}\n\n"
            return "".join(cells)
    raise ValueError(f"{lesson}: no code cell")
