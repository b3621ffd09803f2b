"""The tutorial data sets (coursekit.course.data) and the old import paths the lessons use."""

from __future__ import annotations

import subprocess
import sys
import warnings

import pytest
import torch

from coursekit.course import artifacts, data
from coursekit.cross_validation import stratified_split
from tests.contracts import ROOT_DIR


@pytest.fixture
def data_path_with_movielens(tmp_path, monkeypatch, ml100k_path):
    monkeypatch.setenv("DATA_PATH", str(tmp_path))
    (tmp_path / "ml-100k").symlink_to(ml100k_path.resolve(), target_is_directory=True)
    return tmp_path


def test_implicit_movielens(ml100k_path):
    interactions = data.implicit_movielens()
    assert (interactions.num_interactions, interactions.num_users, interactions.num_items) == (55_375, 943, 1674)
    assert repr(interactions) == (
        "Interactions object with 55375 interactions between 943 users and 1674 items, "
        "returning 10 negative samples per interaction."
    )
    assert interactions.timestamps is not None and len(interactions.timestamps) == 55_375
    # Item i is MovieLens movie i + 1: the Star Wars (movie 50) fans are still at column 49.
    assert interactions.mat[:, 49].nnz == 501


def test_implicit_movielens_options(ml100k_path):
    strict = data.implicit_movielens(min_rating=5, num_negative_samples=3, seed=7)
    assert strict.num_interactions == 21_201
    assert strict.num_negative_samples == 3


def test_implicit_movielens_is_deterministic(ml100k_path):
    first, second = data.implicit_movielens(), data.implicit_movielens()
    assert (first.mat != second.mat).nnz == 0
    # Interactions holds no random state: indexing is seeded by torch's global RNG.
    torch.manual_seed(0)
    negatives = first[0:20][1].tolist()
    torch.manual_seed(0)
    assert second[0:20][1].tolist() == negatives


def test_tutorial_split_is_built_saved_then_loaded(data_path_with_movielens, monkeypatch):
    train, validation = data.tutorial_split()
    assert (train.num_interactions, validation.num_interactions) == (49_426, 5_949)
    expected_train, expected_validation = stratified_split(data.implicit_movielens(), test_p=0.1, seed=42)
    assert (train.mat != expected_train.mat).nnz == 0
    assert (validation.mat != expected_validation.mat).nnz == 0
    assert (data_path_with_movielens / "artifacts" / "tutorial_split.npz").exists()
    assert (data_path_with_movielens / "artifacts" / "tutorial_split.manifest.json").exists()

    monkeypatch.setattr(data, "build_tutorial_split", lambda: pytest.fail("rebuilt although it was saved"))
    loaded_train, loaded_validation = data.tutorial_split()
    assert (loaded_train.mat != train.mat).nnz == 0
    assert (loaded_validation.mat != validation.mat).nnz == 0
    assert (loaded_train.timestamps == train.timestamps).all()


def test_what_lesson_02_saves_is_what_tutorial_split_loads(data_path_with_movielens, monkeypatch):
    # Lesson 02 saves the pair with lessons.save_artifact, without settings: the registered ones are recorded.
    from coursekit import lessons

    pair = data.build_tutorial_split()
    lessons.save_artifact(pair, "tutorial_split")
    monkeypatch.setattr(data, "build_tutorial_split", lambda: pytest.fail("rebuilt"))
    train, validation = lessons.tutorial_split()
    assert train.num_interactions == 49_426 and validation.num_interactions == 5_949
    interactions = lessons.load_or_build("implicit_movielens", lessons.implicit_movielens)
    assert len(interactions) == 55_375
    assert artifacts.load_artifact("implicit_movielens").num_interactions == 55_375


# -- old import paths ---------------------------------------------------------------------------

# Every name tutorials/*.py imports from the course layer, by module: these must not warn
# (a warning would land in the notebooks' stderr).
LESSON_IMPORTS = {
    "coursekit.lessons": [
        "implicit_movielens",
        "save_artifact",
        "load_or_build",
        "build_tutorial_split",
        "tutorial_split",
    ],
    "coursekit.compare": [
        "TUNED",
        "compare_models",
        "evaluate_model",
        "fit_timed",
        "popular_share",
        "save_trained_model",
        "load_or_train_model",
        "train_tuned_model",
    ],
    "coursekit.course": [
        "setup",
        "plots",
        "tutorial_split",
        "implicit_movielens",
        "build_tutorial_split",
        "load_or_build",
        "save_artifact",
        "compare_models",
        "evaluate_model",
        "fit_timed",
        "popular_share",
        "save_trained_model",
        "seed_study",
        "load_or_train",
        "TUNED",
        "explicit_split",
        "evaluation_split",
        "random_search",
    ],
    "coursekit.course.compare": ["PairedComparison", "SeedStudy"],
    "coursekit.course.recipes": [
        "COLLIE_APPROXIMATE",
        "COLLIE_SEPARATE_BIAS",
        "CONSTANT_LR",
        "LESSON03",
        "ONE_OPTIMIZER",
        "EXPLICIT_MSE",
        "PARTIAL_CREDIT",
    ],
    "coursekit.plots": [
        "plot_rating_distribution",
        "plot_item_popularity",
        "plot_split_summary",
        "plot_pairwise_losses",
        "plot_learning_rates",
        "plot_bias_vs_popularity",
        "plot_model_comparison",
        "plot_item_embeddings",
        "project_2d",
    ],
}


def test_the_lessons_imports_do_not_warn():
    lines = ["import warnings", "warnings.simplefilter('error')", "from coursekit import lessons, plots, course"]
    lines += [f"from {module} import {', '.join(names)}" for module, names in LESSON_IMPORTS.items()]
    lines += ["import coursekit; coursekit.setup"]
    run = subprocess.run(
        [sys.executable, "-c", "\n".join(lines)], cwd=ROOT_DIR, capture_output=True, text=True, check=False
    )
    assert run.returncode == 0, run.stderr


def test_every_name_the_lessons_import_is_listed():
    """Guards LESSON_IMPORTS: parse the lessons' import lines."""
    import ast

    found: dict[str, set[str]] = {}
    for lesson in sorted((ROOT_DIR / "tutorials").glob("*.py")):
        for node in ast.walk(ast.parse(lesson.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module in LESSON_IMPORTS:
                found.setdefault(node.module, set()).update(alias.name for alias in node.names)
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in ("lessons", "plots")
            ):
                found.setdefault(f"coursekit.{node.value.id}", set()).add(node.attr)
    for module, names in found.items():
        assert names <= set(LESSON_IMPORTS[module]), (module, names - set(LESSON_IMPORTS[module]))


@pytest.mark.parametrize(
    "module, name, new_home",
    [
        ("coursekit.lessons", "artifact_path", "coursekit.course.artifacts"),
        ("coursekit.lessons", "load_artifact", "coursekit.course.artifacts"),
        ("coursekit.lessons", "TUTORIAL_SPLIT", "coursekit.course.data"),
        ("coursekit.lessons", "MOVIELENS_SEED", "coursekit.course.data"),
        ("coursekit.compare", "model_path", "coursekit.course.models"),
        ("coursekit.compare", "METRIC_NAMES", "coursekit.course.compare"),
    ],
)
def test_moved_names_warn_and_still_work(module, name, new_home):
    import importlib

    old = importlib.import_module(module)
    with pytest.warns(DeprecationWarning, match=rf"{module}\.{name} moved to {new_home}\.{name}"):
        value = getattr(old, name)
    assert value is getattr(importlib.import_module(new_home), name)
    with pytest.raises(AttributeError):
        old.no_such_name  # noqa: B018


def test_the_library_never_imports_the_course_layer():
    """Import every library module in a fresh process: none may pull in coursekit.course."""
    import pkgutil

    import coursekit

    course_layer = {"coursekit.course", "coursekit.lessons", "coursekit.compare", "coursekit.plots"}
    library = [
        m.name
        for m in pkgutil.walk_packages(coursekit.__path__, "coursekit.")
        if not any(m.name == c or m.name.startswith(c + ".") for c in course_layer)
    ]
    assert "coursekit.interactions" in library and "coursekit.model.trainer" in library
    code = (
        "import importlib, sys\n"
        f"for name in {library!r}:\n"
        "    importlib.import_module(name)\n"
        "print(sorted(m for m in sys.modules if m.startswith('coursekit.course')))"
    )
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT_DIR, capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        import coursekit.course  # the course layer itself imports cleanly


def test_make_reset_removes_artefacts_and_executed_state_but_keeps_movielens(tmp_path):
    import shutil

    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    (tmp_path / "data" / "ml-100k").mkdir(parents=True)
    (tmp_path / "data" / "ml-100k" / "u.data").write_text("1\t1\t5\t0\n")
    (tmp_path / "data" / "artifacts").mkdir()
    (tmp_path / "data" / "artifacts" / "tutorial_split.npz").write_bytes(b"x")
    (tmp_path / "tutorials" / "lightning_logs" / "version_0").mkdir(parents=True)
    (tmp_path / "lightning_logs").mkdir()
    (tmp_path / ".pytest_cache").mkdir()
    (tmp_path / "tutorials" / "01_data_prep.ipynb").write_text("{}")
    run = subprocess.run(
        [
            "make",
            "-s",
            "-f",
            str(ROOT_DIR / "Makefile"),
            "-C",
            str(tmp_path),
            "reset",
            f"DATA_PATH={tmp_path / 'data'}",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    left = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))
    assert left == ["data", "data/ml-100k", "data/ml-100k/u.data", "tutorials", "tutorials/01_data_prep.ipynb"]
