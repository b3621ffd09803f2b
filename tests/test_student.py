"""`make student` (tools/student.py): hand-outs without solutions, whose check cells still work.

Tiny synthetic lessons in tmp folders test the convention and, in a real kernel, that a check
cell passes against the solution, passes against another right answer and fails with its
message against a wrong one. The real lessons are checked once they carry `solution` tags.
"""

from __future__ import annotations

import sys
from pathlib import Path

import jupytext
import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

TOOLS = Path(__file__).resolve().parents[1] / "tools"
sys.path.insert(0, str(TOOLS))

import notebooks  # noqa: E402
import student  # noqa: E402

LESSON = """# %% [markdown]
# # 01 · Tiny lesson

# %%
numbers = [3, 1, 2]

# %% [markdown]
# ## Exercise
# Put the sorted numbers in `answer`.

# %% tags=["solution"]
answer = sorted(numbers)
print("SECRET SOLUTION OUTPUT")

# %% [markdown] tags=["solution"]
# The solution uses sorted(): SECRET DISCUSSION.

# %% tags=["check"]
assert isinstance(answer, list), f"answer must be a list, got {type(answer).__name__}"
assert answer == [1, 2, 3], f"answer should be the numbers in increasing order, got {answer}"
print("check passed")
"""


def write_lesson(folder: Path, name: str = "01_tiny", source: str = LESSON) -> Path:
    """``name.py`` and its notebook with a fake output in every code cell (no kernel needed)."""
    py = folder / f"{name}.py"
    py.write_text(source)
    notebook = jupytext.read(py)
    for count, cell in enumerate((c for c in notebook.cells if c.cell_type == "code"), start=1):
        cell.execution_count = count
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="SECRET SOLUTION OUTPUT\n")]
    notebooks.write_atomically(notebook, py.with_suffix(".ipynb"))
    return py


def run(notebook: nbformat.NotebookNode, folder: Path) -> nbformat.NotebookNode:
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    NotebookClient(
        notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(folder)}}
    ).execute()
    return notebook


def test_student_copies_have_no_solution_and_no_outputs(tmp_path):
    write_lesson(tmp_path)
    write_lesson(tmp_path, "02_other")
    written = student.write_student_copies(tmp_path, tmp_path / "student")
    assert [p.name for p in written] == ["01_tiny.ipynb", "02_other.ipynb"]
    copy = nbformat.read(written[0], as_version=4)
    text = nbformat.writes(copy)
    assert "SECRET" not in text and "sorted(numbers)" not in text
    assert not any(student.SOLUTION in student.tags(cell) for cell in copy.cells)
    assert [cell.source for cell in copy.cells if cell.source == student.ANSWER] == [student.ANSWER]
    code = [cell for cell in copy.cells if cell.cell_type == "code"]
    assert all(cell.outputs == [] and cell.execution_count is None for cell in code)
    (check,) = [cell for cell in copy.cells if student.CHECK in student.tags(cell)]
    assert "answer == [1, 2, 3]" in check.source
    # The answer cell sits where the solution was: after the exercise, before its check.
    sources = [cell.source for cell in copy.cells]
    assert sources.index(student.ANSWER) == sources.index(check.source) - 1
    assert "SECRET" in (tmp_path / "01_tiny.ipynb").read_text()  # the lesson itself is untouched


def test_an_untagged_lesson_is_copied_whole_without_outputs(tmp_path):
    write_lesson(tmp_path, source=LESSON.replace(' tags=["solution"]', ""))
    (path,) = student.write_student_copies(tmp_path, tmp_path / "out")
    copy = nbformat.read(path, as_version=4)
    original = nbformat.read(tmp_path / "01_tiny.ipynb", as_version=4)
    assert [c.source for c in copy.cells] == [c.source for c in original.cells]
    assert all(c.get("outputs", []) == [] for c in copy.cells)


@pytest.mark.slow
def test_check_cells_pass_on_the_solution_and_on_a_learners_answer_and_fail_on_a_wrong_one(tmp_path):
    write_lesson(tmp_path)
    original = run(jupytext.read(tmp_path / "01_tiny.py"), tmp_path)
    (check,) = [c for c in original.cells if student.CHECK in student.tags(c)]
    assert "check passed" in check.outputs[0]["text"]

    def with_answer(code: str) -> nbformat.NotebookNode:
        copy = student.student_copy(nbformat.read(tmp_path / "01_tiny.ipynb", as_version=4))
        (cell,) = [c for c in copy.cells if c.source == student.ANSWER]
        cell.source = code
        return copy

    run(with_answer("answer = [n for n in range(1, 4)]"), tmp_path)  # another right answer passes
    with pytest.raises(CellExecutionError, match="increasing order, got \\[3, 1, 2\\]"):
        run(with_answer("answer = numbers"), tmp_path)


# --- the real lessons ----------------------------------------------------------------------------


def tagged_lessons() -> list[Path]:
    return [
        p
        for p in notebooks.lessons()
        if any(student.SOLUTION in student.tags(c) for c in nbformat.read(p.with_suffix(".ipynb"), as_version=4).cells)
    ]


def require_tagged() -> list[Path]:
    found = tagged_lessons()
    if not found:
        pytest.skip(
            "no lesson has a cell tagged 'solution' yet: tag each exercise's solution "
            '(# %% tags=["solution"]) and its check (tags=["check"]) in tutorials/*.py'
        )
    return found


def test_student_copies_of_the_real_lessons_hide_every_solution(tmp_path):
    tagged = require_tagged()
    for path in student.write_student_copies(out=tmp_path):
        copy = nbformat.read(path, as_version=4)
        assert not any(student.SOLUTION in student.tags(c) for c in copy.cells), path.name
        assert all(c.get("outputs", []) == [] for c in copy.cells), path.name
    for lesson in tagged:
        notebook = nbformat.read(lesson.with_suffix(".ipynb"), as_version=4)
        kinds = [student.tags(c) for c in notebook.cells]
        assert any(student.CHECK in k for k in kinds), f"{lesson.stem} has solutions but no check cell"
        for index, cell in enumerate(notebook.cells):
            if student.CHECK in student.tags(cell):
                assert any(student.SOLUTION in k for k in kinds[:index]), (
                    f"{lesson.stem} cell {index}: a check before any solution"
                )
                assert not any(o.get("output_type") == "error" for o in cell.outputs), (
                    f"{lesson.stem} cell {index} failed"
                )


def test_every_lesson_has_at_least_two_exercises_with_a_solution_and_a_check():
    """Issue 15: two exercises per lesson, each a hidden solution code cell followed by its check cell."""
    for lesson in notebooks.lessons():
        notebook = jupytext.read(lesson)
        kinds = [(cell.cell_type, student.tags(cell)) for cell in notebook.cells]
        exercises = sum(
            1
            for (kind, tags), (_, next_tags) in zip(kinds, kinds[1:])
            if kind == "code" and student.SOLUTION in tags and student.CHECK in next_tags
        )
        assert exercises >= 2, (
            f"{lesson.name} has {exercises} exercise(s) with a solution cell followed by a check cell"
        )


@pytest.mark.course
def test_check_cells_of_the_real_lessons_pass_against_their_solutions(tmp_path, monkeypatch, ml100k_path):
    """The two quickest tagged lessons run top to bottom in a kernel (their checks after their solutions).

    Every lesson's check cells also run after its solutions in the notebook check (`make notebooks`
    executes each lesson in full and fails on any error), so this runs only the quick ones, to keep
    the course-marked tests from executing the whole course a third time.
    """
    tagged = require_tagged()[:2]
    (tmp_path / "ml-100k").symlink_to(ml100k_path.resolve(), target_is_directory=True)
    monkeypatch.setenv("DATA_PATH", str(tmp_path))
    for lesson in tagged:
        run(jupytext.read(lesson), notebooks.TUTORIALS)
