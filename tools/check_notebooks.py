"""Fail when a lesson pair disagrees or a notebook holds unexecuted code.

nbval passes a cell whose stored execution_count is null, so a notebook
committed without outputs would pass it silently: this check closes that gap.
"""

from __future__ import annotations

import sys
from pathlib import Path

import jupytext
from notebooks import TUTORIALS, code_and_markdown, lessons


def problems(folder: Path = TUTORIALS) -> list[str]:
    """One line per problem with the lesson pairs in ``folder``; empty when all is well."""
    found = []
    sources = lessons(folder)
    if not sources:
        found.append(f"no lessons found in {Path(folder).name}/")
    for orphan in sorted(Path(folder).glob("[0-9][0-9]_*.ipynb")):
        if not orphan.with_suffix(".py").exists():
            found.append(f"{orphan.name}: no paired {orphan.with_suffix('.py').name} (the .py is the source)")
    for source in sources:
        notebook_path = source.with_suffix(".ipynb")
        if not notebook_path.exists():
            found.append(f"{source.name}: no paired {notebook_path.name}; run `make course`")
            continue
        notebook = jupytext.read(notebook_path)
        if code_and_markdown(jupytext.read(source)) != code_and_markdown(notebook):
            found.append(f"{notebook_path.name}: cells differ from {source.name}; run `make course`")
        for index, cell in enumerate(notebook.cells):
            if cell.cell_type == "code" and cell.source.strip() and cell.get("execution_count") is None:
                found.append(f"{notebook_path.name}: code cell {index} was never executed; run `make course`")
                break
    return found


if __name__ == "__main__":
    issues = problems()
    for line in issues:
        print(line, file=sys.stderr)
    sys.exit(1 if issues else 0)
