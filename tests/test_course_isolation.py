"""Any lesson alone, in any order: each reproduces its stored outputs in a fresh data folder.

A learner on Colab opens one lesson on a new machine, with nothing an earlier lesson saved. Every
lesson is checked alone in a data folder holding only ``ml-100k/``, and the course once backwards.
"""

import re
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import check_isolation  # noqa: E402
import notebooks  # noqa: E402

pytestmark = pytest.mark.course

LESSONS = [source.with_suffix(".ipynb") for source in notebooks.lessons()]


def check(tmp_path, lessons):
    data = check_isolation.fresh_data_folder(tmp_path, check_isolation.movielens_folder())
    result = check_isolation.notebook_check(lessons, data)
    assert result.returncode == 0, result.stdout[-4000:]
    code_cells = sum(cell.cell_type == "code" for nb in lessons for cell in nbformat.read(nb, as_version=4).cells)
    assert re.search(rf"\b{code_cells} passed\b", result.stdout), result.stdout[-500:]  # every cell ran


@pytest.mark.parametrize("lesson", LESSONS, ids=[nb.stem for nb in LESSONS])
def test_a_lesson_alone_in_a_fresh_data_folder(tmp_path, lesson):
    check(tmp_path, [lesson])


def test_the_course_in_reverse_order(tmp_path):
    check(tmp_path, LESSONS[::-1])
