"""`make course`: execute every lesson top to bottom and store its outputs in the paired .ipynb.

The .py file is the source of truth: each notebook is rebuilt from it, executed
in a fresh kernel (working directory tutorials/), stripped of timing metadata
and written in place. Prints each lesson's run time.
"""

from __future__ import annotations

import sys
import time

import jupytext
from nbclient import NotebookClient

from notebooks import TUTORIALS, lessons, write_atomically

KERNEL = {"name": "python3", "display_name": "Python 3", "language": "python"}


def run(source) -> float:
    notebook = jupytext.read(source)
    notebook.metadata["kernelspec"] = KERNEL
    notebook.metadata["language_info"] = {"name": "python"}
    started = time.perf_counter()
    NotebookClient(
        notebook, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(TUTORIALS)}},
        record_timing=False,
    ).execute()
    seconds = time.perf_counter() - started
    for cell in notebook.cells:
        cell.metadata.pop("execution", None)
    notebook.metadata.pop("widgets", None)
    write_atomically(notebook, source.with_suffix(".ipynb"))
    return seconds


def main(names: list[str]) -> None:
    chosen = [p for p in lessons() if not names or any(n in p.name for n in names)]
    if not chosen:
        sys.exit(f"no lesson matches {names}")
    total = 0.0
    for source in chosen:
        seconds = run(source)
        total += seconds
        print(f"{source.stem:<28} {seconds:6.1f} s", flush=True)
    print(f"{'whole course':<28} {total:6.1f} s")


if __name__ == "__main__":
    main(sys.argv[1:])
