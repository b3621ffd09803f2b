"""Recommendation quality on the tutorial split: the course's models side by side, one command.

    .venv/bin/python benchmarks/quality.py            # 10 epochs, writes benchmarks/results/quality.json
    .venv/bin/python benchmarks/quality.py --quick    # 2 epochs, prints the table only (smoke test)

Data: ``coursekit.lessons.build_tutorial_split()``, MovieLens 100K ratings of at least 4 stars,
``stratified_split(test_p=0.1, seed=42)``: 49,426 train / 5,949 validation interactions
(``DATA_PATH`` defaults to this clone's ``data/``). Models, each after
``pytorch_lightning.seed_everything(22)`` as in the lessons, each trained by
``CourseTrainer(max_epochs=10, enable_progress_bar=False)``:

* ``popularity``     ``PopularityModel`` (item counts; nothing to train)
* ``basic_mf``       ``MatrixFactorizationModel`` defaults on ``Interactions`` (train + val, as lesson 03)
* ``approx_mf``      the reference lesson: ``ApproximateNegativeSamplingInteractionsDataLoader``
                     (batch 1024) for train and val, ``embedding_dim=10, lr=1e-2``
* ``separate_opt_mf`` the reference lesson's second model: ``Interactions``, ``embedding_dim=10,
                     lr=1e-2, bias_lr=1e-1, optimizer='adam', bias_optimizer='sgd'``
* ``tuned_mf``       :data:`TUNED` (trained on train only; see below)

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
from coursekit.compare import TUNED

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "quality.json"

# The course's tuned model is ``coursekit.compare.TUNED`` (one source for this benchmark and
# lesson 04): ``MatrixFactorizationModel(train=train, **TUNED)`` on the tutorial split's
# ``Interactions`` (exact negatives, 10 per positive; ``loss='hinge'`` resolves to
# ``adaptive_hinge``, the hardest of the 10), trained ``TUNED['max_epochs']`` epochs on train only.
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


def build_models(train: Any, val: Any, epochs: int) -> dict[str, Callable[[], tuple[Any, Any]]]:
    """Name -> builder returning ``(model, trainer or None)``; each builder is called after seeding."""
    from coursekit.interactions import ApproximateNegativeSamplingInteractionsDataLoader
    from coursekit.model import CourseTrainer, MatrixFactorizationModel, PopularityModel

    def trainer() -> Any:
        return CourseTrainer(max_epochs=epochs, enable_progress_bar=False)

    def approx() -> tuple[Any, Any]:
        train_loader = ApproximateNegativeSamplingInteractionsDataLoader(train, batch_size=1024, shuffle=True)
        val_loader = ApproximateNegativeSamplingInteractionsDataLoader(val, batch_size=1024, shuffle=False)
        return MatrixFactorizationModel(train=train_loader, val=val_loader, embedding_dim=10, lr=1e-2), trainer()

    def tuned() -> tuple[Any, Any]:
        settings = dict(TUNED)
        tuned_epochs = settings.pop("max_epochs")
        model = MatrixFactorizationModel(train=train, **settings)
        return model, CourseTrainer(max_epochs=min(epochs, tuned_epochs), enable_progress_bar=False)

    return {
        "popularity": lambda: (PopularityModel(train), None),
        "basic_mf": lambda: (MatrixFactorizationModel(train=train, val=val), trainer()),
        "approx_mf": approx,
        "separate_opt_mf": lambda: (
            MatrixFactorizationModel(
                train=train, val=val, embedding_dim=10, lr=1e-2, bias_lr=1e-1, optimizer="adam", bias_optimizer="sgd"
            ),
            trainer(),
        ),
        "tuned_mf": tuned,
    }


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


def run(epochs: int = EPOCHS, only: list[str] | None = None) -> dict[str, Any]:
    import pytorch_lightning as pl
    import torch

    from coursekit.lessons import build_tutorial_split

    torch.set_num_threads(1)  # a shared 2-core machine; also makes timings comparable
    train, val = build_tutorial_split()
    results: dict[str, Any] = {}
    for name, build in build_models(train, val, epochs).items():
        if only and name not in only:
            continue
        pl.seed_everything(SEED, verbose=False)
        model, trainer = build()
        start = time.perf_counter()
        if trainer is not None:
            trainer.fit(model)
        fit_seconds = time.perf_counter() - start
        row = {"fit_seconds": fit_seconds, "epochs": 0 if trainer is None else trainer.current_epoch}
        row.update(evaluate(model, train, val))
        results[name] = row
        print(f"{name}: done in {fit_seconds:.1f} s", file=sys.stderr, flush=True)
    return {
        "split": {"train": train.num_interactions, "validation": val.num_interactions,
                  "users": train.num_users, "items": train.num_items},
        "seed": SEED,
        "max_epochs": epochs,
        "tuned": {"settings": {k: v for k, v in TUNED.items() if k != "lr_scheduler_func"}, "val_passed": False},
        "models": results,
        "machine": machine(),
    }


def table(report: dict[str, Any]) -> str:
    header = (f"{'model':<16}{'MAP@10 unm':>11}{'MAP@10 msk':>11}{'MRR unm':>9}{'MRR msk':>9}"
              f"{'AUC unm':>9}{'AUC msk':>9}{'fit s':>8}{'eval s':>8}")
    lines = [header, "-" * len(header)]
    for name, r in report["models"].items():
        lines.append(
            f"{name:<16}{r['map_at_10_unmasked']:>11.4f}{r['map_at_10_masked']:>11.4f}"
            f"{r['mrr_unmasked']:>9.4f}{r['mrr_masked']:>9.4f}{r['auc_unmasked']:>9.4f}{r['auc_masked']:>9.4f}"
            f"{r['fit_seconds']:>8.1f}{r['eval_seconds']:>8.2f}"
        )
    return "\n".join(lines)


def write_atomically(report: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path, "w") as stream:
        json.dump(report, stream, indent=2)
        stream.write("\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 epochs, print only (no JSON written)")
    parser.add_argument("--only", nargs="+", metavar="MODEL", help="run only these models (print only)")
    parser.add_argument("--out", type=Path, default=RESULTS, help=f"JSON file (default {RESULTS})")
    args = parser.parse_args(argv)
    os.environ.setdefault("DATA_PATH", str(REPO / "data"))
    sys.path.insert(0, str(REPO))
    report = run(epochs=2 if args.quick else EPOCHS, only=args.only)
    print(table(report))
    if not (args.quick or args.only):
        write_atomically(report, args.out)
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
