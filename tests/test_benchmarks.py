"""The scale benchmark's bookkeeping (benchmarks/run.py): tables, growth fits and skipped steps, without timing anything."""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


@pytest.fixture(scope="module")
def run():
    saved = list(sys.path)  # run.py puts the repository and benchmarks/ first on the path
    try:
        spec = importlib.util.spec_from_file_location("benchmark_run", BENCHMARKS / "run.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.path[:] = saved


def settings(**overrides) -> argparse.Namespace:
    values = dict(size="5M", dim=30, threads=1, batch_size=1024, dense=False, repeat=1)
    return argparse.Namespace(**(values | overrides))


def test_growth_is_the_exponent_of_ten_times_the_data(run):
    small = {"train_approx": {"seconds": 2.0}, "evaluate": {"seconds": 1.0}, "implicit_bpr": {"skipped": "absent"}}
    large = {
        "train_approx": {"seconds": 2.0 * 10**1.07},
        "evaluate": {"seconds": 100.0},
        "implicit_bpr": {"seconds": 1},
    }
    text = run.growth_table(small, large, {"train_approx": [500, 5000], "evaluate": None, "implicit_bpr": None})
    rows = {line.split("|")[0].strip(): [cell.strip() for cell in line.split("|")] for line in text.splitlines()[2:]}
    assert rows["train_approx"][-1] == "1.07" and rows["evaluate"][-1] == "2.00"
    assert rows["train_approx"][3] == f"{2.0 / 500 * 1e3:.2f} / {2.0 * 10**1.07 / 5000 * 1e3:.2f}"
    assert "implicit_bpr" not in rows  # skipped at one size: no growth to fit


def test_table_gives_ratios_to_implicit_and_collie_or_says_why_not(run):
    results = {
        "train_approx": {
            "seconds": 12.0,
            "loop_seconds": 10.0,
            "overhead": 1.2,
            "per_second": 4e5,
            "peak_rss_mib": 700,
        },
        "implicit_bpr": {"seconds": 3.0, "per_second": 1.6e6, "peak_rss_mib": 460},
        "implicit_als": {"skipped": "implicit is not installed (pip install coursekit[baselines])"},
        "ml100k": {"seconds": 2.0, "evaluate_seconds": 0.02, "peak_rss_mib": 460},
        "collie": {"skipped": "set COLLIE_PYTHON to ..."},
    }
    text = run.table(results, settings())
    assert cell(text, "approx CourseTrainer / implicit BPR") == "4.00x"
    assert "implicit ALS: implicit is not installed" in text
    low, high = run.COLLIE_LESSON_RECORDED
    assert f"{low / 2.0:.1f}-{high / 2.0:.1f}x ours" in text and "not this run" in text
    results["collie"] = {"seconds": 13.0, "fits": {}}
    assert cell(run.table(results, settings()), "Collie / ours") == "6.5x"


def cell(text: str, label: str) -> str:
    """The seconds column of the row named ``label``."""
    (row,) = [line for line in text.splitlines() if line.split("|")[0].strip() == label]
    return row.split("|")[1].strip()


def test_collie_step_is_skipped_without_a_collie_environment(run, monkeypatch):
    monkeypatch.delenv("COLLIE_PYTHON", raising=False)
    assert "COLLIE_PYTHON" in run.step_collie(settings())["skipped"]


def test_unknown_steps_are_refused(run, capsys):
    with pytest.raises(SystemExit):
        run.main(["--steps", "build,warp_speed"])
    assert "warp_speed" in capsys.readouterr().err
