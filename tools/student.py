"""`make student`: the lessons as hand-outs, ``student/NN_name.ipynb``, without solutions or outputs.

The convention (documented in the teacher's guide, site/teachers_guide.md):

- a code cell tagged ``solution`` is an exercise's solution: it becomes an empty code cell holding
  one line, ``# Your answer here``;
- a markdown cell tagged ``solution`` (the discussion of an answer) is left out;
- a cell tagged ``check`` validates the learner's answer and is kept, like every other cell.

Every output and execution count is cleared. The lessons themselves are not changed.

    python tools/student.py [--out DIR]
"""

from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path

import nbformat
from notebooks import ROOT, TUTORIALS, lessons, write_atomically

SOLUTION, CHECK = "solution", "check"
ANSWER = "# Your answer here"
OUT = ROOT / "student"


def tags(cell: nbformat.NotebookNode) -> list[str]:
    """The tags of ``cell``."""
    return list(cell.get("metadata", {}).get("tags", []))


def student_copy(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """``notebook`` with its solution cells stripped and its outputs cleared (a new notebook)."""
    copied = copy.deepcopy(notebook)
    cells = []
    for cell in copied.cells:
        if SOLUTION in tags(cell):
            if cell.cell_type == "code":
                cells.append(nbformat.v4.new_code_cell(ANSWER))
            continue
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
            cell.metadata.pop("execution", None)
        cells.append(cell)
    copied.cells = cells
    copied.metadata.pop("widgets", None)
    return copied


def write_student_copies(folder: Path = TUTORIALS, out: Path = OUT) -> list[Path]:
    """Write the student copy of every lesson of ``folder`` into ``out``; return their paths."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for source in lessons(folder):
        notebook = nbformat.read(source.with_suffix(".ipynb"), as_version=4)
        target = out / f"{source.stem}.ipynb"
        write_atomically(student_copy(notebook), target)
        written.append(target)
    return written


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help="folder for the copies (default student/)")
    args = parser.parse_args(argv)
    total = 0
    for path in write_student_copies(out=args.out):
        notebook = nbformat.read(path, as_version=4)
        answers = sum(cell.source == ANSWER for cell in notebook.cells)
        total += answers
        print(f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}: {answers} answer cell(s)")
    if total == 0:
        print(f"note: no lesson has a cell tagged {SOLUTION!r}, so these copies still show every solution")


if __name__ == "__main__":
    main(sys.argv[1:])
