"""Fail when a lesson pair disagrees or a notebook holds unexecuted code.

nbval passes a cell whose stored execution_count is null, so a notebook
committed without outputs would pass it silently: this check closes that gap.
"""

from __future__ import annotations

import sys

import jupytext

from notebooks import code_and_markdown, lessons


def problems() -> list[str]:
    found = []
    if not lessons():
        found.append("no lessons found in tutorials/")
    for source in lessons():
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
