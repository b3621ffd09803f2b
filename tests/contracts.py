"""Shared test contracts: synthetic data, and test mixins every implementation must pass.

The pattern (as in ``implicit``'s test mixins): a contract is a plain class of
``test_*`` methods that call a factory hook; each implementation gets a test
class inheriting the contract and defining the hook, and pytest collects the
contract's tests once per implementation::

    class TestMyLoader(LoaderContract):
        def make_loader(self, interactions, **kwargs):
            return MyLoader(interactions, **kwargs)

Contracts here:

* :class:`LoaderContract` -- batch structure, one visit per interaction per epoch,
  ``len``, seeding per epoch, ``sampler.set_epoch``, ``drop_last``, sharding.
* :class:`ExactNegativesContract` -- additionally, a negative is never a positive.
* :class:`ModelContract` -- ``score_all_items`` shape and dtype, ``forward`` agreeing with it,
  ``get_item_predictions`` / ``recommend``, id checks, ``save_model`` / ``load_model`` round trip
  (run in ``tests/test_properties.py`` against every model and a loaded one).

Models
------
A new model gets ``class TestMyModel(ModelContract)`` with a ``make_model(interactions, tmp_path)``
hook (see ``tests/test_properties.py``). Keep contract tests small (the synthetic data is
50 x 40) so the suite stays fast, and put only what *every* model must do in the contract;
model-specific tests stay in the model's own test file.
"""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch

from coursekit.interactions import Interactions

ROOT_DIR = Path(__file__).resolve().parents[1]

# Tolerance for float32 scores computed in batches of different shapes (one user vs several, a grid
# vs pairs): the same math, possibly another BLAS kernel and summation order, so a few ulps apart.
SCORE_RTOL = 1e-5
SCORE_ATOL = 1e-6


def synthetic_interactions(
    num_users: int = 50,
    num_items: int = 40,
    density: float = 0.1,
    seed: int = 0,
    num_negative_samples: int = 5,
    with_timestamps: bool = False,
) -> Interactions:
    """A small random ``Interactions``: every user has at least one item, nobody has all of them.

    Each (user, item) pair is present with probability ``density``, plus one
    guaranteed item per user. Items that nobody picked stay as missing ids.
    """
    rng = np.random.default_rng(seed)
    present = rng.random((num_users, num_items)) < density
    rows = np.arange(num_users)
    seen = rng.integers(0, num_items, num_users)
    present[rows, seen] = True
    # ... and one unseen item (a user who has everything has no negatives).
    present[rows, (seen + rng.integers(1, num_items, num_users)) % num_items] = False
    users, items = np.nonzero(present)
    timestamps = rng.integers(0, 10**6, len(users)) if with_timestamps else None
    return Interactions(
        users,
        items,
        num_users=num_users,
        num_items=num_items,
        num_negative_samples=num_negative_samples,
        allow_missing_ids=True,
        timestamps=timestamps,
    )


def clustered_split(num_users: int = 80, num_items: int = 40, clusters: int = 4, per_user: int = 7, seed: int = 0):
    """Planted tastes: user ``u`` picks only among the items of cluster ``u % clusters``.

    Returns ``(train, test)``: each user's last pick is withheld in test, the others are in train.
    Every item is about equally popular, so only the users' tastes say which unseen item is theirs;
    with 10 items per cluster and 6 seen, a model that learned the clusters ranks the withheld item
    above all 30 items of other clusters (AUC about 0.95), popularity ranks it near chance.
    """
    rng = np.random.default_rng(seed)
    size = num_items // clusters
    chosen = np.stack([rng.choice(size, per_user, replace=False) + size * (u % clusters) for u in range(num_users)])
    users = np.repeat(np.arange(num_users), per_user).reshape(num_users, per_user)
    return _two_parts(users, chosen, num_users, num_items)


def popular_split(num_users: int = 60, num_items: int = 40, per_user: int = 7, seed: int = 0):
    """Everybody likes the same few items: picks are drawn with weights ``0.7 ** item``.

    Returns ``(train, test)`` with each user's last pick withheld. Here popularity alone ranks
    a withheld item high: the data set on which the popularity baseline must pass.
    """
    rng = np.random.default_rng(seed)
    weights = 0.7 ** np.arange(num_items)
    chosen = np.stack(
        [rng.choice(num_items, per_user, replace=False, p=weights / weights.sum()) for _ in range(num_users)]
    )
    users = np.repeat(np.arange(num_users), per_user).reshape(num_users, per_user)
    return _two_parts(users, chosen, num_users, num_items)


def _two_parts(users: np.ndarray, chosen: np.ndarray, num_users: int, num_items: int):
    def build(columns: slice) -> Interactions:
        return Interactions(
            users[:, columns].ravel(),
            chosen[:, columns].ravel(),
            num_users=num_users,
            num_items=num_items,
            allow_missing_ids=True,
            num_negative_samples=4,
        )

    return build(slice(0, -1)), build(slice(-1, None))


def withheld_auc(model, train: Interactions, test: Interactions) -> float:
    """Mean over users of the share of their unseen, not-withheld items ranked below the withheld one."""
    from coursekit.metrics import auc, evaluate_in_batches

    return evaluate_in_batches([auc], test, model.eval(), train_interactions=train, progress=False)[0]


def near_saturated_interactions(num_negative_samples: int = 3, seed: int = 0) -> Interactions:
    """12 items; user 0 has seen all but item 7, user 1 all but items 0 and 11, users 2..5 a few items."""
    present = np.zeros((6, 12), dtype=bool)
    present[0] = True
    present[0, 7] = False
    present[1] = True
    present[1, [0, 11]] = False
    present[2:, :3] = True
    users, items = np.nonzero(present)
    return Interactions(users, items, num_negative_samples=num_negative_samples)


def pairs(users: Any, items: Any) -> Counter:
    """Multiset of (user, item) pairs."""
    return Counter(zip(np.asarray(users).tolist(), np.asarray(items).tolist()))


def epoch_arrays(loader) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[int]]:
    """Iterate one epoch: concatenated users, items, negatives, and the batch sizes."""
    users, items, negatives, sizes = [], [], [], []
    for (u, i), n in loader:
        users.append(u.numpy())
        items.append(i.numpy())
        negatives.append(n.numpy())
        sizes.append(len(u))
    if not sizes:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty, np.empty((0, loader.num_negative_samples), dtype=np.int64), sizes
    return np.concatenate(users), np.concatenate(items), np.concatenate(negatives), sizes


def assert_batches_equal(first: list, second: list) -> None:
    assert len(first) == len(second)
    for ((u1, i1), n1), ((u2, i2), n2) in zip(first, second):
        assert torch.equal(u1, u2) and torch.equal(i1, i2) and torch.equal(n1, n2)


class LoaderContract:
    """Tests every batch loader must pass. Subclasses define :meth:`make_loader`.

    ``make_loader(interactions, **kwargs)`` must build a loader over the same
    interactions, in the same unshuffled order as ``interactions.users/items``,
    accepting ``batch_size``, ``shuffle``, ``drop_last`` and ``seed``.
    """

    def make_loader(self, interactions: Interactions, **kwargs):
        raise NotImplementedError

    @pytest.fixture
    def data(self) -> Interactions:
        return synthetic_interactions()

    def test_batch_structure_dtypes_and_shapes(self, data):
        loader = self.make_loader(data, batch_size=32, seed=0)
        assert loader.batch_size == 32
        assert loader.num_negative_samples == data.num_negative_samples
        assert (loader.interactions.num_users, loader.interactions.num_items) == (data.num_users, data.num_items)
        batches = list(loader)
        for (users, items), negatives in batches:
            assert users.dtype == items.dtype == negatives.dtype == torch.int64
            assert users.ndim == 1 and users.shape == items.shape
            assert negatives.shape == (len(users), data.num_negative_samples)
        assert [len(b[0][0]) for b in batches[:-1]] == [32] * (len(batches) - 1)

    @pytest.mark.parametrize("shuffle", [False, True])
    def test_every_interaction_visited_once_per_epoch(self, data, shuffle):
        loader = self.make_loader(data, batch_size=17, shuffle=shuffle, seed=1)
        expected = pairs(data.users, data.items)
        for _ in range(2):
            users, items, _, _ = epoch_arrays(loader)
            assert len(users) == len(data)
            assert pairs(users, items) == expected

    def test_unshuffled_order_is_data_order(self, data):
        users, items, _, _ = epoch_arrays(self.make_loader(data, batch_size=16, shuffle=False, seed=0))
        np.testing.assert_array_equal(users, data.users)
        np.testing.assert_array_equal(items, data.items)

    @pytest.mark.parametrize("batch_size", [1, 7, 16, 64])
    @pytest.mark.parametrize("drop_last", [False, True])
    def test_len_is_number_of_batches(self, data, batch_size, drop_last):
        loader = self.make_loader(data, batch_size=batch_size, shuffle=True, drop_last=drop_last, seed=0)
        _, _, _, sizes = epoch_arrays(loader)
        rounding = math.floor if drop_last else math.ceil
        assert len(loader) == len(sizes) == rounding(len(data) / batch_size)

    def test_negatives_in_item_range(self, data):
        _, _, negatives, _ = epoch_arrays(self.make_loader(data, batch_size=64, shuffle=True, seed=0))
        assert negatives.min() >= 0 and negatives.max() < data.num_items
        assert len(np.unique(negatives)) > data.num_items // 2  # not stuck on a few values

    def test_same_seed_same_batches_in_fresh_loaders(self, data):
        first = list(self.make_loader(data, batch_size=20, shuffle=True, seed=5))
        second = list(self.make_loader(data, batch_size=20, shuffle=True, seed=5))
        assert_batches_equal(first, second)
        other = list(self.make_loader(data, batch_size=20, shuffle=True, seed=6))
        assert not torch.equal(first[0][1], other[0][1])

    def test_epochs_differ(self, data):
        loader = self.make_loader(data, batch_size=20, shuffle=True, seed=5)
        users0, items0, negatives0, _ = epoch_arrays(loader)
        users1, items1, negatives1, _ = epoch_arrays(loader)
        assert not (np.array_equal(users0, users1) and np.array_equal(items0, items1))
        assert not np.array_equal(negatives0, negatives1)

    def test_unshuffled_epochs_draw_new_negatives(self, data):
        loader = self.make_loader(data, batch_size=20, shuffle=False, seed=5)
        _, _, negatives0, _ = epoch_arrays(loader)
        _, _, negatives1, _ = epoch_arrays(loader)
        assert not np.array_equal(negatives0, negatives1)

    def test_set_epoch_reproduces_epoch(self, data):
        loader = self.make_loader(data, batch_size=20, shuffle=True, seed=3)
        list(loader)
        epoch1 = list(loader)
        assert loader.sampler.epoch == 2
        resumed = self.make_loader(data, batch_size=20, shuffle=True, seed=3)
        resumed.sampler.set_epoch(1)
        assert_batches_equal(epoch1, list(resumed))
        # Lightning sets the epoch before every epoch, also back to an earlier one.
        loader.sampler.set_epoch(1)
        assert_batches_equal(epoch1, list(loader))

    def test_batch_size_larger_than_data(self, data):
        loader = self.make_loader(data, batch_size=len(data) + 10, shuffle=True, seed=0)
        batches = list(loader)
        assert len(loader) == len(batches) == 1
        assert pairs(*batches[0][0]) == pairs(data.users, data.items)
        dropping = self.make_loader(data, batch_size=len(data) + 10, drop_last=True, seed=0)
        assert len(dropping) == 0 and list(dropping) == []

    def test_drop_last_yields_only_full_distinct_batches(self, data):
        batch_size = 13
        assert len(data) % batch_size  # the test needs a partial last batch
        loader = self.make_loader(data, batch_size=batch_size, shuffle=True, drop_last=True, seed=2)
        users, items, _, sizes = epoch_arrays(loader)
        assert set(sizes) == {batch_size}
        assert len(users) == len(data) - len(data) % batch_size
        visited = pairs(users, items)
        assert max(visited.values()) == 1 and not visited - pairs(data.users, data.items)

    @pytest.mark.parametrize("world", [2, 3])
    def test_distributed_ranks_partition_the_epoch(self, data, world, monkeypatch):
        """Under torch.distributed each rank gets an equal share; together they cover everything."""
        import torch.distributed as dist

        monkeypatch.setattr(dist, "is_available", lambda: True)
        monkeypatch.setattr(dist, "is_initialized", lambda: True)
        monkeypatch.setattr(dist, "get_world_size", lambda *a, **k: world)
        per_rank, lengths, visited = [], [], Counter()
        for rank in range(world):
            monkeypatch.setattr(dist, "get_rank", lambda *a, rank=rank, **k: rank)
            loader = self.make_loader(data, batch_size=16, shuffle=True, seed=4)
            users, items, _, sizes = epoch_arrays(loader)
            per_rank.append(len(users))
            lengths.append((len(loader), len(sizes)))
            visited += pairs(users, items)
        share = math.ceil(len(data) / world)
        assert per_rank == [share] * world
        assert lengths == [(math.ceil(share / 16),) * 2] * world
        assert set(visited) == set(pairs(data.users, data.items))
        assert sum(visited.values()) == share * world  # padding repeats at most world - 1 interactions

    # Lightning 2.6 with torch 2.13 warns about its own use of a deprecated torch pytree API.
    @pytest.mark.filterwarnings("ignore:.*LeafSpec.*is deprecated")
    def test_lightning_sets_the_epoch_and_can_validate(self, data):
        """Lightning trains and validates on the loader, telling it each epoch via ``sampler.set_epoch``."""
        import pytorch_lightning as pl

        class Recorder(pl.LightningModule):
            def __init__(self):
                super().__init__()
                self.weight = torch.nn.Parameter(torch.zeros(1))
                self.train_users: list[np.ndarray] = []
                self.validated = 0

            def training_step(self, batch, batch_index):
                (users, _), _ = batch
                self.train_users.append((self.current_epoch, users.numpy().copy()))
                return (self.weight**2).sum()

            def validation_step(self, batch, batch_index):
                self.validated += len(batch[0][0])

            def configure_optimizers(self):
                return torch.optim.SGD(self.parameters(), lr=0.1)

        train = self.make_loader(data, batch_size=32, shuffle=True, seed=9)
        module = Recorder()
        trainer = pl.Trainer(
            max_epochs=2,
            accelerator="cpu",
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            num_sanity_val_steps=0,
        )
        trainer.fit(module, train, self.make_loader(data, batch_size=64, seed=0))
        assert module.validated == 2 * len(data)
        reference = self.make_loader(data, batch_size=32, shuffle=True, seed=9)
        for epoch in (0, 1):
            reference.sampler.set_epoch(epoch)
            seen = np.concatenate([users for e, users in module.train_users if e == epoch])
            np.testing.assert_array_equal(seen, epoch_arrays(reference)[0])


class ExactNegativesContract(LoaderContract):
    """A loader with exact negatives: additionally, no negative is ever one of the user's positives."""

    def test_negatives_never_positive(self, data):
        users, _, negatives, _ = epoch_arrays(self.make_loader(data, batch_size=32, shuffle=True, seed=0))
        dense = data.mat.toarray() != 0
        assert not dense[users[:, None], negatives].any()

    def test_negatives_never_positive_for_near_saturated_users(self):
        data = near_saturated_interactions(num_negative_samples=3)
        loader = self.make_loader(data, batch_size=8, shuffle=True, seed=0)
        for _ in range(3):
            users, _, negatives, _ = epoch_arrays(loader)
            assert (negatives[users == 0] == 7).all()
            assert set(np.unique(negatives[users == 1])) == {0, 11}
            assert not (data.mat.toarray() != 0)[users[:, None], negatives].any()


class ModelContract:
    """Tests every model must pass. Subclasses define :meth:`make_model`.

    ``make_model(interactions, tmp_path)`` returns a model built for ``interactions``
    (``synthetic_interactions()``: 50 users x 40 items) that knows the training items,
    so ``recommend`` can leave them out. ``tmp_path`` is a scratch folder (for a model
    that goes through ``save_model`` / ``load_model`` first).
    """

    def make_model(self, interactions: Interactions, tmp_path: Path):
        raise NotImplementedError

    def fit_model(self, train: Interactions, tmp_path: Path):
        """A model trained on ``train`` (for the behaviour test); the default trains nothing."""
        return self.make_model(train, tmp_path)

    #: The split the behaviour test learns from: :func:`clustered_split` (tastes), or for a model
    #: that can only learn popularity, :func:`popular_split`.
    behaviour_split = staticmethod(clustered_split)

    @pytest.fixture
    def data(self) -> Interactions:
        return synthetic_interactions()

    @pytest.fixture
    def model(self, data, tmp_path):
        return self.make_model(data, tmp_path)

    def test_ranks_a_users_withheld_item_above_the_rest(self, tmp_path):
        """Behaviour, not only shapes: trained on planted structure, the model finds the withheld items."""
        train, test = self.behaviour_split()
        model = self.fit_model(train, tmp_path)
        # AUC with train masked: 0.5 is chance, about 0.95 the best a model of the planted structure gets.
        assert withheld_auc(model, train, test) > 0.9

    def test_sizes(self, model, data):
        assert (model.num_users, model.num_items) == (data.num_users, data.num_items)

    def test_score_all_items_shape_dtype_no_grad(self, model, data):
        users = torch.tensor([0, 7, 7, data.num_users - 1])
        scores = model.score_all_items(users)
        assert scores.shape == (4, data.num_items) and scores.dtype == torch.float32
        assert not scores.requires_grad and torch.isfinite(scores).all()
        # A user's scores do not depend on the batch, up to float rounding: BLAS may pick another
        # kernel (another summation order) for one row than for several, so a one-user batch can
        # differ in the last bits (6e-8 seen with MKL). float32 dot products of length D: a few ulps.
        torch.testing.assert_close(scores[1], scores[2], rtol=SCORE_RTOL, atol=SCORE_ATOL)
        torch.testing.assert_close(
            model.score_all_items(torch.tensor([7]))[0], scores[1], rtol=SCORE_RTOL, atol=SCORE_ATOL
        )
        assert model.score_all_items(torch.tensor([], dtype=torch.int64)).shape == (0, data.num_items)

    def test_forward_agrees_with_score_all_items(self, model, data):
        model.eval()
        rng = np.random.default_rng(0)
        users = torch.from_numpy(rng.integers(0, data.num_users, 30))
        items = torch.from_numpy(rng.integers(0, data.num_items, 30))
        with torch.no_grad():
            paired = model(users, items)
            grid = model(users[:3, None], torch.arange(data.num_items)[None, :])  # broadcast [3, 1] x [1, I]
        assert paired.shape == (30,) and grid.shape == (3, data.num_items)
        all_scores = model.score_all_items(users)
        torch.testing.assert_close(paired, all_scores[torch.arange(30), items])
        torch.testing.assert_close(grid, all_scores[:3])

    @pytest.mark.parametrize("bad", [-1, 10**6])
    def test_out_of_range_ids_raise(self, model, data, bad):
        with pytest.raises(ValueError, match=f"user_ids contains {bad}"):
            model.score_all_items(torch.tensor([0, bad]))
        with pytest.raises(ValueError, match=f"items contains {bad}"):
            model(torch.tensor([0]), torch.tensor([bad]))
        with pytest.raises(ValueError, match=f"user_id {bad} is outside"):
            model.recommend(bad, unseen_items_only=True)
        with pytest.raises(TypeError, match="user_ids must hold integer ids"):
            model.score_all_items(torch.tensor([1.5]))

    def test_get_item_predictions(self, model, data):
        user = 3
        predictions = model.get_item_predictions(user)
        assert isinstance(predictions, pd.Series) and len(predictions) == data.num_items
        assert sorted(predictions.index) == list(range(data.num_items))
        assert predictions.is_monotonic_decreasing
        expected = model.score_all_items(torch.tensor([user]))[0].numpy()
        np.testing.assert_array_equal(predictions.to_numpy(), expected[predictions.index.to_numpy()])
        seen = set(data.mat[user].indices.tolist())
        unseen = model.get_item_predictions(user, unseen_items_only=True)
        assert set(unseen.index) == set(range(data.num_items)) - seen and unseen.is_monotonic_decreasing

    @pytest.mark.parametrize("k", [1, 5, 1000])
    def test_recommend(self, model, data, k):
        for user in (0, 11):
            seen = set(data.mat[user].indices.tolist())
            top = model.recommend(user, k=k, unseen_items_only=True)
            assert list(top.columns) == ["item_id", "score"]
            assert len(top) == min(k, data.num_items - len(seen))
            assert not seen & set(top.item_id) and top.item_id.is_unique and top.score.is_monotonic_decreasing
            unseen = model.get_item_predictions(user, unseen_items_only=True)
            assert list(top.item_id) == list(unseen.index[: len(top)])
            assert len(model.recommend(user, k=k, unseen_items_only=False)) == min(k, data.num_items)

    def test_save_load_round_trip(self, model, data, tmp_path):
        from coursekit.model import load_model

        path = model.save_model(tmp_path / "contract.pt")
        loaded = load_model(path)
        assert type(loaded) is type(model) and not loaded.training
        assert (loaded.num_users, loaded.num_items) == (model.num_users, model.num_items)
        users = torch.arange(data.num_users)
        torch.testing.assert_close(loaded.score_all_items(users), model.score_all_items(users), rtol=0, atol=0)
        pd.testing.assert_frame_equal(
            loaded.recommend(5, k=7, unseen_items_only=True), model.recommend(5, k=7, unseen_items_only=True)
        )
        # Saving the loaded model again gives a file that loads to the same scores.
        again = load_model(loaded.save_model(tmp_path / "again.pt"))
        torch.testing.assert_close(again.score_all_items(users), model.score_all_items(users), rtol=0, atol=0)
