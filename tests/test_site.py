"""The course site in a real browser: `make site-check`.

Builds the site (tools/site_build.py) and opens every page in headless Chromium over the Chrome
DevTools Protocol (tools/browser.py): no console error, no failed or external request, every
image loaded and non-empty, every plot that its lesson describes carrying that alt text, and
every internal link pointing at a file of the build. A screenshot of each page goes to
site/_build/screenshots/. The fast tests at the end check the staging step without a browser.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from urllib.parse import unquote, urlparse

import nbformat
import pytest

TOOLS = Path(__file__).resolve().parents[1] / "tools"
sys.path.insert(0, str(TOOLS))

import browser  # noqa: E402
import site_build  # noqa: E402

SCREENSHOTS = site_build.BUILD / "screenshots"


@pytest.fixture(scope="module")
def html() -> Path:
    pytest.importorskip("jupyter_book", reason="the site needs the [site] extra: run `make site-check`")
    site_build.stage()
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)  # screenshots of pages that no longer exist must go
    return site_build.build()


@pytest.fixture(scope="module")
def chromium():
    executable = browser.find_chromium()
    if executable is None:
        pytest.skip(
            "Chromium not found (Debian: apt-get install -y chromium; or set CHROMIUM=/path/to/chrome); "
            "`make site-check` installs it where apt-get works"
        )
    with browser.Chromium(executable) as running:
        yield running


def expected_alt_texts(stem: str) -> list[str]:
    """One entry per image of lesson ``stem`` whose cell gives alt text."""
    notebook = nbformat.read(site_build.TUTORIALS / f"{stem}.ipynb", as_version=4)
    return [
        text
        for cell in notebook.cells
        if cell.cell_type == "code" and (text := site_build.alt_text(cell))
        for _ in range(site_build.image_count(cell))
    ]


def internal_target(link: str, html: Path) -> Path | None:
    """The file a ``file:`` link points at, or None for links that leave the site (http, mailto)."""
    parsed = urlparse(link)
    if parsed.scheme != "file":
        return None
    path = Path(unquote(parsed.path))
    return path / "index.html" if path.is_dir() else path


@pytest.mark.site
def test_every_page_loads_cleanly_in_chromium(html, chromium):
    # The site's pages; _static/ holds the themes' template fragments, which are not pages.
    pages = sorted(p for p in html.rglob("*.html") if not p.relative_to(html).parts[0].startswith("_"))
    lessons = {row.stem for row in site_build.read_table()}
    assert {p.stem for p in pages} >= lessons | {"index", "teachers_guide"}
    problems = []
    images_seen = 0
    for path in pages:
        name = path.relative_to(html).with_suffix("").as_posix()
        page = chromium.open_page(path.as_uri())
        browser.save_screenshot(page, SCREENSHOTS, name.replace("/", "__"))
        problems += [f"{name}: {error}" for error in page.errors]
        problems += [
            f"{name}: loads {url} from outside the site (it must work offline)" for url in page.external_requests
        ]
        if page.overflow > 0:
            problems.append(f"{name}: the page is {page.overflow} px wider than the window (wide outputs must scroll)")
        for image in page.images:
            images_seen += 1
            if image["width"] == 0 or image["height"] == 0:
                problems.append(f"{name}: image {image['src']} did not load (naturalWidth 0)")
        for link in page.links:
            target = internal_target(link, html)
            if target is not None and not target.is_file():
                problems.append(f"{name}: link {link} points at no file of the build")
            elif target is not None and (anchor := unquote(urlparse(link).fragment)) and target.suffix == ".html":
                if f'id="{anchor}"' not in target.read_text(encoding="utf-8"):
                    problems.append(f"{name}: link {link} points at no #{anchor} in {target.name}")
        if path.stem in lessons:
            given = [image["alt"] for image in page.images]
            for text in expected_alt_texts(path.stem):
                if text not in given:
                    problems.append(f"{name}: a plot lacks its alt text {text!r}")
                else:
                    given.remove(text)
    assert not problems, "\n".join(problems)
    assert images_seen >= 9, "the lessons' plots are missing from the site"
    assert len(list(SCREENSHOTS.glob("*.png"))) >= len(pages)


def tiny_png() -> str:
    """A real 40x30 PNG, base64 as notebooks store images."""
    import base64
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure = plt.figure(figsize=(0.4, 0.3), dpi=100)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode()


@pytest.mark.site
def test_a_lessons_alt_text_reaches_the_page(tmp_path, chromium):
    """End to end on a tiny book: the '# alt:' line of a plot cell is the <img>'s alt in the browser."""
    pytest.importorskip("jupyter_book", reason="the site needs the [site] extra: run `make site-check`")
    site = tmp_path / "site"
    shutil.copytree(site_build.SITE, site, ignore=shutil.ignore_patterns("_build", "__pycache__"))
    (site / "lessons.toml").write_text('[01_tiny]\nrun_seconds = 2\nteaching_minutes = 10\nslow = "none"\n')
    tutorials = tmp_path / "tutorials"
    tutorials.mkdir()
    (tutorials / "01_tiny.py").write_text("")
    with_alt, without = plot_cell("# alt: An empty white square.\nplot()"), plot_cell("plot()")
    for cell in (with_alt, without):
        cell.outputs[0]["data"]["image/png"] = tiny_png()
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# 01 · Tiny"), with_alt, without])
    notebook.metadata["language_info"] = {"name": "python"}  # as in an executed lesson
    nbformat.write(notebook, tutorials / "01_tiny.ipynb")
    assert site_build.stage(tmp_path / "_build" / "src", tutorials, site) == ["01_tiny cell 2"]
    html = site_build.build(tmp_path / "_build" / "src")
    page = chromium.open_page((html / "lessons" / "01_tiny.html").as_uri())
    assert page.errors == []
    alts = [image["alt"] for image in page.images if image["width"] > 0]
    assert len(alts) == 2 and alts[0] == "An empty white square."
    assert alts[1] != "An empty white square."  # Sphinx's fallback (the file name), never another plot's text


# --- the staging step, without a browser ------------------------------------------------------------


def plot_cell(source: str, **metadata) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(source, metadata=metadata)
    cell.outputs = [
        nbformat.v4.new_output("display_data", data={"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"})
    ]
    return cell


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        (plot_cell("# alt: A falling curve.\nplot()"), "A falling curve."),
        (plot_cell("# alt: Two curves:\n# alt: one falls, one rises.\nplot()"), "Two curves: one falls, one rises."),
        (plot_cell("plot()", alt="From metadata."), "From metadata."),
        (plot_cell("# a plain comment\nplot()"), None),
        (plot_cell("# alt:\nplot()"), None),
    ],
    ids=["comment", "two-lines", "metadata", "none", "empty"],
)
def test_alt_text_conventions(cell, expected):
    assert site_build.alt_text(cell) == expected


def test_site_notebook_moves_alt_text_to_mystnb_and_reports_missing_ones():
    notebook = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell("# 01 · Tiny\n\n[![Open In Colab](https://x/badge.svg)](https://colab/x)"),
            plot_cell("# alt: A bar chart.\nplot()"),
            plot_cell("plot()"),
            nbformat.v4.new_code_cell("print(1)"),
        ]
    )
    row = site_build.Lesson("01_tiny", "01 · Tiny", 3, 20, "none")
    staged, missing = site_build.site_notebook(notebook, row)
    assert missing == ["01_tiny cell 2"]
    assert staged.cells[0].source.endswith("[Open in Colab](https://colab/x)")  # no remote badge image
    assert "≈ 3 s" in staged.cells[1].source and "≈ 20 min" in staged.cells[1].source
    assert staged.cells[2].metadata["mystnb"]["image"]["alt"] == "A bar chart."
    assert "mystnb" not in staged.cells[3].metadata
    assert "mystnb" not in notebook.cells[1].metadata  # the lesson itself is untouched


def test_every_lesson_has_a_row_in_the_times_table(tmp_path):
    rows = site_build.read_table()
    assert [row.stem for row in rows] == [p.stem for p in site_build.lessons()]
    assert all(row.run_seconds > 0 and row.teaching_minutes > 0 for row in rows)
    table = site_build.lesson_table(rows)
    assert all(f"lessons/{row.stem}.ipynb" in table for row in rows)


def test_a_lesson_missing_from_the_table_is_refused(tmp_path):
    (tmp_path / "lessons.toml").write_text('[01_a]\nrun_seconds = 1\nteaching_minutes = 5\nslow = "none"\n')
    for stem in ("01_a", "02_b"):
        (tmp_path / f"{stem}.py").write_text("")
        nbformat.write(
            nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(f"# {stem}")]), tmp_path / f"{stem}.ipynb"
        )
    with pytest.raises(ValueError, match=r"no \[02_b\] row"):
        site_build.read_table(tmp_path / "lessons.toml", tmp_path)
