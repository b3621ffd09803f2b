"""Shared helpers for running and checking the Jupytext-paired lessons in tutorials/."""

from __future__ import annotations

from pathlib import Path

import jupytext
import nbformat

from coursekit._files import atomic_write

ROOT = Path(__file__).resolve().parents[1]
TUTORIALS = ROOT / "tutorials"
SANITIZE = TUTORIALS / "sanitize.cfg"


def lessons(folder: Path = TUTORIALS) -> list[Path]:
    """The lesson sources, ``<folder>/NN_name.py`` (default ``tutorials/``), in course order."""
    return sorted(Path(folder).glob("[0-9][0-9]_*.py"))


def code_and_markdown(notebook: nbformat.NotebookNode) -> list[tuple[str, str, list[str]]]:
    """(cell type, source, tags) of every cell: what must agree between the two halves of a pair."""
    return [(cell.cell_type, cell.source.strip(), sorted(cell.metadata.get("tags", []))) for cell in notebook.cells]


def write_atomically(notebook: nbformat.NotebookNode, path: Path) -> None:
    """Write ``notebook`` as ipynb so that an interrupted run never leaves half a file."""
    with atomic_write(path, "w") as stream:
        jupytext.write(notebook, stream, fmt="ipynb")
