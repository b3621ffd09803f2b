"""Every lesson's badges and install cell are the ones generated from pyproject.toml (`make course`)."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import lesson_header  # noqa: E402
import notebooks  # noqa: E402

META = lesson_header.project()


@pytest.mark.parametrize("source", notebooks.lessons(), ids=lambda p: p.stem)
def test_each_lesson_carries_the_generated_header(source):
    text = source.read_text(encoding="utf-8")
    assert lesson_header.render(text, source.stem, META) == text, f"run `make course` to regenerate {source.name}"


def test_the_header_comes_from_pyproject():
    assert META.dist == "coursekit-recsys" and META.wheel == "coursekit_recsys"
    cell = lesson_header.install_cell(META)
    assert f'importlib.metadata.version("{META.dist}")' in cell and META.repository in cell
    line = lesson_header.badges("03_matrix_factorization", META)
    assert (
        f"colab.research.google.com/github/{META.github_path}/blob/main/tutorials/03_matrix_factorization.ipynb" in line
    )
    assert f"mybinder.org/v2/gh/{META.github_path}/main?labpath=tutorials/03_matrix_factorization.ipynb" in line


def test_a_changed_repository_changes_every_lesson(tmp_path):
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        '[project]\nname = "other-dist"\n[project.urls]\nRepository = "https://github.com/someone/fork"\n'
    )
    other = lesson_header.project(pyproject)
    for source in notebooks.lessons():
        rendered = lesson_header.render(source.read_text(encoding="utf-8"), source.stem, other)
        assert "someone/fork" in rendered and '"other-dist"' in rendered and "coursekit/coursekit" not in rendered


def test_a_lesson_without_an_install_cell_is_refused():
    text = "# %% [markdown]\n# # 09 · x\n#\n# [![Open In Colab](x)](y)\n\n# %%\nimport coursekit\n"
    with pytest.raises(ValueError, match="first code cell must be the install cell"):
        lesson_header.render(text, "09_x", META)


def run_cell(meta, folder):
    script = folder / "cell.py"
    script.write_text(lesson_header.install_cell(meta))
    return subprocess.run([sys.executable, str(script)], capture_output=True, text=True, cwd=folder, timeout=300)


def test_the_install_cell_does_nothing_where_coursekit_is_installed(tmp_path):
    if subprocess.run([sys.executable, "-c", f"import importlib.metadata as m; m.version('{META.dist}')"]).returncode:
        pytest.skip(f"{META.dist} is not installed in this environment")
    result = run_cell(META, tmp_path)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_a_failed_install_says_what_to_do_without_a_traceback(tmp_path):
    missing = lesson_header.Project(dist="coursekit-recsys-not-installed", repository=f"file://{tmp_path}/nowhere")
    result = run_cell(missing, tmp_path)
    assert result.returncode == 0 and "Traceback" not in result.stderr
    assert result.stdout.startswith(
        "coursekit could not be installed: upload its wheel (coursekit_recsys_not_installed-*.whl"
    )
