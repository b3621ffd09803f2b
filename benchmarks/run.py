"""coursekit scale benchmark: build, sampling, training (trainer vs hand loop, beside implicit's BPR and
ALS), evaluation, and the seed lesson's two fits (beside Collie's, where a Collie environment is given).

    .venv/bin/python benchmarks/run.py                 # 5M interactions (100k users x 50k items)
    .venv/bin/python benchmarks/run.py --size 500k     # 10x smaller, quick
    .venv/bin/python benchmarks/run.py --growth        # both sizes, and each step's growth n^x between them

Every step runs in a fresh child process, so its peak RSS (``ru_maxrss``) is its own. The
synthetic arrays are generated once and cached under ``$DATA_PATH/bench/``. Results are
printed as one table and written atomically to ``benchmarks/results/scale-<size>.json``.
"""

from __future__ import annotations

import argparse
import json
import math
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
# Collie 1.3.1's two fits of the seed lesson, measured on this machine kind when issue 16 was filed.
COLLIE_LESSON_RECORDED = (12.1, 12.8)

STEPS = (
    "build",
    "sample_exact",
    "sample_approx",
    "train_approx",
    "train_exact",
    "implicit_bpr",
    "implicit_als",
    "evaluate",
    "similarity",
    "ml100k",
    "collie",
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
        sparse=not args.dense,
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


def _implicit_epoch(args, name: str):
    """One epoch (iteration) of implicit's C++ BPR or ALS (factors = --dim, --threads threads), where installed."""
    try:
        from implicit.cpu.als import AlternatingLeastSquares
        from implicit.cpu.bpr import BayesianPersonalizedRanking
    except ImportError:
        return {"skipped": "implicit is not installed (pip install coursekit[baselines])"}
    import numpy as np
    import scipy.sparse as sp
    from synthetic import SIZES, cached_arrays

    users, items = cached_arrays(args.size, data_folder())
    shape = SIZES[args.size]
    mat = sp.csr_matrix(
        (np.ones(len(users), dtype=np.float32), (users, items)), shape=(shape["num_users"], shape["num_items"])
    )
    cls = {"bpr": BayesianPersonalizedRanking, "als": AlternatingLeastSquares}[name]
    model = cls(factors=args.dim, iterations=1, num_threads=args.threads, random_state=0)
    start = time.perf_counter()
    model.fit(mat, show_progress=False)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "per_second": len(users) / seconds}


def step_implicit_bpr(args):
    """implicit's BPR: one negative per interaction, plain SGD, multithreaded C++."""
    return _implicit_epoch(args, "bpr")


def step_implicit_als(args):
    """implicit's ALS: one alternating least-squares sweep over users and items."""
    return _implicit_epoch(args, "als")


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
    """The seed lesson's two 10-epoch fits through CourseTrainer (lesson 04's Collie models), then one evaluation."""
    from coursekit.course import build_tutorial_split
    from coursekit.course.recipes import COLLIE_APPROXIMATE, COLLIE_SEPARATE_BIAS
    from coursekit.metrics import auc, evaluate_in_batches, mapk, mrr

    train, val = build_tutorial_split()
    fits = {}
    for recipe in (COLLIE_APPROXIMATE, COLLIE_SEPARATE_BIAS):
        model, _, fits[recipe.name] = recipe.fit(train, val, seed=22)
    start = time.perf_counter()
    values = evaluate_in_batches([mapk, mrr, auc], val, model, train_interactions=train, progress=False)
    return {
        "seconds": sum(fits.values()),
        "fits": fits,
        "evaluate_seconds": time.perf_counter() - start,
        "values": values,
        "interactions": train.num_interactions,
    }


def step_collie(args):
    """The same two fits in Collie 1.3.1, run by the interpreter in ``$COLLIE_PYTHON`` (its own environment)."""
    python = os.environ.get("COLLIE_PYTHON")
    if not python:
        return {"skipped": "set COLLIE_PYTHON to a Python with collie==1.3.1 installed to time Collie beside us"}
    from coursekit.movielens import verify_movielens

    ratings = verify_movielens() / "u.data"
    done = subprocess.run([python, str(HERE / "collie_lesson.py"), str(ratings)], capture_output=True, text=True)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode != 0 or not lines:
        return {"skipped": f"Collie's run failed (exit {done.returncode}): {done.stderr.strip()[-300:]}"}
    return json.loads(lines[-1][len("RESULT ") :])


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
    ] + (["--dense"] if args.dense else [])
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode != 0 or not lines:
        sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit(f"benchmark step {step!r} failed (exit {done.returncode})")
    result = json.loads(lines[-1][len("RESULT ") :])
    took = result["skipped"] if "skipped" in result else f"{result['seconds']:.2f} s"
    print(f"  {args.size} {step}: {took} ({time.perf_counter() - start:.0f} s with setup)", file=sys.stderr)
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
    for name, label in (("implicit_bpr", "BPR"), ("implicit_als", "ALS")):
        b = r.get(name)
        if b and "skipped" not in b:
            add(
                f"implicit {label} epoch, factors {args.dim} (C++)",
                "-",
                b["seconds"],
                b["per_second"],
                b["peak_rss_mib"],
            )
            if "train_approx" in r:
                ratio = r["train_approx"]["seconds"] / b["seconds"]
                rows.append((f"  approx CourseTrainer / implicit {label}", f"{ratio:.2f}x", "", "", "", ""))
        elif b:
            rows.append((f"implicit {label}: {b['skipped']}", "", "", "", "", ""))
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
        add("ML-100K seed lesson: two 10-epoch fits, CourseTrainer", "-", m["seconds"], rss=m["peak_rss_mib"])
        add("ML-100K lesson: evaluate (masked)", "-", m["evaluate_seconds"])
        c = r.get("collie")
        if c and "skipped" not in c:
            add("  the same two fits in Collie 1.3.1 (this run)", "-", c["seconds"])
            rows.append(("  Collie / ours", f"{c['seconds'] / m['seconds']:.1f}x", "", "", "", ""))
        else:
            low, high = COLLIE_LESSON_RECORDED
            rows.append(
                (
                    f"  Collie 1.3.1, recorded {low:g}-{high:g} s (not this run): {low / m['seconds']:.1f}-"
                    f"{high / m['seconds']:.1f}x ours",
                    "",
                    "",
                    "",
                    "",
                    "",
                )
            )
            if c:
                rows.append((f"  Collie: {c['skipped']}", "", "", "", "", ""))
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


def run_size(size: str, steps: list[str], args) -> dict:
    """Run ``steps`` at ``size``, print the table, record it in ``results/scale-<size>.json``; return the results."""
    from synthetic import cached_arrays

    args = argparse.Namespace(**{**vars(args), "size": size})
    start = time.perf_counter()
    users, _ = cached_arrays(size, data_folder())  # generate once, outside any timed step
    print(
        f"synthetic {size}: {len(users):,} interactions ({time.perf_counter() - start:.1f} s to load or generate)",
        file=sys.stderr,
    )
    results = {step: run_step(step, args) for step in steps}
    if "build" in results:
        results["build"]["interactions"] = len(users)
    info = machine()
    info["torch_threads"] = args.threads
    settings = {k: getattr(args, k) for k in SETTINGS}
    path = (
        HERE / "results" / (f"scale-{size}.json" if args.threads == 1 else f"scale-{size}-{args.threads}threads.json")
    )
    if set(results) != set(STEPS) and path.exists():
        # A partial run updates its steps in a full run's record made with the same settings.
        previous = json.loads(path.read_text())
        if previous.get("settings", {}) | {"repeat": args.repeat} == settings:
            results = {**previous["results"], **results}
    text = table(results, args)
    gradients = "dense gradients" if args.dense else "row-sparse gradients (sparse=True)"
    print(
        f"coursekit benchmark, {size} interactions; batch_size={args.batch_size}, {args.negatives} negatives, "
        f"embedding_dim={args.dim}, {args.optimizer} + {args.bias_optimizer} biases, {gradients}, "
        f"{args.threads} torch thread(s)"
    )
    print(f"{info['cpu']}, {info['cores']} cores, torch {info['torch']}")
    print(text)
    payload = {"settings": settings, "machine": info, "results": results, "table": text}
    payload |= {"reference_5M": REFERENCE_5M, "created": time.strftime("%Y-%m-%d %H:%M:%S")}
    write_json(path, payload)
    return results


def growth_table(small: dict, large: dict, steps_of: dict) -> str:
    """Each step's growth ``n^x`` from 0.5M to 5M interactions (ten times the data: ``x = log10(t_5M / t_0.5M)``)."""
    rows = [("step", "0.5M s", "5M s", "per batch 0.5M / 5M, ms", "growth n^x")]
    for step in steps_of:
        a, b = small.get(step), large.get(step)
        if not a or not b or "skipped" in a or "skipped" in b:
            continue
        per_batch = ""
        if step in steps_of and steps_of[step]:
            batches = steps_of[step]
            per_batch = f"{a['seconds'] / batches[0] * 1e3:.2f} / {b['seconds'] / batches[1] * 1e3:.2f}"
        rows.append(
            (
                step,
                f"{a['seconds']:.2f}",
                f"{b['seconds']:.2f}",
                per_batch,
                f"{math.log10(b['seconds'] / a['seconds']):.2f}",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        " | ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))) for row in rows
    ]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


SETTINGS = (
    "size",
    "threads",
    "batch_size",
    "eval_batch_size",
    "negatives",
    "dim",
    "repeat",
    "optimizer",
    "bias_optimizer",
    "dense",
)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=("5M", "500k"), default="5M")
    parser.add_argument("--growth", action="store_true", help="run at 500k and 5M and print each step's growth")
    parser.add_argument("--steps", default=",".join(STEPS), help=f"comma-separated subset of {','.join(STEPS)}")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per step (default 1; see README)")
    parser.add_argument("--batch-size", type=int, default=1024, help="training/sampling batch size (the tutorial's)")
    parser.add_argument("--eval-batch-size", type=int, default=1024, help="users scored at once")
    parser.add_argument("--negatives", type=int, default=10, help="negatives per interaction")
    parser.add_argument("--dim", type=int, default=30, help="embedding_dim")
    parser.add_argument("--optimizer", default="lazy_adam", help="embedding optimizer (e.g. lazy_adam, adam)")
    parser.add_argument("--bias-optimizer", default="row_sgd", help="bias optimizer (e.g. row_sgd, sgd)")
    parser.add_argument(
        "--dense", action="store_true", help="dense gradients (sparse=False), e.g. with --optimizer adam"
    )
    parser.add_argument("--repeat", type=int, default=1, help="training epochs timed per loader (minimum kept)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        run_child(args.child, args)
        return

    steps = [s.strip() for s in args.steps.split(",") if s.strip()]
    unknown = sorted(set(steps) - set(STEPS))
    if unknown:
        parser.error(f"unknown steps {unknown}; choose from {STEPS}")
    if not args.growth:
        run_size(args.size, steps, args)
        return
    from synthetic import SIZES

    small_steps = [s for s in steps if s not in ("ml100k", "collie")]  # the same data at both sizes
    small = run_size("500k", small_steps, args)
    print()
    large = run_size("5M", steps, args)
    batches = [math.ceil(SIZES[size]["num_interactions"] / args.batch_size) for size in ("500k", "5M")]
    steps_of = {step: batches if step.startswith(("train", "sample")) else None for step in small_steps}
    text = growth_table(small, large, steps_of)
    print(f"\ngrowth from 0.5M to 5M interactions (x = 1: linear)\n{text}")
    suffix = "" if args.threads == 1 else f"-{args.threads}threads"
    write_json(
        HERE / "results" / f"scale-growth{suffix}.json", {"table": text, "created": time.strftime("%Y-%m-%d %H:%M:%S")}
    )


if __name__ == "__main__":
    main()
