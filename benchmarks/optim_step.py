"""Per-step time of one training step on 100k x 30 user and 50k x 30 item tables, batch 1024.

    .venv/bin/python benchmarks/optim_step.py adam        # dense fused Adam + dense SGD (biases)
    .venv/bin/python benchmarks/optim_step.py lazy_adam   # LazyAdam + RowSGD (coursekit.optim)

One process per optimizer, one thread; prints the median milliseconds per step (forward, adaptive
hinge with 10 negatives, backward, both optimizers) over ``--steps`` steps after a warm-up.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from coursekit.losses import adaptive_hinge
from coursekit.model.factorization import MatrixFactorization
from coursekit.optim import LazyAdam, RowAdagrad, RowSGD

SETUPS = {
    "adam": (lambda p: torch.optim.Adam(p, lr=1e-3, fused=True), lambda p: torch.optim.SGD(p, lr=1e-2)),
    "lazy_adam": (lambda p: LazyAdam(p, lr=1e-3), lambda p: RowSGD(p, lr=1e-2)),
    "row_adagrad": (lambda p: RowAdagrad(p, lr=1e-2), lambda p: RowSGD(p, lr=1e-2)),
    "row_sgd": (lambda p: RowSGD(p, lr=1e-2), lambda p: RowSGD(p, lr=1e-2)),
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("optimizer", choices=sorted(SETUPS))
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--items", type=int, default=50_000)
    args = parser.parse_args()
    torch.set_num_threads(1)
    net = MatrixFactorization(args.users, args.items, 30, seed=0)
    named = list(net.named_parameters())
    make_main, make_bias = SETUPS[args.optimizer]
    optimizers = [make_main([p for n, p in named if "bias" not in n]), make_bias([p for n, p in named if "bias" in n])]
    generator = torch.Generator().manual_seed(0)
    times = []
    for step in range(args.steps + 20):
        users = torch.randint(0, args.users, (1024,), generator=generator)
        items = torch.randint(0, args.items, (1024, 11), generator=generator)
        start = time.perf_counter()
        scores = net(users[:, None], items)
        loss = adaptive_hinge(scores[:, 0], scores[:, 1:])
        for optimizer in optimizers:
            optimizer.zero_grad()
        loss.backward()
        rows = {"rows": net.rows_used(users, items)}
        for optimizer in optimizers:
            optimizer.step(**(rows if isinstance(optimizer, (LazyAdam, RowSGD, RowAdagrad)) else {}))
        if step >= 20:
            times.append(time.perf_counter() - start)
    print(f"{args.optimizer}: {1e3 * statistics.median(times):.2f} ms per step")


if __name__ == "__main__":
    main()
