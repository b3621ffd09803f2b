"""Fit time of CourseTrainer's fast loop against Lightning's loop, and a check that both give the same weights.

Fits LESSON03 and TUNED on the tutorial split (train only, and LESSON03 with the validation part
as val), alternating the loops round by round so drift in the machine's speed hits both; prints
the median seconds of each and the ratio fast / Lightning.

    PYTHONPATH=. OMP_NUM_THREADS=1 python benchmarks/fast_loop.py --rounds 5
"""

from __future__ import annotations

import argparse
import statistics

import torch

from coursekit.course.data import tutorial_split
from coursekit.course.recipes import LESSON03, TUNED


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    train, val = tutorial_split()
    cases = {"LESSON03": (LESSON03, None), "LESSON03 + val": (LESSON03, val), "TUNED": (TUNED, None)}
    LESSON03.replace(max_epochs=1).fit(train, seed=0)  # warm up: imports, first allocations
    times: dict[tuple[str, bool], list[float]] = {}
    for round_ in range(args.rounds):
        for name, (recipe, validation) in cases.items():
            weights = {}
            for fast in (False, True) if round_ % 2 == 0 else (True, False):
                model, trainer, seconds = recipe.fit(train, validation, seed=22, fast=fast)
                assert trainer.used_fast_loop is fast, trainer.fast_loop_blockers
                times.setdefault((name, fast), []).append(seconds)
                weights[fast] = model.state_dict()
            same = all(torch.equal(value, weights[True][key]) for key, value in weights[False].items())
            assert same, f"{name}: the loops gave different weights"
    print(f"{'recipe':<16}{'Lightning s':>12}{'fast s':>9}{'ratio':>8}   (medians of {args.rounds}; weights equal)")
    for name in cases:
        lightning, fast = (statistics.median(times[name, f]) for f in (False, True))
        ratios = [f / s for f, s in zip(times[name, True], times[name, False])]
        print(f"{name:<16}{lightning:>12.3f}{fast:>9.3f}{statistics.median(ratios):>8.2f}")


if __name__ == "__main__":
    main()
