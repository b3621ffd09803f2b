"""Models: scoring, learning planted structure, optimizers, prediction API, persistence."""

from __future__ import annotations

import os

import joblib
import numpy as np
import pandas as pd
import pytest
import torch

from coursekit.interactions import ApproximateNegativeSamplingInteractionsDataLoader, Interactions
from coursekit.model import (
    CourseTrainer,
    MatrixFactorizationModel,
    PopularityModel,
    load_model,
    with_titles,
)

NUM_USERS, NUM_ITEMS, PER_USER, HELD_OUT = 120, 60, 8, 2


def clustered_split(seed: int = 0) -> tuple[Interactions, Interactions]:
    """Two tastes: even users pick items 0..29, odd users items 30..59; the last picks are held out."""
    rng = np.random.default_rng(seed)
    half, picks = NUM_ITEMS // 2, PER_USER + HELD_OUT
    chosen = np.stack([rng.choice(np.arange(half) + half * (u % 2), picks, replace=False) for u in range(NUM_USERS)])
    users = np.arange(NUM_USERS)[:, None]

    def build(columns: slice) -> Interactions:
        part = chosen[:, columns]
        return Interactions(
            users=np.broadcast_to(users, part.shape).ravel(),
            items=part.ravel(),
            num_users=NUM_USERS,
            num_items=NUM_ITEMS,
            allow_missing_ids=True,
            num_negative_samples=5,
        )

    return build(slice(0, PER_USER)), build(slice(PER_USER, picks))


def clustered(seed: int = 0) -> Interactions:
    return clustered_split(seed)[0]


def fitted(epochs: int = 15, **kwargs) -> tuple[MatrixFactorizationModel, CourseTrainer]:
    settings = dict(embedding_dim=4, lr=5e-2, bias_lr=1e-2, batch_size=128, seed=3, lr_scheduler_func=None)
    train, val = clustered_split()
    model = MatrixFactorizationModel(train=train, val=val, **{**settings, **kwargs})
    trainer = CourseTrainer(model, max_epochs=epochs, enable_progress_bar=False)
    trainer.fit(model)
    return model.eval(), trainer


@pytest.fixture(scope="module")
def trained() -> tuple[MatrixFactorizationModel, CourseTrainer]:
    return fitted()


def same_cluster(a: np.ndarray | int, b: np.ndarray | int) -> np.ndarray:
    return (np.asarray(a) < NUM_ITEMS // 2) == (np.asarray(b) < NUM_ITEMS // 2)


# -- scoring ---------------------------------------------------------------------------------------


def test_score_is_dot_product_plus_both_biases():
    model = MatrixFactorizationModel(train=clustered(), embedding_dim=3, seed=0)
    with torch.no_grad():
        model.user_biases.weight.normal_()
        model.item_biases.weight.normal_()
    users, items = torch.tensor([0, 5, 7]), torch.tensor([3, 3, 59])
    expected = (
        (model.user_embeddings.weight[users] * model.item_embeddings.weight[items]).sum(1)
        + model.user_biases.weight[users, 0]
        + model.item_biases.weight[items, 0]
    )
    torch.testing.assert_close(model(users, items), expected)
    all_scores = model.score_all_items(users)
    assert all_scores.shape == (3, NUM_ITEMS) and not all_scores.requires_grad
    torch.testing.assert_close(all_scores[torch.arange(3), items], expected.detach())
    # Broadcasting: one user against a [1, M] row of items.
    torch.testing.assert_close(model(torch.tensor([[5]]), torch.arange(NUM_ITEMS)[None])[0], all_scores[1])


def test_initialisation_is_seeded_small_and_leaves_global_rng_alone():
    state = torch.get_rng_state()
    a = MatrixFactorizationModel(train=clustered(), seed=7)
    assert torch.equal(torch.get_rng_state(), state)  # an explicit seed never touches the global RNG
    b = MatrixFactorizationModel(train=clustered(), seed=7)
    c = MatrixFactorizationModel(train=clustered(), seed=8)
    assert torch.equal(a.item_embeddings.weight, b.item_embeddings.weight)
    assert not torch.equal(a.item_embeddings.weight, c.item_embeddings.weight)
    assert a.item_embeddings.weight.std().item() == pytest.approx(0.01, rel=0.2)
    assert torch.count_nonzero(a.user_biases.weight) == 0 and torch.count_nonzero(a.item_biases.weight) == 0
    assert a.hparams.seed == 7
    torch.manual_seed(1)
    drawn = MatrixFactorizationModel(train=clustered()).hparams.seed
    torch.manual_seed(1)
    assert MatrixFactorizationModel(train=clustered()).hparams.seed == drawn  # seed_everything governs seed=None


def test_dropout_only_while_training():
    model = MatrixFactorizationModel(train=clustered(), dropout_p=0.5, seed=0)
    users, items = torch.arange(10), torch.arange(10)
    model.train()
    assert not torch.equal(model(users, items), model(users, items))
    model.eval()
    torch.testing.assert_close(model(users, items), model(users, items))
    model.train()  # score_all_items ignores dropout whatever the mode
    torch.testing.assert_close(model.score_all_items(users), model.score_all_items(users))


# -- learning --------------------------------------------------------------------------------------


def test_learns_the_planted_clusters(trained):
    model, trainer = trained
    history = trainer.history
    assert len(history) == 15
    assert history.train_loss.iloc[-1] < history.train_loss.iloc[0] - 0.2
    # val_loss is only recorded: its exact negatives exclude val positives alone, so the user's
    # same-taste training items count as negatives, and it may rise as the model learns.
    assert history.val_loss.notna().all()
    scores = model.score_all_items(torch.arange(NUM_USERS)).numpy()
    half = NUM_ITEMS // 2
    own = np.where(
        np.arange(NUM_USERS)[:, None] % 2 == 0,
        scores[:, :half].mean(1, keepdims=True),
        scores[:, half:].mean(1, keepdims=True),
    )[:, 0]
    other = np.where(np.arange(NUM_USERS) % 2 == 0, scores[:, half:].mean(1), scores[:, :half].mean(1))
    assert (own > other).mean() > 0.95
    in_taste = [
        same_cluster(model.recommend(u, k=5, unseen_items_only=True).item_id.to_numpy(), (u % 2) * 30).all()
        for u in range(NUM_USERS)
    ]
    assert np.mean(in_taste) > 0.8
    for item in (0, 45):
        nearest = model.item_item_similarity(item).index[:10]
        assert same_cluster(nearest, item).all()
    nearest_users = model.user_user_similarity(2).index[:10].to_numpy()
    assert (nearest_users % 2 == 0).all()


def test_accepts_loaders_and_bpr_loss():
    loader = ApproximateNegativeSamplingInteractionsDataLoader(clustered(), batch_size=128, shuffle=True, seed=0)
    model = MatrixFactorizationModel(train=loader, embedding_dim=4, lr=5e-2, loss="bpr", seed=0)
    assert model.train_dataloader() is loader
    assert model.loss_function.__name__ == "adaptive_bpr"  # several negatives: the adaptive form
    trainer = CourseTrainer(model, max_epochs=8, enable_progress_bar=False)
    trainer.fit(model)
    assert trainer.history.train_loss.iloc[-1] < trainer.history.train_loss.iloc[0]


def test_trains_from_an_hdf5_loader(tmp_path):
    from coursekit.hdf5 import HDF5Interactions, HDF5InteractionsDataLoader, write_hdf5

    train = clustered()
    path = write_hdf5(pd.DataFrame({"user_id": train.users, "item_id": train.items}), tmp_path / "x.h5")
    hdf5 = HDF5Interactions(path, num_negative_samples=5, num_users=NUM_USERS, num_items=NUM_ITEMS, seed=0)
    loader = HDF5InteractionsDataLoader(hdf5, batch_size=128, shuffle=True, seed=0)
    model = MatrixFactorizationModel(train=loader, embedding_dim=4, lr=5e-2, seed=0)
    trainer = CourseTrainer(model, max_epochs=5, enable_progress_bar=False)
    trainer.fit(model)
    assert trainer.history.train_loss.iloc[-1] < trainer.history.train_loss.iloc[0]
    assert len(model.recommend(0, unseen_items_only=False)) == 10
    with pytest.raises(ValueError, match="does not know which items users have seen"):
        model.recommend(0, unseen_items_only=True)
    with pytest.raises(TypeError, match="in-memory"):
        PopularityModel(loader)


def test_interactions_are_wrapped_in_exact_loaders():
    from coursekit.interactions import InteractionsDataLoader

    model = MatrixFactorizationModel(*clustered_split(), batch_size=64)
    train, val = model.train_dataloader(), model.val_dataloader()
    assert isinstance(train, InteractionsDataLoader) and isinstance(val, InteractionsDataLoader)
    assert train.shuffle and not val.shuffle and train.batch_size == 64


@pytest.mark.parametrize("fast", [True, False])
def test_one_forward_and_one_backward_per_batch(fast):
    model = MatrixFactorizationModel(train=clustered(), embedding_dim=4, batch_size=100, seed=0)
    calls = {"scores": 0, "backward": 0, "hardest search": 0}
    pair_scores, backward = model._pair_scores, model.backward

    def counting_scores(*args):
        # The adaptive loss first scores the negatives without a graph to find the hardest one.
        calls["scores" if torch.is_grad_enabled() else "hardest search"] += 1
        return pair_scores(*args)

    def counting_backward(*args, **kwargs):  # both loops backpropagate through the module's backward hook
        calls["backward"] += 1
        return backward(*args, **kwargs)

    model._pair_scores, model.backward = counting_scores, counting_backward
    trainer = CourseTrainer(model, max_epochs=2, enable_progress_bar=False, fast=fast)
    trainer.fit(model)
    assert trainer.used_fast_loop is fast
    batches = 2 * len(model.train_dataloader())
    assert calls == {"scores": batches, "backward": batches, "hardest search": batches}


# -- optimizers ------------------------------------------------------------------------------------


def parameter_ids(optimizer: torch.optim.Optimizer) -> list[int]:
    return [id(p) for group in optimizer.param_groups for p in group["params"]]


def test_biases_get_their_own_optimizer_exactly_once():
    model = MatrixFactorizationModel(
        train=clustered(), lr=0.01, bias_lr=0.5, weight_decay=1e-4, optimizer="adagrad", bias_optimizer="sgd"
    )
    (embedding_opt, bias_opt), schedulers = model.configure_optimizers()
    assert isinstance(embedding_opt, torch.optim.Adagrad) and isinstance(bias_opt, torch.optim.SGD)
    bias_ids = sorted(id(p) for n, p in model.named_parameters() if "bias" in n)
    other_ids = sorted(id(p) for n, p in model.named_parameters() if "bias" not in n)
    assert len(bias_ids) == 2 and len(other_ids) == 2
    assert sorted(parameter_ids(bias_opt)) == bias_ids
    assert sorted(parameter_ids(embedding_opt)) == other_ids
    assert embedding_opt.param_groups[0]["lr"] == 0.01 and bias_opt.param_groups[0]["lr"] == 0.5
    assert embedding_opt.param_groups[0]["weight_decay"] == 1e-4 and bias_opt.param_groups[0]["weight_decay"] == 0
    assert len(schedulers) == 2 and all(isinstance(s, torch.optim.lr_scheduler.ReduceLROnPlateau) for s in schedulers)


def test_single_optimizer_when_bias_optimizer_is_none():
    model = MatrixFactorizationModel(
        train=clustered(), bias_optimizer=None, optimizer=torch.optim.RMSprop, lr_scheduler_func=None
    )
    optimizers = model.configure_optimizers()
    assert len(optimizers) == 1 and isinstance(optimizers[0], torch.optim.RMSprop)
    assert sorted(parameter_ids(optimizers[0])) == sorted(id(p) for p in model.parameters())
    assert model.optimizer_names == ["lr"]


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(optimizer="sparse_adam"), ValueError, "sparse=True"),
        (dict(optimizer="adam", sparse=True), ValueError, "sparse"),
        (dict(optimizer="sparse_adam", sparse=True, weight_decay=0.1), ValueError, "weight_decay"),
        (dict(optimizer="nadam!"), ValueError, "'nadam!'"),
        (dict(bias_optimizer=3), TypeError, "bias_optimizer"),
        (dict(embedding_dim=0), ValueError, "embedding_dim"),
        (dict(lr=-1.0), ValueError, "lr"),
        (dict(loss="nope"), ValueError, "nope"),
    ],
)
def test_bad_settings_fail_clearly(kwargs, error, message):
    with pytest.raises(error, match=message):
        MatrixFactorizationModel(train=clustered(), **kwargs)


def test_needs_training_data_or_sizes():
    with pytest.raises(ValueError, match="train"):
        MatrixFactorizationModel()
    with pytest.raises(TypeError, match="Interactions"):
        MatrixFactorizationModel(train=[(1, 2)])
    other = Interactions(users=[0, 1], items=[0, 1], num_negative_samples=1)
    with pytest.raises(ValueError, match="val has 2 users"):
        MatrixFactorizationModel(train=clustered(), val=other)


def test_sparse_embeddings_train_with_sparse_adam():
    model, trainer = fitted(epochs=5, sparse=True, optimizer="sparse_adam", bias_optimizer="sgd")
    assert model.item_embeddings.sparse
    assert trainer.history.train_loss.iloc[-1] < trainer.history.train_loss.iloc[0]


# -- prediction API --------------------------------------------------------------------------------


def test_item_predictions_and_recommendations(trained):
    model, _ = trained
    seen = set(clustered().mat[4].indices)
    predictions = model.get_item_predictions(4)
    assert len(predictions) == NUM_ITEMS and predictions.is_monotonic_decreasing
    assert predictions.iloc[0] == pytest.approx(model.score_all_items(torch.tensor([4]))[0].max().item())
    unseen = model.get_item_predictions(4, unseen_items_only=True)
    assert len(unseen) == NUM_ITEMS - len(seen) and not seen & set(unseen.index)
    top = model.recommend(4, k=5, unseen_items_only=True)
    assert list(top.columns) == ["item_id", "score"] and len(top) == 5
    assert list(top.item_id) == list(unseen.index[:5])
    assert set(model.recommend(4, k=5, unseen_items_only=False).item_id) <= set(predictions.index[:5])


def test_similarities_start_with_the_query_at_one(trained):
    model, _ = trained
    cases = ((model.item_item_similarity, 7, NUM_ITEMS), (model.user_user_similarity, 3, NUM_USERS))
    for similarity, query, size in cases:
        result = similarity(query)
        assert isinstance(result, pd.Series) and len(result) == size
        assert result.index[0] == query and result.iloc[0] == 1.0
        assert result.is_monotonic_decreasing and result.between(-1, 1).all()
        assert sorted(result.index) == list(range(size))


def test_similarity_of_an_all_zero_embedding_still_puts_itself_first():
    model = MatrixFactorizationModel(train=clustered(), seed=0)
    with torch.no_grad():
        model.item_embeddings.weight[[2, 5]] = 0.0
    result = model.item_item_similarity(5)
    assert result.index[0] == 5 and result.iloc[0] == 1.0 and result.loc[2] == 0.0


@pytest.mark.parametrize("bad", [-1, NUM_ITEMS, 10**9])
def test_out_of_range_ids_name_the_value_and_range(bad):
    model = MatrixFactorizationModel(train=clustered(), seed=0)
    with pytest.raises(ValueError, match=rf"item_id {bad} .*0\.\.{NUM_ITEMS - 1}"):
        model.item_item_similarity(bad)
    bad_user = bad if bad < NUM_ITEMS else bad - NUM_ITEMS + NUM_USERS
    with pytest.raises(ValueError, match=rf"user_id {bad_user} .*0\.\.{NUM_USERS - 1}"):
        model.recommend(bad_user, unseen_items_only=True)
    with pytest.raises(ValueError, match="user_ids contains"):
        model.score_all_items(torch.tensor([0, NUM_USERS]))
    with pytest.raises(TypeError, match="user_id"):
        model.get_item_predictions(1.5)
    assert model.recommend(np.int64(3), k=2, unseen_items_only=True).shape == (2, 2)  # numpy ids are fine


def test_with_titles_shifts_movielens_ids():
    df_item = pd.DataFrame({"item_id": [1, 2, 3], "movie_title": ["A", "B", "C"]})
    similar = pd.Series([1.0, 0.5], index=pd.Index([2, 0], name="item_id"), name="similarity")
    titled = with_titles(similar, df_item)
    assert list(titled.title) == ["C", "A"] and list(titled.similarity) == [1.0, 0.5]
    recs = pd.DataFrame({"item_id": [1], "score": [0.3]})
    assert list(with_titles(recs, df_item).title) == ["B"]
    shifted = df_item.assign(item_id=df_item.item_id - 1)
    assert list(with_titles(similar, shifted, id_offset=0).title) == ["C", "A"]
    with pytest.raises(ValueError, match="movie_title"):
        with_titles(similar, df_item[["item_id"]])


# -- popularity baseline -----------------------------------------------------------------------------


def test_popularity_ranks_items_by_training_count():
    train = Interactions(
        users=[0, 1, 2, 0, 1, 0, 3], items=[2, 2, 2, 1, 1, 0, 4], num_negative_samples=1, allow_missing_ids=True
    )
    model = PopularityModel(train)
    assert model.fit() is model
    torch.testing.assert_close(model.popularity, torch.tensor([1.0, 2, 3, 0, 1]))
    assert list(model.get_item_predictions(3).index[:2]) == [2, 1]
    assert list(model.recommend(3, k=3, unseen_items_only=True).item_id) == [2, 1, 0]  # item 4 is seen by user 3
    assert list(model.recommend(0, k=2, unseen_items_only=True).item_id) == [4, 3]
    assert model(torch.tensor([0, 1]), torch.tensor([2, 4])).tolist() == [3.0, 1.0]
    assert model.score_all_items(torch.tensor([0, 3])).shape == (2, 5)
    with pytest.raises(NotImplementedError, match="PopularityModel has no item embeddings"):
        model.item_item_similarity(0)
    with pytest.raises(ValueError, match="user_id 4"):
        model.recommend(4, unseen_items_only=True)


def test_trained_model_beats_popularity_on_held_out_items(trained):
    from coursekit.metrics import auc, evaluate_in_batches

    model, _ = trained
    train, test = clustered_split()
    (mf_auc,) = evaluate_in_batches([auc], test, model, train_interactions=train, progress=False)
    (pop_auc,) = evaluate_in_batches([auc], test, PopularityModel(train), train_interactions=train, progress=False)
    # Ideal here is 0.8: a held-out item beats the 30 other-taste items, ties with its own taste's.
    assert mf_auc > 0.72 and pop_auc < 0.6  # popularity cannot tell the two tastes apart


# -- persistence -----------------------------------------------------------------------------------


def test_save_load_round_trip_predicts_identically(trained, tmp_path):
    model, _ = trained
    path = model.save_model(tmp_path / "mf.pt")
    loaded = load_model(path)
    assert type(loaded) is MatrixFactorizationModel and not loaded.training
    assert loaded._train_loader is None  # no training data needed
    users = torch.arange(NUM_USERS)
    torch.testing.assert_close(loaded.score_all_items(users), model.score_all_items(users), rtol=0, atol=0)
    pd.testing.assert_frame_equal(
        loaded.recommend(9, unseen_items_only=True), model.recommend(9, unseen_items_only=True)
    )  # seen items travel too
    pd.testing.assert_series_equal(loaded.item_item_similarity(3), model.item_item_similarity(3))
    assert loaded.hparams.embedding_dim == 4 and loaded.hparams.seed == model.hparams.seed


def test_popularity_round_trip(tmp_path):
    model = PopularityModel(clustered())
    loaded = load_model(model.save_model(tmp_path / "pop.pt"))
    assert isinstance(loaded, PopularityModel)
    pd.testing.assert_frame_equal(
        loaded.recommend(1, unseen_items_only=True), model.recommend(1, unseen_items_only=True)
    )


def test_loading_weights_of_another_size_fails_clearly(trained, tmp_path):
    model, _ = trained
    path = model.save_model(tmp_path / "mf.pt")
    bigger = MatrixFactorizationModel(train=clustered(), embedding_dim=6)
    with pytest.raises(ValueError, match=r"embedding_dim=4.*embedding_dim=6"):
        bigger.load_weights(path)
    same = MatrixFactorizationModel(train=clustered(), embedding_dim=4, seed=99)
    assert same.load_weights(path) is same
    torch.testing.assert_close(same.item_embeddings.weight, model.item_embeddings.weight)
    with pytest.raises(ValueError, match="PopularityModel"):
        same.load_weights(PopularityModel(clustered()).save_model(tmp_path / "pop.pt"))
    with pytest.raises(FileNotFoundError, match="no saved model"):
        load_model(tmp_path / "missing.pt")


def test_custom_training_settings_still_save_and_load(tmp_path):
    model = MatrixFactorizationModel(
        train=clustered(),
        sparse=True,
        optimizer=torch.optim.SGD,
        loss=lambda p, n, num_items=None: (n - p[:, None]).mean(),
        lr_scheduler_func=lambda opt: torch.optim.lr_scheduler.StepLR(opt, 1),
    )
    loaded = load_model(model.save_model(tmp_path / "m.pt"))
    assert loaded.hparams.sparse and loaded.hparams.optimizer == "sgd"
    torch.testing.assert_close(loaded.score_all_items(torch.arange(3)), model.score_all_items(torch.arange(3)))


def test_failed_save_leaves_the_previous_file_intact(trained, tmp_path, monkeypatch):
    model, _ = trained
    path = model.save_model(tmp_path / "mf.pt")
    before = path.read_bytes()
    real_save = torch.save

    def crash_midway(obj, f, *args, **kwargs):
        f.write(b"partial bytes")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", crash_midway)
    with torch.no_grad():
        model.item_biases.weight.add_(1.0)
    try:
        with pytest.raises(OSError, match="disk full"):
            model.save_model(path)
    finally:
        with torch.no_grad():
            model.item_biases.weight.sub_(1.0)
        monkeypatch.setattr(torch, "save", real_save)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["mf.pt"]  # no temporary file left behind
    load_model(path)


def test_joblib_round_trip(trained, tmp_path):
    model, _ = trained
    joblib.dump(model, tmp_path / "mf.joblib")
    loaded = joblib.load(tmp_path / "mf.joblib")
    users = torch.arange(NUM_USERS)
    torch.testing.assert_close(loaded.score_all_items(users), model.score_all_items(users))
    pd.testing.assert_frame_equal(
        loaded.recommend(2, unseen_items_only=True), model.recommend(2, unseen_items_only=True)
    )


# -- the reference lesson on MovieLens 100K ----------------------------------------------------------


@pytest.mark.slow
def test_reference_lesson_on_movielens(ml100k_path):
    from coursekit.course.recipes import COLLIE_APPROXIMATE, COLLIE_SEPARATE_BIAS
    from coursekit.cross_validation import stratified_split
    from coursekit.metrics import auc, evaluate_in_batches, mapk, mrr
    from coursekit.movielens import read_movielens_df, read_movielens_df_item
    from coursekit.utils import convert_to_implicit

    df = convert_to_implicit(read_movielens_df())
    interactions = Interactions(users=df.user_id, items=df.item_id, allow_missing_ids=True)
    train_interactions, val_interactions = stratified_split(interactions, test_p=0.1, seed=42)

    # The reference lesson's two models, as the named recipes the lessons and benchmarks share.
    model, _, _ = COLLIE_APPROXIMATE.fit(train_interactions, val_interactions, seed=22, deterministic=True)
    mapk_score, mrr_score, auc_score = evaluate_in_batches([mapk, mrr, auc], val_interactions, model)
    assert auc_score > 0.85 and mapk_score > 0.02 and mrr_score > 0.1

    model, _, _ = COLLIE_SEPARATE_BIAS.fit(train_interactions, val_interactions, seed=22, deterministic=True)
    (auc_score,) = evaluate_in_batches([auc], val_interactions, model)
    assert auc_score > 0.85

    df_item = read_movielens_df_item()
    df_item["item_id"] -= 1
    item_similarities = model.item_item_similarity(item_id=49)
    top = df_item.iloc[item_similarities.index][:5]
    assert top.movie_title.iloc[0] == "Star Wars (1977)"
    assert "Return of the Jedi (1983)" in set(top.movie_title)
    titled = with_titles(item_similarities.head(5), read_movielens_df_item())
    assert list(titled.title) == list(top.movie_title)
