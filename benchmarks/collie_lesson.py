"""The seed lesson's two fits in Collie 1.3.1, timed: run by ``run.py`` under ``$COLLIE_PYTHON``.

    $COLLIE_PYTHON benchmarks/collie_lesson.py data/ml-100k/u.data

Collie (``pip install collie==1.3.1``) needs its own environment: it pins older PyTorch Lightning
releases than coursekit. This script imports nothing from coursekit. It builds the lesson's data the
way Collie's tutorials do (ratings of 4 and up, a 90/10 stratified split, seed 42) and times the two
10-epoch fits of the advanced-training lesson: approximate-negative loaders of 1,024 rows
(dimension 10, Adam at 0.01), then Adam at 0.01 for the vectors and SGD at 0.1 for the biases.
It prints one line, ``RESULT {json}``, as ``run.py``'s own steps do.
"""

from __future__ import annotations

import json
import sys
import time

import pandas as pd
import torch
from collie.cross_validation import stratified_split
from collie.interactions import ApproximateNegativeSamplingInteractionsDataLoader, Interactions
from collie.model import CollieTrainer, MatrixFactorizationModel
from collie.utils import convert_to_implicit


def main(path: str) -> None:
    torch.set_num_threads(1)  # as the course's lessons (coursekit.setup)
    df = pd.read_csv(path, sep="\t", names=["user_id", "item_id", "rating", "timestamp"])
    df[["user_id", "item_id"]] -= 1
    implicit = convert_to_implicit(df, min_rating_to_keep=4, user_col="user_id", item_col="item_id")
    interactions = Interactions(users=implicit["user_id"], items=implicit["item_id"], allow_missing_ids=True)
    train, val = stratified_split(interactions, test_p=0.1, seed=42)
    fits = {}

    start = time.perf_counter()
    train_loader = ApproximateNegativeSamplingInteractionsDataLoader(train, batch_size=1024, shuffle=True)
    val_loader = ApproximateNegativeSamplingInteractionsDataLoader(val, batch_size=1024, shuffle=False)
    model = MatrixFactorizationModel(train=train_loader, val=val_loader, embedding_dim=10, lr=1e-2)
    CollieTrainer(model, max_epochs=10, deterministic=True).fit(model)
    fits["collie_approximate"] = time.perf_counter() - start

    start = time.perf_counter()
    model = MatrixFactorizationModel(
        train=train, val=val, embedding_dim=10, lr=1e-2, bias_lr=1e-1, optimizer="adam", bias_optimizer="sgd"
    )
    CollieTrainer(model, max_epochs=10, deterministic=True).fit(model)
    fits["collie_separate_bias"] = time.perf_counter() - start
    print("RESULT " + json.dumps({"seconds": sum(fits.values()), "fits": fits}))


if __name__ == "__main__":
    main(sys.argv[1])
