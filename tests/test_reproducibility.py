"""Reproducibility: a seed fixes everything, in any process; coursekit never reseeds global RNGs.

Related tests elsewhere: same seed -> same batches within a process (tests/contracts.py), same
split in a fresh process (tests/test_cross_validation.py), same weights within a process
(tests/test_trainer.py). Here the whole pipeline -- split, batches, initial weights, training,
metrics -- runs in two fresh processes (with different hash seeds) and must print the same bytes.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch

from coursekit.cross_validation import random_split, stratified_split, temporal_split
from coursekit.interactions import (
    ApproximateNegativeSamplingInteractionsDataLoader,
    Interactions,
    InteractionsDataLoader,
)
from coursekit.metrics import auc, evaluate_in_batches, mapk, mrr
from coursekit.model import CourseTrainer, MatrixFactorizationModel, PopularityModel
from tests.contracts import ROOT_DIR, synthetic_interactions

PIPELINE = """
import hashlib, json, sys, warnings
import numpy as np
import torch
from coursekit.cross_validation import stratified_split
from coursekit.interactions import Interactions, InteractionsDataLoader
from coursekit.metrics import auc, evaluate_in_batches, mapk, mrr
from coursekit.model import CourseTrainer, MatrixFactorizationModel

def digest(*arrays):
    h = hashlib.sha256()
    for a in arrays:
        h.update(np.ascontiguousarray(a.detach().numpy() if hasattr(a, "detach") else a).tobytes())
    return h.hexdigest()

def weights(model):
    return digest(*(v for _, v in sorted(model.state_dict().items())))

def main(seed):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return json.dumps(run(seed), sort_keys=True)

def run(seed):
    rng = np.random.default_rng(0)  # the data are fixed; only `seed` varies between runs
    users = np.repeat(np.arange(80), 8)
    items = np.concatenate([rng.choice(20, 8, replace=False) + 20 * (u % 2) for u in range(80)])
    data = Interactions(users, items, num_negative_samples=3)
    train, test = stratified_split(data, test_p=0.25, seed=seed)
    loader = InteractionsDataLoader(train, batch_size=64, shuffle=True, seed=seed)
    model = MatrixFactorizationModel(loader, embedding_dim=4, lr=5e-2, seed=seed)
    torch.manual_seed(seed)  # Interactions holds no random state: indexing draws from torch's RNG
    getitem = digest(*data[np.arange(20)][1:])
    out = {
        "split": digest(train.users, train.items, test.users, test.items),
        "batches": digest(*(t for (u, i), n in loader for t in (u, i, n))),
        "getitem": getitem,
        "initial_weights": weights(model),
    }
    loader.sampler.set_epoch(0)
    trainer = CourseTrainer(model, max_epochs=2, enable_progress_bar=False)
    trainer.fit(model)
    model.eval()
    out["trained_weights"] = weights(model)
    out["losses"] = [f"{v:.10f}" for v in trainer.history.train_loss]
    out["metrics"] = [f"{v:.10f}" for v in evaluate_in_batches([mapk, mrr, auc], test, model, train_interactions=train,
                                                              progress=False)]
    return out

if __name__ == "__main__":
    torch.set_num_threads(1)
    print(main(int(sys.argv[1])))
"""


@pytest.mark.slow
def test_same_seed_same_everything_in_fresh_processes_and_another_seed_differs():
    env = {**os.environ, "PYTHONPATH": str(ROOT_DIR)}
    # Fresh processes, so nothing an earlier test left behind (thread counts, warning filters,
    # flushed denormals) can leak in; different hash randomisation for the two same-seed runs.
    runs = [("7", "1"), ("7", "2"), ("8", "1")]
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", PIPELINE, seed],
            cwd=ROOT_DIR,
            env={**env, "PYTHONHASHSEED": hash_seed},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for seed, hash_seed in runs
    ]
    results = []
    for process in processes:
        stdout, stderr = process.communicate(timeout=600)  # generous: CI machines can be slow
        assert process.returncode == 0, stderr[-3000:]
        results.append(json.loads(stdout.strip().splitlines()[-1]))
    first, second, other = results
    # Split, batches, sampled negatives, initial and trained weights, losses and metrics, bit for bit.
    assert first == second
    assert set(first) == {"split", "batches", "getitem", "initial_weights", "trained_weights", "losses", "metrics"}
    assert len(first["losses"]) == 2 and len(first["metrics"]) == 3
    for key in first:
        assert first[key] != other[key], key


# -- coursekit never reseeds the global RNGs -------------------------------------------------------


def _global_states():
    return torch.get_rng_state().clone(), np.random.get_state(), random.getstate()


def _assert_states_equal(before, after, what):
    assert torch.equal(before[0], after[0]), f"{what} changed torch's global RNG"
    assert all(np.array_equal(a, b) for a, b in zip(before[1], after[1])), f"{what} changed numpy's global RNG"
    assert before[2] == after[2], f"{what} changed Python's global RNG"


def test_seeded_objects_never_touch_the_global_rngs():
    torch.manual_seed(123)
    np.random.seed(123)
    random.seed(123)
    before = _global_states()
    x = synthetic_interactions(with_timestamps=True, seed=1)
    steps = {
        "Interactions": lambda: Interactions(x.users, x.items, timestamps=x.timestamps, num_negative_samples=3),
        "random_split": lambda: random_split(x, val_p=0.1, seed=3),
        "stratified_split": lambda: stratified_split(x, val_p=0.1, seed=3, force_split=True),
        "temporal_split": lambda: temporal_split(x, seed=3, force_split=True),
        "exact loader": lambda: list(InteractionsDataLoader(x, batch_size=16, shuffle=True, seed=4)),
        "approximate loader": lambda: list(
            ApproximateNegativeSamplingInteractionsDataLoader(x, batch_size=16, shuffle=True, seed=4)
        ),
        "MatrixFactorizationModel": lambda: MatrixFactorizationModel(x, embedding_dim=3, dropout_p=0.2, seed=5),
        "PopularityModel": lambda: PopularityModel(x),
    }
    for what, step in steps.items():
        step()
        _assert_states_equal(before, _global_states(), what)

    model = MatrixFactorizationModel(x, embedding_dim=3, seed=5).eval()
    for what, step in {
        "score_all_items": lambda: model.score_all_items(torch.arange(10)),
        "recommend": lambda: model.recommend(3, unseen_items_only=True),
        "item_item_similarity": lambda: model.item_item_similarity(2),
        "evaluate_in_batches": lambda: evaluate_in_batches(
            [mapk, mrr, auc], x, model, train_interactions=x, progress=False
        ),
    }.items():
        step()
        _assert_states_equal(before, _global_states(), what)


def test_training_never_reseeds_the_global_rngs():
    # Training may *draw* from the global generators (dropout does); it must never *reset* them.
    # A reset makes the state after fit() independent of the state before it; so fit from two
    # different global seeds must end in two different global states.
    x = synthetic_interactions(seed=1)
    ends = []
    for global_seed in (1, 2):
        model = MatrixFactorizationModel(x, embedding_dim=3, dropout_p=0.1, seed=5)
        torch.manual_seed(global_seed)
        np.random.seed(global_seed)
        random.seed(global_seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            CourseTrainer(model, max_epochs=1, enable_progress_bar=False).fit(model)
        ends.append(_global_states())
    (torch_1, numpy_1, python_1), (torch_2, numpy_2, python_2) = ends
    assert not torch.equal(torch_1, torch_2), "fit() reseeded torch's global RNG"
    assert not np.array_equal(numpy_1[1], numpy_2[1]), "fit() reseeded numpy's global RNG"
    assert python_1 != python_2, "fit() reseeded Python's global RNG"


def test_seed_none_draws_one_seed_from_torch_and_reseeds_nothing():
    x = synthetic_interactions(seed=1)
    np.random.seed(7)
    random.seed(7)
    numpy_state, python_state = np.random.get_state(), random.getstate()
    builders = {
        "InteractionsDataLoader": lambda: InteractionsDataLoader(x),
        "MatrixFactorizationModel": lambda: MatrixFactorizationModel(x, embedding_dim=2).hparams,
    }
    for what, build in builders.items():
        torch.manual_seed(11)
        built = build()
        seed = built["seed"] if what == "MatrixFactorizationModel" else built.seed
        follows = torch.rand(3)
        # Exactly what default_seed documents: one draw from torch's global generator, nothing else.
        torch.manual_seed(11)
        expected_seed = int(torch.randint(0, 2**31 - 1, (1,)).item())
        assert seed == expected_seed, what
        assert torch.equal(follows, torch.rand(3)), f"{what} consumed more than one draw or reseeded"
        # Consuming, not reseeding: a second object built right after gets a different seed.
        torch.manual_seed(11)
        build()
        again = build()
        assert (again["seed"] if what == "MatrixFactorizationModel" else again.seed) != seed, what
    assert all(np.array_equal(a, b) for a, b in zip(numpy_state, np.random.get_state()))
    assert python_state == random.getstate()


def test_indexing_interactions_draws_once_from_torch_and_touches_nothing_else():
    # Interactions holds no random state: x[i] seeds its negatives with one draw of torch's RNG.
    x = synthetic_interactions(seed=1)
    np.random.seed(7)
    random.seed(7)
    numpy_state, python_state = np.random.get_state(), random.getstate()
    torch.manual_seed(11)
    x[np.arange(30)]
    follows = torch.rand(3)
    torch.manual_seed(11)
    torch.randint(0, 2**31 - 1, (1,))
    assert torch.equal(follows, torch.rand(3))
    assert all(np.array_equal(a, b) for a, b in zip(numpy_state, np.random.get_state()))
    assert python_state == random.getstate()
