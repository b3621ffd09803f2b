"""Recommendation quality on the tutorial split: the course's models side by side, one command.

    .venv/bin/python benchmarks/quality.py            # 10 epochs, writes benchmarks/results/quality.json
    .venv/bin/python benchmarks/quality.py --quick    # 2 epochs, prints the table only (smoke test)

    .venv/bin/python benchmarks/quality.py --seeds 5  # each model over seeds 0-4: mean and spread
    .venv/bin/python benchmarks/quality.py --test     # lesson 06's protocol: the README's table
    .venv/bin/python benchmarks/quality.py --search   # lesson 06's search over its whole grid (36 fits)

``--test`` reproduces lesson 06's section 6 with the same code (``coursekit.course.report``): the
three-way ``evaluation_split()``, baselines chosen on validation, lesson 03's and the tuned recipe
from seed 0, each once on test with a 95 % bootstrap interval over users, plus both recipes' test
MAP@10 over seeds 0-4 (``benchmarks/results/quality-test.json``).

Data: ``coursekit.course.build_tutorial_split()``, MovieLens 100K ratings of at least 4 stars,
``stratified_split(test_p=0.1, seed=42)``: 49,426 train / 5,949 validation interactions
(``DATA_PATH`` defaults to this clone's ``data/``). Models: the named recipes of
``coursekit.course.recipes`` (one copy, shared with the lessons and tests), each trained from the
explicit seed 22 (``--seeds N``: seeds 0..N-1) by ``CourseTrainer(enable_progress_bar=False)``:

* ``popularity``      ``recipes.POPULARITY`` (item counts; nothing to train)
* ``basic_mf``        ``recipes.LESSON03``: lesson 03's model (exact negatives, ``embedding_dim=10,
                      lr=1e-2``; train + val)
* ``approx_mf``       ``recipes.COLLIE_APPROXIMATE``: the reference lesson's first model,
                      ``ApproximateNegativeSamplingInteractionsDataLoader`` (batch 1024) for train and val
* ``separate_opt_mf`` ``recipes.COLLIE_SEPARATE_BIAS``: the reference lesson's second model (``bias_lr=1e-1``,
                      ``optimizer='adam', bias_optimizer='sgd'``; train + val)
* ``tuned_mf``        ``recipes.TUNED`` (trained on train only; see below)

Metrics (``evaluate_in_batches``, k=10), averaged over the 943 validation users: MAP@10, MRR and
AUC, *unmasked* (every item is ranked, so items the user already has in train compete with the
held-out ones) and *masked* (``train_interactions=train``: training items are removed from each
ranking, the honest setting for a recommender of new items).

Honesty note on TUNED: the course has one held-out set, the validation split, so TUNED was chosen
on it. Its numbers are therefore optimistic for unseen data (a small search, about 110 runs: loss x
negatives x lr, then embedding_dim x lr x weight_decay, then schedulers, optimizers and bias_lr;
differences under ~0.003 MAP@10 are seed noise). The compact log is in the commit message that added
this file. ``eval s`` in the table covers both evaluations (unmasked and masked).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any, Callable

from coursekit._files import atomic_write
from coursekit.course import recipes
from coursekit.course.recipes import TUNED

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "quality.json"
RESULTS_SEEDS = REPO / "benchmarks" / "results" / "quality-seeds.json"  # --seeds N > 1
RESULTS_TEST = REPO / "benchmarks" / "results" / "quality-test.json"  # --test
RESULTS_SEARCH = REPO / "benchmarks" / "results" / "quality-search.json"  # --search

#: Lesson 06's grid (its search runs it in two stages; --search runs all of it).
SEARCH_SPACE = {
    "embedding_dim": [10, 32, 64],
    "lr": [2e-3, 5e-3, 1e-2],
    "weight_decay": [0.0, 1e-4],
    "loss": ["adaptive_hinge", "adaptive_bpr"],
}

# The course's tuned model is ``coursekit.course.recipes.TUNED`` (one source for this benchmark,
# lesson 04 and the tests): ``MatrixFactorizationModel(train=train, **TUNED.model)`` on the tutorial
# split's ``Interactions`` (exact negatives, 10 per positive; ``loss='hinge'`` resolves to
# ``adaptive_hinge``, the hardest of the 10), trained ``TUNED.max_epochs`` epochs on train only.
#
# Measured on the validation split (seed 22, 2-core CPU, torch.set_num_threads(1)):
# masked MAP@10 0.141, unmasked MAP@10 0.047, masked MRR 0.416, masked AUC 0.921,
# fit about 2-3 s for 10 epochs. Over seeds 1, 2, 3: masked MAP@10 0.137-0.141,
# unmasked 0.043-0.047, AUC 0.920-0.922. The course's goal of unmasked MAP@10 >= 0.050 is
# NOT met: no run of the search reached masked >= 0.14 and unmasked >= 0.050 together (the two
# trade off once masked MAP@10 passes ~0.13: fitting the training items better puts them, not
# the held-out ones, in each user's unmasked top 10). Other findings of the search: 5 or 15
# negatives per positive (masked MAP@10 0.125, 0.137) and the approximate loader (0.120) are worse.
SEED = 22
EPOCHS = 10


def machine() -> dict[str, Any]:
    import pytorch_lightning as pl
    import torch

    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "pytorch_lightning": pl.__version__,
    }


#: Table row -> (recipe, whether the model also gets the validation interactions).
MODELS: dict[str, tuple[recipes.Recipe, bool]] = {
    "popularity": (recipes.POPULARITY, False),
    "basic_mf": (recipes.LESSON03, True),
    "approx_mf": (recipes.COLLIE_APPROXIMATE, True),
    "separate_opt_mf": (recipes.COLLIE_SEPARATE_BIAS, True),
    "tuned_mf": (TUNED, False),
}


def build_models(train: Any, val: Any, epochs: int) -> dict[str, Callable[[int], tuple[Any, Any, float]]]:
    """Name -> ``fit(seed)`` returning ``(model, trainer or None, fit seconds)``; at most ``epochs`` epochs each."""

    def fitter(recipe: recipes.Recipe, with_val: bool) -> Callable[[int], tuple[Any, Any, float]]:
        recipe = recipe.replace(max_epochs=min(epochs, recipe.max_epochs))
        return lambda seed: recipe.fit(train, val if with_val else None, seed=seed)

    return {name: fitter(recipe, with_val) for name, (recipe, with_val) in MODELS.items()}


def evaluate(model: Any, train: Any, val: Any) -> dict[str, float]:
    from coursekit.metrics import auc, evaluate_in_batches, mapk, mrr

    model.eval()
    start = time.perf_counter()
    unmasked = evaluate_in_batches([mapk, mrr, auc], val, model, progress=False)
    masked = evaluate_in_batches([mapk, mrr, auc], val, model, train_interactions=train, progress=False)
    seconds = time.perf_counter() - start
    names = ("map_at_10", "mrr", "auc")
    result = {f"{n}_unmasked": float(v) for n, v in zip(names, unmasked)}
    result.update({f"{n}_masked": float(v) for n, v in zip(names, masked)})
    result["eval_seconds"] = seconds
    return result


def run(epochs: int = EPOCHS, only: list[str] | None = None, seeds: int = 1) -> dict[str, Any]:
    import torch

    from coursekit.course import build_tutorial_split

    torch.set_num_threads(1)  # a shared 2-core machine; also makes timings comparable
    train, val = build_tutorial_split()
    seed_list = [SEED] if seeds == 1 else list(range(seeds))
    results: dict[str, Any] = {}
    for name, fit in build_models(train, val, epochs).items():
        if only and name not in only:
            continue
        runs = []
        for seed in seed_list:
            model, trainer, fit_seconds = fit(seed)
            row = {"fit_seconds": fit_seconds, "epochs": 0 if trainer is None else trainer.current_epoch}
            row.update(evaluate(model, train, val))
            runs.append(row)
        results[name] = runs[0] if len(runs) == 1 else _mean_and_spread(runs, seed_list)
        print(f"{name}: done in {sum(r['fit_seconds'] for r in runs):.1f} s", file=sys.stderr, flush=True)
    return {
        "split": {
            "train": train.num_interactions,
            "validation": val.num_interactions,
            "users": train.num_users,
            "items": train.num_items,
        },
        "seed": SEED if seeds == 1 else seed_list,
        "max_epochs": epochs,
        "recipes": {name: recipe.settings() for name, (recipe, _) in MODELS.items()},
        "tuned": {
            "settings": {k: v for k, v in TUNED.as_dict().items() if k != "lr_scheduler_func"},
            "val_passed": False,
        },
        "models": results,
        "machine": machine(),
    }


def _mean_and_spread(runs: list[dict[str, float]], seeds: list[int]) -> dict[str, Any]:
    """Every figure's mean over the seeds, its sample standard deviation as ``<name>_std``, and the runs."""
    import numpy as np

    row: dict[str, Any] = {}
    for key in runs[0]:
        values = np.array([run[key] for run in runs], dtype=float)
        row[key] = float(values.mean())
        row[f"{key}_std"] = float(values.std(ddof=1))
    row["per_seed"] = dict(zip(map(str, seeds), runs))
    return row


def table(report: dict[str, Any]) -> str:
    header = (
        f"{'model':<16}{'MAP@10 unm':>11}{'MAP@10 msk':>11}{'MRR unm':>9}{'MRR msk':>9}"
        f"{'AUC unm':>9}{'AUC msk':>9}{'fit s':>8}{'eval s':>8}"
    )
    lines = [header, "-" * len(header)]
    for name, r in report["models"].items():
        lines.append(
            f"{name:<16}{r['map_at_10_unmasked']:>11.4f}{r['map_at_10_masked']:>11.4f}"
            f"{r['mrr_unmasked']:>9.4f}{r['mrr_masked']:>9.4f}{r['auc_unmasked']:>9.4f}{r['auc_masked']:>9.4f}"
            f"{r['fit_seconds']:>8.1f}{r['eval_seconds']:>8.2f}"
        )
        if "map_at_10_masked_std" in r:  # several seeds: the spread below the means
            lines.append(
                f"{'  +- std':<16}{r['map_at_10_unmasked_std']:>11.4f}{r['map_at_10_masked_std']:>11.4f}"
                f"{r['mrr_unmasked_std']:>9.4f}{r['mrr_masked_std']:>9.4f}{r['auc_unmasked_std']:>9.4f}"
                f"{r['auc_masked_std']:>9.4f}{r['fit_seconds_std']:>8.1f}{r['eval_seconds_std']:>8.2f}"
            )
    return "\n".join(lines)


def write_atomically(report: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path, "w") as stream:
        json.dump(report, stream, indent=2)
        stream.write("\n")


def test_protocol(seeds: int = 5) -> dict[str, Any]:
    """Lesson 06's test report and the recipes' test MAP@10 over seeds (see the module docstring)."""
    from coursekit.course import evaluate_model, evaluation_split
    from coursekit.course.report import choose_baselines, report_on_test
    from coursekit.model import PopularityModel

    train, val, test = evaluation_split()
    baselines, _ = choose_baselines(train, val)
    models = {"popularity": PopularityModel(train=train), **baselines}
    spread = {}
    for name, recipe in (("lesson 03", recipes.LESSON03), ("tuned", TUNED)):
        fitted = [recipe.fit(train, val, seed=seed)[0] for seed in range(seeds)]
        models[name] = fitted[0]
        values = [evaluate_model(test, model, train)["MAP@10"] for model in fitted]
        spread[name] = {"mean": float(sum(values) / len(values)), "values": values}
    report = report_on_test(test, models, train)
    return {"machine": machine(), "table": json.loads(report.to_json(orient="index")), "seeds": spread}


def test_table(result: dict[str, Any]) -> str:
    """The README's markdown table from a --test result."""
    import statistics

    lines = [
        "| model | MAP@10 | 95% interval (users) | MAP@10 over seeds 0-4 | NDCG@10 | recall@10 | coverage | top-100 share |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, row in result["table"].items():
        values = result["seeds"].get(name, {}).get("values")
        seeds = f"{statistics.mean(values):.4f} ± {statistics.stdev(values):.4f}" if values else "–"
        lines.append(
            f"| {name} | {row['MAP@10']:.4f} | {row['95% interval']} | {seeds} | {row['NDCG@10']:.4f} "
            f"| {row['recall@10']:.4f} | {row['coverage']:.4f} | {row['top-100 share']:.4f} |"
        )
    return "\n".join(lines)


def full_search() -> dict[str, Any]:
    """Lesson 06's grid, all 36 points, on its validation part (seed 22)."""
    from coursekit.course import evaluation_split, random_search

    train, val, _ = evaluation_split()
    size = 1
    for values in SEARCH_SPACE.values():
        size *= len(values)
    result = random_search(TUNED.replace(name="searched"), SEARCH_SPACE, train, val, n_trials=size, seed=0)
    return {
        "machine": machine(),
        "best": result.best_settings,
        "trials": json.loads(result.trials.to_json(orient="records")),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 epochs, print only (no JSON written)")
    parser.add_argument("--only", nargs="+", metavar="MODEL", help="run only these models (print only)")
    parser.add_argument(
        "--out", type=Path, default=None, help=f"JSON file (default {RESULTS}, or {RESULTS_SEEDS.name} with --seeds)"
    )
    parser.add_argument(
        "--seeds", type=int, default=1, help="train each model from seeds 0..N-1 (default: seed 22 only)"
    )
    parser.add_argument("--test", action="store_true", help="lesson 06's test report (the README's table)")
    parser.add_argument("--search", action="store_true", help="lesson 06's search over its whole grid")
    args = parser.parse_args(argv)
    os.environ.setdefault("DATA_PATH", str(REPO / "data"))
    sys.path.insert(0, str(REPO))
    if args.test or args.search:
        result = test_protocol() if args.test else full_search()
        print(test_table(result) if args.test else json.dumps(result["best"]))
        out = args.out or (RESULTS_TEST if args.test else RESULTS_SEARCH)
        write_atomically(result, out)
        print(f"wrote {out}")
        return
    report = run(epochs=2 if args.quick else EPOCHS, only=args.only, seeds=args.seeds)
    print(table(report))
    if not (args.quick or args.only):
        out = args.out or (RESULTS if args.seeds == 1 else RESULTS_SEEDS)
        write_atomically(report, out)
        print(f"wrote {out}")


if __name__ == "__main__":
    main()
