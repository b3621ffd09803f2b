"""Batch loaders over ``Interactions``: exact or approximate negatives, one batch at a time.

A loader is a plain iterable, not a ``torch.utils.data.DataLoader``: building a
batch is a handful of numpy calls on index arrays, so per-interaction
``__getitem__`` calls and collation would only slow it down. Every loader yields

    ((users, positive_items), negative_items)

with int64 tensors of shape ``[B]``, ``[B]`` and ``[B, num_negative_samples]``,
so models never care which loader they were given.

Randomness: each epoch draws from ``numpy.random.default_rng([seed, epoch, ...])``.
Batches therefore depend only on the seed and the epoch number, not on how many
batches were drawn before: a run resumed from a checkpoint sees the same batches
as an uninterrupted one. Lightning tells the loader the epoch through
``loader.sampler.set_epoch`` (as it does for a ``DistributedSampler``); iterating
by hand advances it by one per pass.

Where these differ from Collie's loaders on purpose: the negatives of a row are drawn *with
replacement* (independent draws, so a row may repeat a negative; one vectorised call instead of a
per-row loop, and the same distribution Collie's approximate sampler has), and bad arguments
(a batch size of 0, a non-Interactions input) raise a clear error instead of failing later.
"""

from __future__ import annotations

import math
from typing import Any, Iterator

import numpy as np
import torch
import torch.distributed as dist

from coursekit._checks import check_int, default_seed
from coursekit.sampling import sample_approximate, sample_exact

Batch = tuple[tuple[torch.Tensor, torch.Tensor], torch.Tensor]


class EpochCounter:
    """The epoch a loader draws next; Lightning calls ``set_epoch`` before each epoch."""

    def __init__(self) -> None:
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)


class BatchLoader:
    """What every coursekit loader shares: batch size, per-epoch seeding, distributed sharding.

    Subclasses set ``self.interactions`` (with ``num_items``, ``num_negative_samples`` and
    ``len()``) and implement ``__iter__``.
    """

    # Lightning inspects ``loader.batch_sampler`` of anything that has a ``sampler``.
    batch_sampler = None

    def __init__(self, batch_size: int, shuffle: bool, drop_last: bool, seed: int | None) -> None:
        self.batch_size = check_int("batch_size", batch_size, minimum=1)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.seed = default_seed(seed)
        self.sampler = EpochCounter()

    @property
    def num_negative_samples(self) -> int:
        return self.interactions.num_negative_samples

    # Collie's loader attributes: the size of the data the loader iterates over.
    @property
    def num_users(self) -> int:
        return self.interactions.num_users

    @property
    def num_items(self) -> int:
        return self.interactions.num_items

    @property
    def num_interactions(self) -> int:
        return len(self.interactions)

    @staticmethod
    def _shard() -> tuple[int, int]:
        """``(rank, world_size)`` of this process; ``(0, 1)`` outside ``torch.distributed``."""
        if dist.is_available() and dist.is_initialized():
            return dist.get_rank(), dist.get_world_size()
        return 0, 1

    def _next_epoch(self) -> tuple[int, int, int]:
        """The epoch to draw now (then advance the counter), with this process's rank and world size."""
        epoch = self.sampler.epoch
        self.sampler.epoch += 1
        return (epoch, *self._shard())

    def __len__(self) -> int:
        _, world = self._shard()
        rows = math.ceil(len(self.interactions) / world)  # every rank gets the same share, padded
        return rows // self.batch_size if self.drop_last else math.ceil(rows / self.batch_size)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({len(self.interactions)} interactions, batch_size={self.batch_size}, "
            f"shuffle={self.shuffle}, {self.num_negative_samples} negatives each)"
        )


class _InteractionsLoader(BatchLoader):
    """Batches over in-memory ``Interactions``; subclasses choose how negatives are drawn."""

    exact: bool

    def __init__(
        self,
        interactions: Any,
        batch_size: int = 1024,
        shuffle: bool = False,
        drop_last: bool = False,
        seed: int | None = None,
    ) -> None:
        if not all(hasattr(interactions, a) for a in ("mat", "num_items", "num_negative_samples")):
            raise TypeError(f"interactions must be a coursekit Interactions, got {type(interactions).__name__}")
        super().__init__(batch_size, shuffle, drop_last, seed)
        self.interactions = interactions
        self._users = interactions.users
        self._items = interactions.items

    def _positions(self, epoch: int, rank: int, world: int) -> np.ndarray:
        """Interaction indices this process visits in ``epoch``."""
        n = len(self._users)
        order = np.random.default_rng([self.seed, epoch]).permutation(n) if self.shuffle else np.arange(n)
        if world > 1:
            # Every process must see the same number of batches, or DDP waits forever:
            # pad by wrapping around, as torch's DistributedSampler does.
            per_rank = math.ceil(n / world)
            order = np.resize(order, per_rank * world)[rank::world]
        return order

    def __iter__(self) -> Iterator[Batch]:
        epoch, rank, world = self._next_epoch()
        positions = self._positions(epoch, rank, world)
        rng = np.random.default_rng([self.seed, epoch, rank, 1])
        stop = len(positions) - len(positions) % self.batch_size if self.drop_last else len(positions)
        for start in range(0, stop, self.batch_size):
            batch = positions[start : start + self.batch_size]
            users, items = self._users[batch], self._items[batch]
            yield (torch.from_numpy(users), torch.from_numpy(items)), torch.from_numpy(self._negatives(rng, users))

    def _negatives(self, rng: np.random.Generator, users: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class InteractionsDataLoader(_InteractionsLoader):
    """Batches with *exact* negatives: no negative is ever one of the user's positives.

    Parameters
    ----------
    interactions
        The :class:`coursekit.interactions.Interactions` to iterate over.
    batch_size
        Interactions per batch (``evaluate_in_batches``'s ``batch_size`` counts users instead).
    shuffle
        Visit interactions in a new random order every epoch.
    drop_last
        Drop the last, smaller batch.
    seed
        Seed for order and negatives (default: drawn from torch's global RNG).
    """

    exact = True

    def _negatives(self, rng: np.random.Generator, users: np.ndarray) -> np.ndarray:
        interactions = self.interactions
        index, num_items = interactions.sampling_index, interactions.num_items
        return sample_exact(rng, index, num_items, users, self.num_negative_samples)


class ApproximateNegativeSamplingInteractionsDataLoader(_InteractionsLoader):
    """Batches with *approximate* negatives: uniform random items, not checked against positives.

    Much faster than exact sampling; on sparse data a sampled "negative" is only
    rarely a positive (with probability about the user's share of the catalogue).
    Same parameters as :class:`InteractionsDataLoader`.
    """

    exact = False

    def _negatives(self, rng: np.random.Generator, users: np.ndarray) -> np.ndarray:
        return sample_approximate(rng, self.interactions.num_items, len(users), self.num_negative_samples)
