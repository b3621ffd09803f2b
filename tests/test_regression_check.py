"""The notebook check has teeth: a small real change to the library makes a lesson's check fail.

Each case copies the library into a temporary folder, makes one small change there, and runs the
notebook check of lesson 03 against that copy in a fresh data folder; the unchanged copy must pass.
The smallest change known to be caught is stated in the README ("Numbers that move between machines").
"""

import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import check_isolation  # noqa: E402

pytestmark = pytest.mark.course

LESSON = ROOT / "tutorials" / "03_matrix_factorization.ipynb"

# name -> (file, text, replacement): each a change a careless edit could make.
PERTURBATIONS = {
    # Seen by the learning rates the training history prints (a 2 % change; the tolerance is 1 %).
    "default bias learning rate +2 %": (
        "coursekit/model/matrix_factorization.py",
        "bias_lr: float | str = 1e-2",
        "bias_lr: float | str = 1.02e-2",
    ),
    # Seen by the lesson's worked loss example (exact) and by the training losses. The margin is the
    # default "ideal difference" of a pair (lesson 07's partial credit lowers it per pair).
    "hinge margin 1 -> 0.95": (
        "coursekit/losses.py",
        "    if ideal_difference is None:\n        return 1.0\n",
        "    if ideal_difference is None:\n        return 0.95\n",
    ),
    # Nothing printed names the seed: seen only because the training losses move by more than 1 %.
    "shuffling seed off by one": (
        "coursekit/loaders.py",
        "np.random.default_rng([self.seed, epoch])",
        "np.random.default_rng([self.seed + 1, epoch])",
    ),
}


def check_lesson(tmp_path: Path, perturbation: tuple[str, str, str] | None):
    library = tmp_path / "library"
    shutil.copytree(ROOT / "coursekit", library / "coursekit", ignore=shutil.ignore_patterns("__pycache__"))
    if perturbation is not None:
        file, text, replacement = perturbation
        path = library / file
        source = path.read_text()
        assert source.count(text) == 1, f"{file} no longer holds {text!r}: update this perturbation"
        path.write_text(source.replace(text, replacement))
    lesson = library / "tutorials" / LESSON.name
    lesson.parent.mkdir()
    shutil.copy(LESSON, lesson)
    data = check_isolation.fresh_data_folder(tmp_path, check_isolation.movielens_folder())
    return check_isolation.notebook_check([lesson], data, library=library)


def test_the_real_library_passes(tmp_path):
    result = check_lesson(tmp_path, None)
    assert result.returncode == 0, result.stdout[-3000:]


@pytest.mark.parametrize("name", PERTURBATIONS)
def test_a_perturbed_library_fails(tmp_path, name):
    result = check_lesson(tmp_path, PERTURBATIONS[name])
    assert result.returncode == 1, result.stdout[-3000:]
    assert "Cell outputs differ" in result.stdout  # the outputs moved, not a crash
