"""Examples in the documentation run: every library docstring's doctests, and the README's three lines."""

from __future__ import annotations

import doctest
import importlib
import pkgutil
import re
import warnings

import pytest

import coursekit
from tests.conftest import ROOT

COURSE_LAYER = ("coursekit.course", "coursekit.lessons", "coursekit.compare", "coursekit.plots")


def library_modules() -> list[str]:
    names = [m.name for m in pkgutil.walk_packages(coursekit.__path__, "coursekit.")]
    return sorted(n for n in names if not any(n == c or n.startswith(c + ".") for c in COURSE_LAYER))


@pytest.mark.parametrize("name", library_modules())
def test_docstring_examples_run(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} doctest examples in {name} failed"


def test_the_public_examples_are_collected():
    # IdEncoder's and the metrics' examples must be among those that run (not silently skipped).
    for name in ("coursekit.utils", "coursekit.metrics"):
        finder = doctest.DocTestFinder()
        examples = sum(len(t.examples) for t in finder.find(importlib.import_module(name)))
        assert examples >= 3, name


def readme_three_lines() -> str:
    text = (ROOT / "README.md").read_text()
    section = text.split("## The library in three lines", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


@pytest.mark.slow
def test_readme_example_runs_on_movielens(ml100k_path):
    from coursekit.cross_validation import stratified_split
    from coursekit.interactions import Interactions
    from coursekit.movielens import read_movielens_df
    from coursekit.utils import convert_to_implicit

    implicit = convert_to_implicit(read_movielens_df(data_path=ml100k_path.parent))
    data = Interactions(implicit.user_id, implicit.item_id, allow_missing_ids=True)
    train_interactions, val_interactions = stratified_split(data, test_p=0.1, seed=42)
    code = readme_three_lines()
    assert code.count("\n") <= 6 and "fit(model)" in code
    namespace = {"train_interactions": train_interactions, "val_interactions": val_interactions}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exec(compile(code, "README.md", "exec"), namespace)
    model = namespace["model"]
    neighbours = model.item_item_similarity(item_id=49).head()
    assert len(neighbours) == 5 and neighbours.index[0] == 49 and neighbours.iloc[0] == 1.0
