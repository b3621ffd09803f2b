"""Properties that hold for every input: the model contract for every model, and hypothesis tests.

Already covered elsewhere (not repeated here): exact negatives of ``sample_exact`` never positive
(tests/test_sampling.py), splits partition the data (tests/test_cross_validation.py), metrics in
[0, 1] and equal to a brute-force reference (tests/test_metrics.py). Here: the same guarantees one
level up, where users meet them -- the exact *loader* on random and near-saturated matrices,
stratified splits keeping every user in train, and similarities.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coursekit.cross_validation import stratified_split, temporal_split
from coursekit.explicit import ExplicitInteractions
from coursekit.interactions import Interactions, InteractionsDataLoader
from coursekit.model import (
    ColdStartModel,
    CourseTrainer,
    ExplicitMatrixFactorizationModel,
    ItemKNNModel,
    MatrixFactorizationModel,
    PopularityModel,
    RandomModel,
    load_model,
)
from coursekit.model.hybrid import HybridModel
from tests.contracts import (
    ModelContract,
    clustered_split,
    epoch_arrays,
    pairs,
    popular_split,
    synthetic_interactions,
    withheld_auc,
)

# -- the model contract, once per model ----------------------------------------------------------


def _spread_biases(model: MatrixFactorizationModel) -> MatrixFactorizationModel:
    # An untrained model scores every item ~0; distinct scores make ranking checks meaningful.
    with torch.no_grad():
        model.item_biases.weight.copy_(torch.linspace(-1, 1, model.num_items)[:, None])
    return model


def _fit(model: MatrixFactorizationModel, epochs: int = 20) -> MatrixFactorizationModel:
    CourseTrainer(max_epochs=epochs, enable_progress_bar=False).fit(model)
    return model.eval()


# Settings that learn the 60 x 40 behaviour split in a few seconds.
QUICK = dict(embedding_dim=4, lr=5e-2, batch_size=64, lr_scheduler_func=None)


class TestMatrixFactorizationContract(ModelContract):
    def make_model(self, interactions, tmp_path):
        return _spread_biases(MatrixFactorizationModel(interactions, embedding_dim=4, seed=0))

    def fit_model(self, train, tmp_path):
        return _fit(MatrixFactorizationModel(train, seed=0, **QUICK))


class TestSparseMatrixFactorizationContract(ModelContract):
    def make_model(self, interactions, tmp_path):
        model = MatrixFactorizationModel(interactions, embedding_dim=4, sparse=True, optimizer="sparse_adam", seed=1)
        return _spread_biases(model)

    def fit_model(self, train, tmp_path):
        return _fit(MatrixFactorizationModel(train, sparse=True, optimizer="sparse_adam", seed=1, **QUICK))


def _genres(num_items: int) -> dict[str, np.ndarray]:
    """Three made-up 0/1 genres per item, some items in two (partial credit's metadata_for_loss)."""
    items = np.arange(num_items)
    return {"genre": np.stack([items % 3 == 0, items % 3 == 1, items % 4 == 0], axis=1).astype(np.float32)}


class TestPartialCreditMatrixFactorizationContract(ModelContract):
    """Matrix factorization trained with partial credit for shared (made-up) genres."""

    def make_model(self, interactions, tmp_path):
        genres = _genres(interactions.num_items)
        model = MatrixFactorizationModel(
            interactions, embedding_dim=4, seed=2, metadata_for_loss=genres, metadata_for_loss_weights={"genre": 0.5}
        )
        return _spread_biases(model)

    def fit_model(self, train, tmp_path):
        genres = _genres(train.num_items)
        model = MatrixFactorizationModel(
            train, seed=2, metadata_for_loss=genres, metadata_for_loss_weights={"genre": 0.5}, **QUICK
        )
        return _fit(model)


class TestPopularityContract(ModelContract):
    """The baseline: it passes the behaviour test on data where popularity is the signal."""

    behaviour_split = staticmethod(popular_split)

    def make_model(self, interactions, tmp_path):
        return PopularityModel(interactions)

    def test_is_the_baseline_that_fails_on_tastes(self, tmp_path):
        # On the checkerboard every item is about equally popular: popularity ranks near chance,
        # which is what the behaviour test would catch in a model that only learned popularity.
        train, test = clustered_split()
        assert withheld_auc(PopularityModel(train), train, test) < 0.7


class TestItemKNNContract(ModelContract):
    """Item-kNN learns the planted tastes from co-occurrences alone (nothing to train)."""

    def make_model(self, interactions, tmp_path):
        return ItemKNNModel(interactions, neighbours=10)


class TestLoadedItemKNNContract(ModelContract):
    """An ItemKNNModel after save_model / load_model (its similarities and histories are buffers)."""

    def make_model(self, interactions, tmp_path):
        return load_model(ItemKNNModel(interactions, neighbours=10, shrinkage=1.0).save_model(tmp_path / "knn.pt"))


class TestImplicitALSContract(ModelContract):
    def make_model(self, interactions, tmp_path):
        pytest.importorskip("implicit")
        from coursekit.model import ImplicitALSModel

        return ImplicitALSModel(interactions, factors=8, iterations=5, seed=0)


class TestImplicitBPRContract(ModelContract):
    def make_model(self, interactions, tmp_path):
        pytest.importorskip("implicit")
        from coursekit.model import ImplicitBPRModel

        return ImplicitBPRModel(interactions, factors=8, iterations=20, seed=0)

    def fit_model(self, train, tmp_path):
        pytest.importorskip("implicit")
        from coursekit.model import ImplicitBPRModel

        return ImplicitBPRModel(train, factors=8, learning_rate=0.05, iterations=200, seed=0)


class TestLoadedMatrixFactorizationContract(ModelContract):
    """A MatrixFactorizationModel after save_model / load_model."""

    def make_model(self, interactions, tmp_path):
        model = _spread_biases(MatrixFactorizationModel(interactions, embedding_dim=3, seed=2))
        return load_model(model.save_model(tmp_path / "saved.pt"))

    def fit_model(self, train, tmp_path):
        model = _fit(MatrixFactorizationModel(train, seed=2, **QUICK))
        return load_model(model.save_model(tmp_path / "trained.pt"))


class TestExplicitMatrixFactorizationContract(ModelContract):
    """The MSE model on ratings: built on stars over the same pairs, it ranks like any model."""

    def make_model(self, interactions, tmp_path):
        stars = np.random.default_rng(0).integers(1, 6, len(interactions)).astype(np.float32)
        ratings = ExplicitInteractions(
            interactions.users,
            interactions.items,
            stars,
            rating_range=(1, 5),
            num_users=interactions.num_users,
            num_items=interactions.num_items,
            allow_missing_ids=True,
        )
        return _spread_biases(ExplicitMatrixFactorizationModel(ratings, embedding_dim=4, y_range=(1, 5), seed=3))

    def fit_model(self, train, tmp_path):
        # Ratings of the planted tastes (clustered_split: user u likes cluster u % 4, 10 items each):
        # 5 stars for each pick, 1 star for 6 items of the other clusters. Only ratings teach this model.
        rng = np.random.default_rng(0)
        users = np.arange(train.num_users)
        others = rng.permuted(np.tile(np.arange(30), (len(users), 1)), axis=1)[:, :6]
        disliked = ((users[:, None] % 4 + 1 + others // 10) % 4) * 10 + others % 10
        ratings = ExplicitInteractions(
            np.concatenate([train.users, np.repeat(users, 6)]),
            np.concatenate([train.items, disliked.ravel()]),
            np.concatenate([np.full(len(train), 5.0), np.ones(disliked.size)]),
            rating_range=(1, 5),
            num_users=train.num_users,
            num_items=train.num_items,
            allow_missing_ids=True,
        )
        return _fit(ExplicitMatrixFactorizationModel(ratings, seed=3, y_range=(1, 5), **QUICK))


def _hybrid_on(model: MatrixFactorizationModel, **kwargs) -> HybridModel:
    # Random metadata: the behaviour test passes only if the MLP keeps the embeddings' taste signal.
    rng = np.random.default_rng(0)
    item_metadata = rng.random((model.num_items, 3)).astype(np.float32)
    user_metadata = rng.random((model.num_users, 2)).astype(np.float32)
    return HybridModel(pretrained=model, item_metadata=item_metadata, user_metadata=user_metadata, seed=0, **kwargs)


class TestHybridContract(ModelContract):
    """A HybridModel on a matrix factorization, straight after building and after save_model / load_model."""

    def make_model(self, interactions, tmp_path):
        mf = _spread_biases(MatrixFactorizationModel(interactions, embedding_dim=4, seed=0))
        model = _hybrid_on(mf, train=interactions)
        return load_model(model.save_model(tmp_path / "hybrid.pt"))

    def fit_model(self, train, tmp_path):
        mf = _fit(MatrixFactorizationModel(train, seed=0, **QUICK))
        return _fit(_hybrid_on(mf, train=train, lr=1e-2, batch_size=64, lr_scheduler_func=None), epochs=5)


def _cluster_metadata(num_items: int, clusters: int = 4) -> np.ndarray:
    # clustered_split's items: item i is in cluster i // (num_items // clusters); every row has a flag.
    return np.eye(clusters, dtype=np.float32)[np.minimum(np.arange(num_items) // (num_items // clusters), clusters - 1)]


class TestColdStartContract(ModelContract):
    """ColdStartModel with item metadata (every unknown item has a non-zero row)."""

    def make_model(self, interactions, tmp_path):
        model = ColdStartModel(interactions, item_metadata=_cluster_metadata(interactions.num_items), seed=3)
        with torch.no_grad():  # untrained scores are ~0: spread them so rankings are meaningful
            model.factorization.item_projection.normal_(0, 1, generator=torch.Generator().manual_seed(0))
            model.factorization.user_embeddings.weight.normal_(0, 1, generator=torch.Generator().manual_seed(1))
        return model

    def fit_model(self, train, tmp_path):
        model = ColdStartModel(train, item_metadata=_cluster_metadata(train.num_items), stage="all", seed=3, **QUICK)
        return _fit(model)


class TestLoadedColdStartUserContract(ModelContract):
    """ColdStartModel with user metadata, after save_model / load_model."""

    def make_model(self, interactions, tmp_path):
        users = np.eye(3, dtype=np.float32)[np.arange(interactions.num_users) % 3]
        model = ColdStartModel(interactions, user_metadata=users, stage="all", seed=4)
        with torch.no_grad():
            model.factorization.user_projection.normal_(0, 1, generator=torch.Generator().manual_seed(0))
            model.item_embeddings.weight.normal_(0, 1, generator=torch.Generator().manual_seed(1))
        return load_model(model.save_model(tmp_path / "cold_users.pt"))

    def fit_model(self, train, tmp_path):
        users = np.eye(4, dtype=np.float32)[np.arange(train.num_users) % 4]  # clustered_split's tastes
        model = _fit(ColdStartModel(train, user_metadata=users, stage="all", seed=4, **QUICK))
        return load_model(model.save_model(tmp_path / "trained_cold_users.pt"))


class TestRandomContract(ModelContract):
    """The floor: random scores pass every contract test but the behaviour one, where it ranks at chance."""

    def make_model(self, interactions, tmp_path):
        return RandomModel(interactions, seed=0)

    def test_ranks_a_users_withheld_item_above_the_rest(self, tmp_path):
        train, test = clustered_split()
        assert abs(withheld_auc(RandomModel(train, seed=0), train, test) - 0.5) < 0.15


# -- exact loader: a negative is never a positive ------------------------------------------------


@st.composite
def matrices(draw, max_users: int = 10, max_items: int = 12):
    """A random boolean user x item matrix where every user has >= 1 positive and >= 1 unseen item.

    ``saturation`` pushes some users to all items but one: the hardest case for exact sampling.
    """
    num_users = draw(st.integers(1, max_users))
    num_items = draw(st.integers(2, max_items))
    seed = draw(st.integers(0, 2**32 - 1))
    density = draw(st.floats(0.0, 1.0))
    saturation = draw(st.floats(0.0, 1.0))
    rng = np.random.default_rng(seed)
    present = rng.random((num_users, num_items)) < density
    rows = np.arange(num_users)
    present[rows, rng.integers(0, num_items, num_users)] = True
    saturated = rng.random(num_users) < saturation
    present[saturated] = True
    present[rows, (present.argmax(1) + rng.integers(1, num_items, num_users)) % num_items] = False
    return present, seed


@settings(max_examples=60, deadline=None)
@given(data=matrices(), num_negatives=st.integers(1, 5), batch_size=st.integers(1, 40), shuffle=st.booleans())
def test_property_exact_loader_never_yields_a_positive(data, num_negatives, batch_size, shuffle):
    present, seed = data
    num_items = present.shape[1]
    num_negatives = min(num_negatives, num_items - 1)
    users, items = np.nonzero(present)
    x = Interactions(
        users,
        items,
        num_users=present.shape[0],
        num_items=num_items,
        allow_missing_ids=True,
        num_negative_samples=num_negatives,
    )
    loader = InteractionsDataLoader(x, batch_size=batch_size, shuffle=shuffle, seed=seed)
    for _ in range(2):  # two epochs: the second draws new negatives
        epoch_users, epoch_items, negatives, _ = epoch_arrays(loader)
        assert pairs(epoch_users, epoch_items) == pairs(users, items)
        assert negatives.shape == (len(users), num_negatives)
        assert not present[epoch_users[:, None], negatives].any()
        # A user with a single unseen item gets exactly that item every time.
        only = (~present).sum(1) == 1
        for user in np.flatnonzero(only):
            assert (negatives[epoch_users == user] == np.flatnonzero(~present[user])[0]).all()


# -- stratified / temporal splits keep every user in train ---------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    data=matrices(max_users=12, max_items=15),
    val_p=st.sampled_from([0.0, 0.1, 0.2]),
    test_p=st.sampled_from([0.1, 0.2, 0.4]),
    temporal=st.booleans(),
)
def test_property_stratified_splits_keep_every_user_in_train(data, val_p, test_p, temporal):
    present, seed = data
    users, items = np.nonzero(present)
    x = Interactions(
        users,
        items,
        num_users=present.shape[0],
        num_items=present.shape[1],
        allow_missing_ids=True,
        num_negative_samples=1,
        timestamps=np.random.default_rng(seed).integers(0, 50, len(users)),
    )
    split = temporal_split if temporal else stratified_split
    counts = np.bincount(x.users, minlength=x.num_users)
    # Users who cannot give ceil(p * n_u) to each held-out part and keep one for train stay in train.
    too_few = counts <= np.ceil(test_p * counts - 1e-9) + np.ceil(val_p * counts - 1e-9)
    if too_few.all():  # then every held-out part would be empty: an error, never empty Interactions
        with pytest.raises(ValueError, match="part empty"):
            split(x, val_p=val_p, test_p=test_p, seed=seed, force_split=True)
        return
    parts = split(x, val_p=val_p, test_p=test_p, seed=seed, force_split=True)
    train, held_out = parts[0], parts[1:]
    assert sum((pairs(p.users, p.items) for p in parts), start=pairs([], [])) == pairs(x.users, x.items)
    assert set(train.users.tolist()) == set(x.users.tolist())  # nobody loses all training data
    for part, p in zip(held_out[::-1], [test_p, val_p][: len(held_out)]):
        got = np.bincount(part.users, minlength=x.num_users)
        wanted = np.ceil(p * counts - 1e-9).astype(int)
        np.testing.assert_array_equal(got[~too_few], wanted[~too_few])
        assert (got[too_few] == 0).all()


# -- similarities ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def similarity_model() -> MatrixFactorizationModel:
    model = MatrixFactorizationModel(synthetic_interactions(), embedding_dim=5, seed=4)
    with torch.no_grad():  # a few identical and all-zero rows: ties and undefined directions
        model.item_embeddings.weight[[3, 9]] = model.item_embeddings.weight[5].clone()
        model.item_embeddings.weight[[0, 1]] = 0.0
        model.user_embeddings.weight[7] = 0.0
    return model


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(query=st.integers(0, 49), kind=st.sampled_from(["item", "user"]))
def test_property_similarity_to_itself_is_one_and_sorted(similarity_model, query, kind):
    model = similarity_model
    if kind == "item":
        query %= model.num_items
        result, size = model.item_item_similarity(query), model.num_items
    else:
        result, size = model.user_user_similarity(query), model.num_users
    assert result.index[0] == query and result.iloc[0] == 1.0
    assert sorted(result.index) == list(range(size))
    assert result.is_monotonic_decreasing and result.between(-1.0, 1.0).all()
    assert np.isfinite(result.to_numpy()).all()
    if kind == "item" and query in (3, 5, 9):  # identical embeddings: equally similar, all at 1
        assert set(result.index[:3]) == {3, 5, 9} and np.allclose(result.iloc[:3], 1.0)
