"""`make site`: the course as a static website, from the lessons' stored outputs (nothing re-runs).

Jupyter Book 1.x (Sphinx + MyST-NB) does the rendering. This module prepares what it renders:
it stages the book in ``site/_build/src`` (the hand-written pages of ``site/`` with their lesson
tables filled in, and a copy of every executed ``tutorials/NN_name.ipynb`` with a header giving
its times and with its plots' alt text), writes the table of contents, and builds the HTML into
``site/_build/html``.

    python tools/site_build.py [--stage-only]

Lesson times live in one table, ``site/lessons.toml``, keyed by lesson stem. Alt text for a plot
comes from its code cell (see :func:`alt_text`): a comment line ``# alt: <text>`` (what the
lessons use, as it survives the Jupytext pairing) or a cell metadata string ``"alt"``.
"""

from __future__ import annotations

import argparse
import copy
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat
import tomllib
from notebooks import ROOT, TUTORIALS, lessons

SITE = ROOT / "site"
BUILD = SITE / "_build"
STAGE = BUILD / "src"
HTML = BUILD / "html"
TABLE = SITE / "lessons.toml"
PAGES = ("index.md", "teachers_guide.md")  # hand-written pages, in the order of the book
TABLE_MARKER = "<!-- lesson-table -->"
SLOW_MARKER = "<!-- slow-cells -->"

ALT_LINE = re.compile(r"^#[ \t]*alt:[ \t]*(.*?)[ \t]*$", re.MULTILINE)
# The lessons' badge line: images from Colab's and Binder's servers, which an offline site cannot
# load; on the site they become plain links.
BADGE = re.compile(r"\[!\[([^\]]*)\]\([^)]*\)\]\(([^)]*)\)")
IMAGE_TYPES = ("image/png", "image/jpeg", "image/svg+xml", "image/gif")


@dataclass(frozen=True)
class Lesson:
    """One row of the lesson table."""

    stem: str
    title: str
    run_seconds: float
    teaching_minutes: int
    slow: str


def alt_text(cell: nbformat.NotebookNode) -> str | None:
    """The alt text a lesson gives for the plots of code ``cell``, or None.

    Either a cell metadata string ``"alt"``, or the comment lines ``# alt: ...`` of the cell's
    source, joined by spaces (a long description may span several lines). One figure per cell is
    the lessons' habit; the text applies to every image the cell outputs.
    """
    given = cell.get("metadata", {}).get("alt")
    if isinstance(given, str) and given.strip():
        return given.strip()
    lines = [text for text in ALT_LINE.findall(cell.get("source", "")) if text]
    return " ".join(lines) or None


def image_count(cell: nbformat.NotebookNode) -> int:
    """How many images the stored outputs of ``cell`` hold."""
    return sum(
        any(kind in output.get("data", {}) for kind in IMAGE_TYPES)
        for output in cell.get("outputs", [])
        if output.get("output_type") in ("display_data", "execute_result")
    )


def title_of(notebook: nbformat.NotebookNode, stem: str) -> str:
    """The lesson's title: the first level-1 heading of its first markdown cell."""
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            match = re.search(r"^# (.+)$", cell.source, re.MULTILINE)
            if match:
                return match.group(1).strip()
    raise ValueError(f"{stem}.ipynb has no '# Title' heading in a markdown cell")


def read_table(table: Path = TABLE, folder: Path = TUTORIALS) -> list[Lesson]:
    """Every lesson of ``folder`` in course order, with its row of ``table``.

    Raises ``ValueError`` naming the lesson when it has no row, or a row lacks a field.
    """
    rows = tomllib.loads(table.read_text(encoding="utf-8"))
    found = []
    for source in lessons(folder):
        stem = source.stem
        if stem not in rows:
            raise ValueError(f"{table.name} has no [{stem}] row: add its run_seconds, teaching_minutes and slow")
        row = rows[stem]
        missing = [key for key in ("run_seconds", "teaching_minutes", "slow") if key not in row]
        if missing:
            raise ValueError(f"{table.name} [{stem}] lacks {', '.join(missing)}")
        notebook = nbformat.read(source.with_suffix(".ipynb"), as_version=4)
        found.append(Lesson(stem, title_of(notebook, stem), row["run_seconds"], row["teaching_minutes"], row["slow"]))
    return found


def lesson_table(rows: list[Lesson], prefix: str = "lessons/") -> str:
    """The markdown table of lessons and their times, linking each lesson page."""
    lines = ["| lesson | run time | teaching time |", "| --- | ---: | ---: |"]
    for row in rows:
        lines.append(
            f"| [{row.title}]({prefix}{row.stem}.ipynb) | ≈ {row.run_seconds:g} s | ≈ {row.teaching_minutes} min |"
        )
    total_run = sum(row.run_seconds for row in rows)
    total_teach = sum(row.teaching_minutes for row in rows)
    lines.append(f"| **whole course** | ≈ {total_run:g} s | ≈ {total_teach} min ({total_teach / 60:.1f} h) |")
    note = (
        "\nRun time: `make course` on the reference 2-core laptop CPU (no GPU). Teaching time: a "
        "workshop slot for reading, running, the exercises and discussion."
    )
    return "\n".join(lines) + "\n" + note


def slow_cells(rows: list[Lesson], prefix: str = "lessons/") -> str:
    """The markdown list of each lesson's slow cells."""
    return "\n".join(f"- [{row.title}]({prefix}{row.stem}.ipynb): {row.slow}" for row in rows)


def header_cell(row: Lesson) -> nbformat.NotebookNode:
    """The markdown cell the site adds under a lesson's title: its times."""
    return nbformat.v4.new_markdown_cell(
        f"**Run time** ≈ {row.run_seconds:g} s on a 2-core laptop CPU · "
        f"**Teaching time** ≈ {row.teaching_minutes} min · "
        "[all lessons and their times](../index.md)"
    )


def site_notebook(notebook: nbformat.NotebookNode, row: Lesson) -> tuple[nbformat.NotebookNode, list[str]]:
    """A copy of executed ``notebook`` ready for the site, and the cells whose plots lack alt text.

    The badge images become plain links, the times header follows the first cell, and each code
    cell's alt text goes where MyST-NB reads image options (cell metadata ``mystnb.image.alt``).
    """
    staged = copy.deepcopy(notebook)
    missing = []
    for index, cell in enumerate(staged.cells):
        if cell.cell_type == "markdown":
            cell.source = BADGE.sub(
                lambda m: f"[{m.group(1).replace('Open In', 'Open in')}]({m.group(2)})", cell.source
            )
        elif cell.cell_type == "code" and image_count(cell):
            text = alt_text(cell)
            if text is None:
                missing.append(f"{row.stem} cell {index}")
                continue
            image = cell.metadata.setdefault("mystnb", {}).setdefault("image", {})
            image.setdefault("alt", text)
    staged.cells.insert(1, header_cell(row))
    return staged, missing


def toc(rows: list[Lesson]) -> str:
    """The book's ``_toc.yml``: the landing page, the lessons in order, the teacher's guide."""
    chapters = "".join(f"      - file: lessons/{row.stem}\n" for row in rows)
    return (
        "format: jb-book\nroot: index\nparts:\n  - caption: Lessons\n    chapters:\n"
        + chapters
        + "  - caption: Teaching\n    chapters:\n      - file: teachers_guide\n"
    )


def stage(stage_dir: Path = STAGE, folder: Path = TUTORIALS, site: Path = SITE) -> list[str]:
    """Write the book's sources into ``stage_dir`` (replacing it); return the plot cells without alt text."""
    rows = read_table(site / "lessons.toml", folder)
    if stage_dir.exists():
        shutil.rmtree(stage_dir)
    (stage_dir / "lessons").mkdir(parents=True)
    shutil.copy(site / "_config.yml", stage_dir / "_config.yml")
    for folder_name in ("_ext", "_static"):  # Sphinx extensions; CSS that Jupyter Book loads itself
        shutil.copytree(site / folder_name, stage_dir / folder_name, ignore=shutil.ignore_patterns("__pycache__"))
    for page in PAGES:
        text = (site / page).read_text(encoding="utf-8")
        text = text.replace(TABLE_MARKER, lesson_table(rows)).replace(SLOW_MARKER, slow_cells(rows))
        (stage_dir / page).write_text(text, encoding="utf-8")
    (stage_dir / "_toc.yml").write_text(toc(rows), encoding="utf-8")
    missing = []
    for row in rows:
        notebook = nbformat.read(folder / f"{row.stem}.ipynb", as_version=4)
        staged, lacking = site_notebook(notebook, row)
        nbformat.write(staged, stage_dir / "lessons" / f"{row.stem}.ipynb")
        missing += lacking
    return missing


def build(stage_dir: Path = STAGE) -> Path:
    """Build the staged book into ``site/_build/html`` with warnings as errors; return that folder."""
    html = stage_dir.parent / "html"
    if html.exists():
        shutil.rmtree(html)  # a page removed from the book must not linger in the site
    command = [
        str(Path(sys.executable).with_name("jupyter-book")),
        "build",
        str(stage_dir),
        "--path-output",
        str(stage_dir.parent.parent),
        "-W",
        "--keep-going",
        "--all",
        "-q",
    ]
    subprocess.run(command, check=True)
    return html


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage-only", action="store_true", help="write site/_build/src, do not build")
    args = parser.parse_args(argv)
    missing = stage()
    if missing:
        print(f"plots without alt text ({len(missing)}): {', '.join(missing)}")
    if not args.stage_only:
        print(f"site: {build() / 'index.html'}")


if __name__ == "__main__":
    main(sys.argv[1:])
