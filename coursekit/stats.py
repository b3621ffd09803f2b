"""Descriptive numbers about interaction data that the lessons tabulate."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from coursekit.interactions import Interactions


def split_summary(train: Interactions, validation: Interactions) -> dict[str, int]:
    """Who and what ends up where after a split.

    Returns
    -------
    dict
        ``train`` / ``validation``: interactions in each part;
        ``users in train`` / ``users in validation``: users with at least one interaction there;
        ``users without train data``: users in validation but not in train (nothing to learn from);
        ``users not in validation``: users in train but not in validation (never evaluated);
        ``items in train`` / ``items in validation``: items with at least one interaction there;
        ``cold-start items``: items in validation but not in train (no model has seen them);
        ``cold-start interactions``: validation interactions with those items.
    """
    if train.num_users != validation.num_users or train.num_items != validation.num_items:
        raise ValueError(
            "train and validation must have the same shape, got "
            f"{train.num_users}x{train.num_items} and {validation.num_users}x{validation.num_items}"
        )
    users_train = np.bincount(train.users, minlength=train.num_users) > 0
    users_val = np.bincount(validation.users, minlength=train.num_users) > 0
    items_train = np.bincount(train.items, minlength=train.num_items) > 0
    items_val = np.bincount(validation.items, minlength=train.num_items) > 0
    cold = items_val & ~items_train
    return {
        "train": train.num_interactions,
        "validation": validation.num_interactions,
        "users in train": int(users_train.sum()),
        "users in validation": int(users_val.sum()),
        "users without train data": int((users_val & ~users_train).sum()),
        "users not in validation": int((users_train & ~users_val).sum()),
        "items in train": int(items_train.sum()),
        "items in validation": int(items_val.sum()),
        "cold-start items": int(cold.sum()),
        "cold-start interactions": int(cold[validation.items].sum()),
    }
