"""tools/check_notebooks.py must catch every way a lesson pair can go stale."""

import sys
from pathlib import Path

import jupytext
import nbformat
import pytest

TOOLS = Path(__file__).resolve().parents[1] / "tools"
sys.path.insert(0, str(TOOLS))

import check_notebooks  # noqa: E402
import notebooks  # noqa: E402

LESSON = """# %% [markdown]
# # 01 · A tiny lesson

# %%
x = 1 + 1
print(x)

# %% tags=["nbval-ignore-output"]
print("slow part")
"""


def write_pair(folder: Path, name: str = "01_tiny", source: str = LESSON, executed: bool = True) -> Path:
    """Write ``name.py`` and its paired notebook, with outputs as if it had run (no kernel needed)."""
    py = folder / f"{name}.py"
    py.write_text(source)
    notebook = jupytext.read(py)
    count = 0
    for cell in notebook.cells:
        if cell.cell_type == "code" and executed:
            count += 1
            cell.execution_count = count
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="2\n")]
    notebooks.write_atomically(notebook, py.with_suffix(".ipynb"))
    return py


def test_a_clean_executed_pair_passes(tmp_path):
    write_pair(tmp_path)
    write_pair(tmp_path, "02_other")
    assert check_notebooks.problems(tmp_path) == []


def test_an_empty_folder_is_a_problem(tmp_path):
    assert check_notebooks.problems(tmp_path) == [f"no lessons found in {tmp_path.name}/"]


def test_a_missing_notebook_is_flagged(tmp_path):
    write_pair(tmp_path)
    (tmp_path / "02_lonely.py").write_text(LESSON)
    (found,) = check_notebooks.problems(tmp_path)
    assert found.startswith("02_lonely.py: no paired 02_lonely.ipynb")


def test_a_notebook_without_its_source_is_flagged(tmp_path):
    write_pair(tmp_path)
    write_pair(tmp_path, "02_orphan").unlink()
    (found,) = check_notebooks.problems(tmp_path)
    assert found.startswith("02_orphan.ipynb: no paired 02_orphan.py")


@pytest.mark.parametrize(
    "edit",
    [
        lambda text: text.replace("1 + 1", "1 + 2"),  # code changed
        lambda text: text.replace("A tiny lesson", "A small lesson"),  # markdown changed
        lambda text: text.replace('tags=["nbval-ignore-output"]', ""),  # tag dropped
        lambda text: text + '\n# %%\nprint("new cell")\n',  # cell added
    ],
    ids=["code", "markdown", "tags", "new-cell"],
)
def test_a_pair_whose_cells_differ_is_flagged(tmp_path, edit):
    py = write_pair(tmp_path)
    py.write_text(edit(py.read_text()))
    (found,) = check_notebooks.problems(tmp_path)
    assert found.startswith("01_tiny.ipynb: cells differ from 01_tiny.py")


def test_an_unexecuted_code_cell_is_flagged(tmp_path):
    py = write_pair(tmp_path)
    notebook_path = py.with_suffix(".ipynb")
    notebook = jupytext.read(notebook_path)
    code_cells = [i for i, cell in enumerate(notebook.cells) if cell.cell_type == "code"]
    notebook.cells[code_cells[-1]].execution_count = None
    notebooks.write_atomically(notebook, notebook_path)
    assert check_notebooks.problems(tmp_path) == [
        f"01_tiny.ipynb: code cell {code_cells[-1]} was never executed; run `make course`"
    ]


def test_a_notebook_committed_without_outputs_is_flagged(tmp_path):
    write_pair(tmp_path, executed=False)
    (found,) = check_notebooks.problems(tmp_path)
    assert "was never executed" in found


def test_lessons_lists_only_numbered_sources_in_order(tmp_path):
    for name in ("02_b.py", "01_a.py", "helper.py", "1_short.py", "10_c.ipynb"):
        (tmp_path / name).write_text("")
    assert [p.name for p in notebooks.lessons(tmp_path)] == ["01_a.py", "02_b.py"]


def test_the_default_folder_is_the_course():
    assert notebooks.lessons() == notebooks.lessons(notebooks.TUTORIALS)
    assert all(p.parent == notebooks.ROOT / "tutorials" for p in notebooks.lessons())
