"""coursekit scale benchmark: build, sampling, training (trainer vs hand loop), evaluation, ML-100K lesson.

    .venv/bin/python benchmarks/run.py                 # 5M interactions (100k users x 50k items)
    .venv/bin/python benchmarks/run.py --size 500k     # 10x smaller, quick

Every step runs in a fresh child process, so its peak RSS (``ru_maxrss``) is its own. The
synthetic arrays are generated once and cached under ``$DATA_PATH/bench/``. Results are
printed as one table and written atomically to ``benchmarks/results/scale-<size>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT), str(HERE)]

# Figures measured on this machine for an existing PyTorch recommender library at 5M interactions.
REFERENCE_5M = {
    "build": 13.6,
    "sample_exact": 260.0,
    "train_approx_trainer": 276.0,
    "train_exact_trainer": 840.0,
    "evaluate": 2600.0,
}
CPP_BPR_EPOCH_5M = 4.0  # implicit's C++ BPR, one epoch (one negative per interaction)

STEPS = (
    "build",
    "sample_exact",
    "sample_approx",
    "train_approx",
    "train_exact",
    "implicit_bpr",
    "evaluate",
    "similarity",
    "ml100k",
)


def data_folder() -> Path:
    return Path(os.environ.get("DATA_PATH", ROOT / "data")) / "bench"


# --------------------------------------------------------------------------- child steps


def _interactions(args):
    from synthetic import SIZES, cached_arrays

    from coursekit.interactions import Interactions

    users, items = cached_arrays(args.size, data_folder())
    shape = SIZES[args.size]
    start = time.perf_counter()
    x = Interactions(
        users=users,
        items=items,
        num_users=shape["num_users"],
        num_items=shape["num_items"],
        num_negative_samples=args.negatives,
        allow_missing_ids=True,
        seed=0,
    )
    return x, time.perf_counter() - start


def _loader(x, exact: bool, batch_size: int):
    from coursekit.loaders import ApproximateNegativeSamplingInteractionsDataLoader, InteractionsDataLoader

    cls = InteractionsDataLoader if exact else ApproximateNegativeSamplingInteractionsDataLoader
    return cls(x, batch_size=batch_size, shuffle=True, seed=1)


def _model(loader, args):
    from coursekit.model import MatrixFactorizationModel

    return MatrixFactorizationModel(
        train=loader,
        embedding_dim=args.dim,
        optimizer=args.optimizer,
        bias_optimizer=args.bias_optimizer,
        lr_scheduler_func=None,
        seed=0,
    )


def step_build(args):
    _, seconds = _interactions(args)
    return {"seconds": seconds}


def _sample(args, exact: bool):
    x, _ = _interactions(args)
    start = time.perf_counter()
    if exact:
        _ = x.sampling_index  # built once per Interactions; reported separately
    index_seconds = time.perf_counter() - start
    loader = _loader(x, exact, args.batch_size)
    start = time.perf_counter()
    for _ in loader:
        pass
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "index_seconds": index_seconds, "per_second": x.num_interactions / seconds}


def step_sample_exact(args):
    return _sample(args, exact=True)


def step_sample_approx(args):
    return _sample(args, exact=False)


def _hand_loop_epoch(model, loader) -> None:
    """The floor for this design: the same model, batches and optimizers, no framework."""
    from coursekit.optim import RowSparseOptimizer

    optimizers = model.configure_optimizers()
    optimizers = optimizers[0] if isinstance(optimizers, tuple) else optimizers
    model.train()
    for batch in loader:
        loss, _ = model._batch_loss(batch)
        for optimizer in optimizers:
            optimizer.zero_grad()
        loss.backward()
        rows = {"rows": model.factorization.rows_used(*model._graph_rows)}
        for optimizer in optimizers:  # row-sparse optimizers are told the batch's rows, as training_step does
            optimizer.step(**(rows if isinstance(optimizer, RowSparseOptimizer) else {}))


def _train(args, exact: bool):
    from coursekit.model import CourseTrainer

    x, _ = _interactions(args)
    if exact:
        _ = x.sampling_index  # build the index before the timed epochs
    trainer_times, loop_times = [], []
    for _ in range(args.repeat):  # alternate, so both see the same machine load
        model = _model(_loader(x, exact, args.batch_size), args)
        start = time.perf_counter()
        _hand_loop_epoch(model, model.train_dataloader())
        loop_times.append(time.perf_counter() - start)

        model = _model(_loader(x, exact, args.batch_size), args)
        trainer = CourseTrainer(max_epochs=1, enable_progress_bar=False, num_sanity_val_steps=0)
        start = time.perf_counter()
        trainer.fit(model)
        trainer_times.append(time.perf_counter() - start)
    trainer_s, loop_s = min(trainer_times), min(loop_times)
    return {
        "seconds": trainer_s,
        "loop_seconds": loop_s,
        "overhead": trainer_s / loop_s,
        "trainer_all": trainer_times,
        "loop_all": loop_times,
        "per_second": x.num_interactions / trainer_s,
    }


def step_train_approx(args):
    return _train(args, exact=False)


def step_train_exact(args):
    return _train(args, exact=True)


def step_implicit_bpr(args):
    """One epoch of implicit's C++ BPR (factors = --dim, one negative per interaction), where installed."""
    try:
        from implicit.cpu.bpr import BayesianPersonalizedRanking
    except ImportError:
        return {"skipped": "implicit is not installed (pip install implicit)"}
    import numpy as np
    import scipy.sparse as sp
    from synthetic import SIZES, cached_arrays

    users, items = cached_arrays(args.size, data_folder())
    shape = SIZES[args.size]
    mat = sp.csr_matrix(
        (np.ones(len(users), dtype=np.float32), (users, items)), shape=(shape["num_users"], shape["num_items"])
    )
    model = BayesianPersonalizedRanking(factors=args.dim, iterations=1, num_threads=args.threads, random_state=0)
    start = time.perf_counter()
    model.fit(mat, show_progress=False)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "per_second": len(users) / seconds}


def step_evaluate(args):
    import torch

    from coursekit.cross_validation import random_split
    from coursekit.metrics import auc, evaluate_in_batches, mapk, mrr

    x, _ = _interactions(args)
    train, test = random_split(x, test_p=0.1, seed=0)
    del x
    model = _model(train, args)  # untrained weights score like trained ones, as far as timing goes
    model.eval()
    start = time.perf_counter()
    with torch.no_grad():
        values = evaluate_in_batches(
            [mapk, mrr, auc],
            test,
            model,
            k=10,
            batch_size=args.eval_batch_size,
            train_interactions=train,
            progress=False,
        )
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "users": int((test.mat.getnnz(axis=1) > 0).sum()), "values": values}


def step_similarity(args):
    """Item-item and user-user similarity and top-10 recommendations over the whole catalogue."""
    x, _ = _interactions(args)
    model = _model(x, args)
    model.eval()
    start = time.perf_counter()
    for item in range(10):
        model.item_item_similarity(item)
    for user in range(10):
        model.user_user_similarity(user)
        model.recommend(user, k=10, unseen_items_only=True)
    return {"seconds": (time.perf_counter() - start) / 10}


def step_ml100k(args):
    from coursekit.course import build_tutorial_split
    from coursekit.course.recipes import COLLIE_APPROXIMATE
    from coursekit.metrics import auc, evaluate_in_batches, mapk, mrr

    train, val = build_tutorial_split()
    # The reference lesson's model (approximate loaders of 1,024 rows, dim 10, lr 1e-2), seed 22.
    model, _, fit_seconds = COLLIE_APPROXIMATE.fit(train, val, seed=22)
    start = time.perf_counter()
    values = evaluate_in_batches([mapk, mrr, auc], val, model, train_interactions=train, progress=False)
    return {
        "seconds": fit_seconds,
        "evaluate_seconds": time.perf_counter() - start,
        "values": values,
        "interactions": train.num_interactions,
    }


def run_child(step: str, args) -> None:
    import torch

    torch.set_num_threads(args.threads)
    result = globals()[f"step_{step}"](args)
    result["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print("RESULT " + json.dumps(result))


# --------------------------------------------------------------------------- parent


def run_step(step: str, args) -> dict:
    command = [
        sys.executable,
        __file__,
        "--child",
        step,
        "--size",
        args.size,
        "--threads",
        str(args.threads),
        "--batch-size",
        str(args.batch_size),
        "--eval-batch-size",
        str(args.eval_batch_size),
        "--negatives",
        str(args.negatives),
        "--dim",
        str(args.dim),
        "--repeat",
        str(args.repeat),
        "--optimizer",
        args.optimizer,
        "--bias-optimizer",
        args.bias_optimizer,
    ]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode != 0 or not lines:
        sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit(f"benchmark step {step!r} failed (exit {done.returncode})")
    result = json.loads(lines[-1][len("RESULT ") :])
    print(f"  {step}: {result['seconds']:.2f} s ({time.perf_counter() - start:.0f} s with setup)", file=sys.stderr)
    return result


def machine() -> dict:
    import torch

    model = platform.processor()
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        model = next(line.split(":", 1)[1].strip() for line in lscpu.splitlines() if line.startswith("Model name"))
    except (OSError, StopIteration):
        pass
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "torch_threads": None,
    }


def table(results: dict, args) -> str:
    reference = REFERENCE_5M if args.size == "5M" else {}
    rows = [("step", "seconds", "interactions/s", "peak RSS MiB", "reference s", "reference / ours")]

    def add(name, key, seconds, per_second=None, rss=None, ref_key=None):
        ref = reference.get(ref_key or key)
        rows.append(
            (
                name,
                f"{seconds:.2f}",
                "" if per_second is None else f"{per_second / 1e6:.2f} M",
                "" if rss is None else f"{rss:.0f}",
                "" if ref is None else f"{ref:g}",
                "" if ref is None else f"{ref / seconds:.0f}x",
            )
        )

    r = results
    if "build" in r:
        add("Interactions build (from arrays)", "build", r["build"]["seconds"], rss=r["build"]["peak_rss_mib"])
    for kind in ("exact", "approx"):
        s = r.get(f"sample_{kind}")
        if s:
            add(f"{kind} sampling, one epoch", f"sample_{kind}", s["seconds"], s["per_second"], s["peak_rss_mib"])
            if kind == "exact":
                add("  exact sampling index (once)", "-", s["index_seconds"])
    for kind in ("approx", "exact"):
        t = r.get(f"train_{kind}")
        if t:
            add(
                f"train epoch, {kind}, CourseTrainer",
                f"train_{kind}_trainer",
                t["seconds"],
                t["per_second"],
                t["peak_rss_mib"],
            )
            add(f"train epoch, {kind}, hand loop", "-", t["loop_seconds"])
            rows.append((f"  trainer overhead ({kind})", f"{t['overhead']:.2f}x", "", "", "", ""))
    b = r.get("implicit_bpr")
    if b and "skipped" not in b:
        add(f"implicit BPR epoch, factors {args.dim} (C++)", "-", b["seconds"], b["per_second"], b.get("peak_rss_mib"))
        if "train_approx" in r:
            rows.append(
                (
                    "  approx CourseTrainer / implicit",
                    f"{r['train_approx']['seconds'] / b['seconds']:.2f}x",
                    "",
                    "",
                    "",
                    "",
                )
            )
    elif b:
        rows.append((f"implicit BPR: {b['skipped']}", "", "", "", "", ""))
    if "evaluate" in r:
        e = r["evaluate"]
        add(f"evaluate {e['users']} users (MAP@10, MRR, AUC, masked)", "evaluate", e["seconds"], rss=e["peak_rss_mib"])
    if "similarity" in r:
        add(
            "item + user similarity + top-10, one query each",
            "-",
            r["similarity"]["seconds"],
            rss=r["similarity"]["peak_rss_mib"],
        )
    if "ml100k" in r:
        m = r["ml100k"]
        add("ML-100K lesson: 10-epoch fit", "-", m["seconds"], rss=m["peak_rss_mib"])
        add("ML-100K lesson: evaluate (masked)", "-", m["evaluate_seconds"])
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        " | ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths)))
        for row in rows
    ]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def write_json(path: Path, payload: dict) -> None:
    from coursekit._files import atomic_write

    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path, "w") as stream:
        json.dump(payload, stream, indent=2)
        stream.write("\n")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=("5M", "500k"), default="5M")
    parser.add_argument("--steps", default=",".join(STEPS), help=f"comma-separated subset of {','.join(STEPS)}")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per step (default 1; see README)")
    parser.add_argument(
        "--batch-size", type=int, default=None, help="training/sampling batch size (default 8192 at 5M, 1024 at 500k)"
    )
    parser.add_argument("--eval-batch-size", type=int, default=1024, help="users scored at once")
    parser.add_argument("--negatives", type=int, default=10, help="negatives per interaction")
    parser.add_argument("--dim", type=int, default=30, help="embedding_dim")
    parser.add_argument("--optimizer", default="adam", help="embedding optimizer (e.g. adam, lazy_adam)")
    parser.add_argument("--bias-optimizer", default="sgd", help="bias optimizer (e.g. sgd, row_sgd)")
    parser.add_argument("--repeat", type=int, default=1, help="training epochs timed per loader (minimum kept)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.batch_size is None:
        args.batch_size = 8192 if args.size == "5M" else 1024
    if args.child:
        run_child(args.child, args)
        return

    from synthetic import cached_arrays

    steps = [s.strip() for s in args.steps.split(",") if s.strip()]
    unknown = sorted(set(steps) - set(STEPS))
    if unknown:
        parser.error(f"unknown steps {unknown}; choose from {STEPS}")
    start = time.perf_counter()
    users, _ = cached_arrays(args.size, data_folder())  # generate once, outside any timed step
    print(
        f"synthetic {args.size}: {len(users):,} interactions ({time.perf_counter() - start:.1f} s to load or generate)",
        file=sys.stderr,
    )
    results = {}
    for step in steps:
        results[step] = run_step(step, args)
    if "build" in results:
        results["build"]["interactions"] = len(users)
    info = machine()
    info["torch_threads"] = args.threads
    settings = {
        k: getattr(args, k)
        for k in (
            "size",
            "threads",
            "batch_size",
            "eval_batch_size",
            "negatives",
            "dim",
            "repeat",
            "optimizer",
            "bias_optimizer",
        )
    }
    path = HERE / "results" / f"scale-{args.size}.json"
    if set(results) != set(STEPS) and path.exists():
        # A partial run updates its steps in a full run's record made with the same settings.
        previous = json.loads(path.read_text())
        if previous.get("settings", {}) | {"repeat": args.repeat} == settings:
            results = {**previous["results"], **results}
    text = table(results, args)
    print(
        f"coursekit benchmark, {args.size} interactions; batch_size={args.batch_size}, "
        f"{args.negatives} negatives, embedding_dim={args.dim}, {args.optimizer} + {args.bias_optimizer} biases, "
        f"{args.threads} torch thread(s)"
    )
    print(f"{info['cpu']}, {info['cores']} cores, torch {info['torch']}")
    print(text)
    if args.size == "5M":
        print(f"(implicit's C++ BPR: ~{CPP_BPR_EPOCH_5M:g} s per epoch with 1 negative per interaction)")
    write_json(
        path,
        {
            "settings": settings,
            "machine": info,
            "results": results,
            "table": text,
            "reference_5M": REFERENCE_5M,
            "created": time.strftime("%Y-%m-%d %H:%M:%S"),
        },
    )


if __name__ == "__main__":
    main()
