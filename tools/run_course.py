"""`make course`: execute every lesson top to bottom and store its outputs in the paired .ipynb.

The .py file is the source of truth: each notebook is rebuilt from it, executed in a fresh
kernel (working directory tutorials/), stripped of timing metadata and written in place.
First, each lesson's badges and install cell are regenerated from pyproject.toml
(tools/lesson_header.py). A second run on an unchanged tree leaves every file as it was: cell ids are derived from the
cells' sources, and a cell whose new outputs say what its stored outputs say (as the regression
check judges it: exact text, tolerances for tagged cells, timings ignored in unchecked cells)
keeps its stored outputs. Prints each lesson's run time.

    python tools/run_course.py [NAME ...] [--out DIR] [--data DIR]

``--out`` writes the executed notebooks to DIR instead (nothing in tutorials/ changes), and
``--data`` runs the kernels with ``DATA_PATH=DIR``.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time
from pathlib import Path

import jupytext
import lesson_header
import nbformat
from nbclient import NotebookClient
from notebooks import SANITIZE, TUTORIALS, lessons, write_atomically
from outputs import equivalent, merge_streams, read_sanitizers
from tolerances import tolerance_of

from coursekit._files import atomic_write

KERNEL = {"name": "python3", "display_name": "Python 3", "language": "python"}
IGNORE_OUTPUT = "nbval-ignore-output"


def stable_ids(notebook: nbformat.NotebookNode) -> None:
    """Give each cell an id derived from its type and source, so re-running never churns them."""
    used: dict[str, int] = {}
    for cell in notebook.cells:
        digest = hashlib.sha1(f"{cell.cell_type}\n{cell.source}".encode()).hexdigest()[:12]
        used[digest] = used.get(digest, 0) + 1
        cell.id = digest if used[digest] == 1 else f"{digest}-{used[digest]}"


def keep_equivalent_outputs(notebook: nbformat.NotebookNode, stored_path: Path) -> int:
    """Put back the stored outputs of every cell whose new outputs are equivalent; return how many."""
    if not stored_path.exists():
        return 0
    stored = {cell.get("id"): cell for cell in nbformat.read(stored_path, as_version=4).cells}
    sanitizers = read_sanitizers(SANITIZE)
    kept = 0
    for cell in notebook.cells:
        old = stored.get(cell.id)
        if cell.cell_type != "code" or old is None or old.source != cell.source:
            continue
        tags = cell.metadata.get("tags", [])
        if equivalent(old.outputs, cell.outputs, tolerance_of(tags), IGNORE_OUTPUT in tags, sanitizers):
            cell.outputs, cell.execution_count = merge_streams(old.outputs), old.execution_count
            kept += 1
    return kept


def regenerate_header(source: Path) -> None:
    """Rewrite the lesson's badge line and install cell from pyproject.toml when they differ."""
    text = source.read_text(encoding="utf-8")
    rendered = lesson_header.render(text, source.stem, lesson_header.project())
    if rendered != text:
        with atomic_write(source, "w") as stream:
            stream.write(rendered)


def run(source: Path, out: Path | None = None) -> float:
    """Execute lesson ``source``; write it beside its source (or into folder ``out``); return seconds."""
    regenerate_header(source)
    notebook = jupytext.read(source)
    notebook.metadata["kernelspec"] = KERNEL
    notebook.metadata["language_info"] = {"name": "python"}
    stable_ids(notebook)
    started = time.perf_counter()
    NotebookClient(
        notebook,
        timeout=900,
        kernel_name="python3",
        resources={"metadata": {"path": str(TUTORIALS)}},
        record_timing=False,
    ).execute()
    seconds = time.perf_counter() - started
    for cell in notebook.cells:
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            cell.outputs = merge_streams(cell.outputs)
    notebook.metadata.pop("widgets", None)
    target = source.with_suffix(".ipynb") if out is None else out / f"{source.stem}.ipynb"
    if out is None:
        keep_equivalent_outputs(notebook, target)
    write_atomically(notebook, target)
    return seconds


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="run only the lessons whose file name contains one of these")
    parser.add_argument("--out", type=Path, help="write executed notebooks here instead of tutorials/")
    parser.add_argument("--data", type=Path, help="DATA_PATH for the kernels")
    args = parser.parse_args(argv)
    chosen = [p for p in lessons() if not args.names or any(n in p.name for n in args.names)]
    if not chosen:
        sys.exit(f"no lesson matches {args.names}")
    if args.data is not None:
        os.environ["DATA_PATH"] = str(args.data.resolve())
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
    total = 0.0
    for source in chosen:
        seconds = run(source, args.out)
        total += seconds
        print(f"{source.stem:<28} {seconds:6.1f} s", flush=True)
    print(f"{'whole course':<28} {total:6.1f} s")


if __name__ == "__main__":
    main(sys.argv[1:])
