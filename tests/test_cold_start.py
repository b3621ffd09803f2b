"""Cold start: whole-item / whole-user splits, sub-catalogue evaluation, and the metadata model."""

import numpy as np
import pytest
import torch

from coursekit.cold_start import SubCatalogue, cold_item_split, cold_user_split, evaluate_on_items
from coursekit.interactions import Interactions
from coursekit.metrics import auc, evaluate_in_batches, mapk, mrr
from coursekit.model import (
    ColdStartModel,
    CourseTrainer,
    MatrixFactorizationModel,
    PopularityModel,
    RandomModel,
    load_model,
)
from tests.contracts import synthetic_interactions

# -- splits --------------------------------------------------------------------------------------


@pytest.mark.parametrize("split, column", [(cold_item_split, "items"), (cold_user_split, "users")])
def test_split_holds_out_whole_ids_and_partitions_the_data(split, column):
    data = synthetic_interactions(num_users=60, num_items=50, seed=3)
    train, test, held_out = split(data, test_p=0.2, seed=1)
    present = np.unique(getattr(data, column))
    assert len(held_out) == round(0.2 * len(present)) and np.all(np.diff(held_out) > 0)
    assert set(held_out) <= set(present)
    for part in (train, test):
        assert (part.num_users, part.num_items) == (data.num_users, data.num_items)
    assert set(np.unique(getattr(test, column))) == set(held_out)  # every held-out id, all its interactions
    assert not set(getattr(train, column)) & set(held_out)
    assert train.num_interactions + test.num_interactions == data.num_interactions
    assert (train.mat + test.mat != data.mat).nnz == 0


@pytest.mark.parametrize("split", [cold_item_split, cold_user_split])
def test_split_is_seeded(split):
    data = synthetic_interactions(seed=4)
    first, again, other = (split(data, test_p=0.25, seed=s).held_out for s in (7, 7, 8))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_split_refuses_bad_arguments():
    data = synthetic_interactions()
    with pytest.raises(ValueError, match="leaving none to train on"):
        cold_item_split(data, test_p=0.999, seed=0)
    with pytest.raises(ValueError, match="test_p"):
        cold_user_split(data, test_p=0.0, seed=0)
    with pytest.raises(TypeError, match="coursekit Interactions"):
        cold_item_split(data.mat, seed=0)


# -- evaluation on a sub-catalogue --------------------------------------------------------------


def test_evaluate_on_items_equals_ranking_the_sub_catalogue_by_hand():
    data = synthetic_interactions(seed=5)
    model = RandomModel(data, seed=3)
    items = np.array([3, 17, 5, 30, 11, 8, 22])
    got = evaluate_on_items([mapk, mrr, auc], data, model, items, k=3, seed=2)
    order = np.random.default_rng(2).permutation(items)
    sub = Interactions(mat=data.mat[:, order], num_negative_samples=1, allow_missing_ids=True)
    expected = evaluate_in_batches([mapk, mrr, auc], sub, SubCatalogue(model, order), k=3, progress=False)
    np.testing.assert_allclose(got, expected)
    masked = evaluate_on_items([mrr], data, model, items, seed=2, train_interactions=data)[0]
    assert masked == 0.0  # every test item is a training item here: all masked, none relevant
    # Random scores rank the held-out items near chance.
    assert abs(evaluate_on_items([auc], data, model, np.arange(40), seed=0)[0] - 0.5) < 0.1


def test_constant_scores_rank_the_sub_catalogue_at_random_not_by_id():
    # User 0 likes item 0 only: ties broken by id would put it first for a model that knows nothing.
    users = np.array([0, 1, 1])
    items = np.array([0, 5, 6])
    data = Interactions(users, items, num_users=2, num_items=30, num_negative_samples=1, allow_missing_ids=True)
    popularity = PopularityModel(
        Interactions([1], [9], num_users=2, num_items=30, num_negative_samples=1, allow_missing_ids=True)
    )
    reciprocal_ranks = [evaluate_on_items([mrr], data, popularity, np.arange(30), k=30, seed=s)[0] for s in range(20)]
    assert np.mean(reciprocal_ranks) < 0.5 and len(set(reciprocal_ranks)) > 5


def test_evaluate_on_items_checks_ids():
    data = synthetic_interactions()
    model = RandomModel(data, seed=0)
    with pytest.raises(ValueError, match="items contains 40"):
        evaluate_on_items([mapk], data, model, [1, 40])
    with pytest.raises(ValueError, match="distinct"):
        evaluate_on_items([mapk], data, model, [1, 1, 2])
    with pytest.raises(TypeError, match="integer ids"):
        evaluate_on_items([mapk], data, model, [1.0, 2.0])


# -- the model -----------------------------------------------------------------------------------


def planted_genres(num_users=120, num_items=60, clusters=3, per_user=8, seed=0):
    """Users of cluster c like only items of cluster c; an item's metadata is its cluster, one-hot."""
    rng = np.random.default_rng(seed)
    cluster_of_item = np.arange(num_items) % clusters
    users = np.repeat(np.arange(num_users), per_user)
    items = np.concatenate(
        [rng.choice(np.flatnonzero(cluster_of_item == u % clusters), per_user, replace=False) for u in range(num_users)]
    )
    data = Interactions(users, items, num_users=num_users, num_items=num_items, num_negative_samples=4)
    metadata = np.eye(clusters, dtype=np.float32)[cluster_of_item]
    return data, metadata


def _fit(model, epochs):
    CourseTrainer(max_epochs=epochs, enable_progress_bar=False).fit(model)
    return model.eval()


QUICK = dict(embedding_dim=4, lr=5e-2, batch_size=64, lr_scheduler_func=None, bias_lr=5e-2)


def test_cold_items_are_ranked_from_metadata_where_plain_mf_guesses():
    data, metadata = planted_genres()
    train, test, cold = cold_item_split(data, test_p=0.25, seed=0)
    model = ColdStartModel(train, item_metadata=metadata, seed=0, **QUICK)
    _fit(model, 15)
    cold_auc = evaluate_on_items([auc], test, model, cold, seed=0)[0]
    plain = _fit(MatrixFactorizationModel(train, seed=0, **QUICK), 15)
    plain_auc = evaluate_on_items([auc], test, plain, cold, seed=0)[0]
    # Metadata (the cluster) cannot tell a user's picks from the other items of their cluster: the best
    # AUC is about 0.88 (those tie with the picks, half credit); chance is 0.5.
    assert cold_auc > 0.8 and plain_auc < 0.7, (cold_auc, plain_auc)


def test_cold_item_vector_is_its_metadata_projection():
    data, metadata = planted_genres()
    train, _, cold = cold_item_split(data, test_p=0.25, seed=1)
    model = _fit(ColdStartModel(train, item_metadata=metadata, stage="all", seed=1, **QUICK), 3)
    vectors, from_metadata = model.item_vectors(), model.metadata_item_vectors()
    torch.testing.assert_close(vectors[cold], from_metadata[cold])
    warm = np.setdiff1d(np.arange(data.num_items), cold)
    assert not torch.allclose(vectors[warm], from_metadata[warm])  # warm items add their own vectors
    # Two cold items with the same metadata score the same for everybody.
    same = cold[metadata[cold].argmax(1) == metadata[cold[0]].argmax()][:2]
    scores = model.score_all_items(torch.arange(10))
    torch.testing.assert_close(scores[:, same[0]], scores[:, same[-1]])
    # score_new_items: a new item described like a catalogue cold item scores like it.
    torch.testing.assert_close(model.score_new_items(torch.arange(10), metadata[cold[:1]])[:, 0], scores[:, cold[0]])


def test_metadata_stage_trains_only_the_projections_then_all_stage_trains_all():
    data, metadata = planted_genres(seed=2)
    model = ColdStartModel(data, item_metadata=metadata, seed=2, **QUICK)
    free, projection = model.item_embeddings.weight.detach().clone(), model.factorization.item_projection.detach()
    projection = projection.clone()
    _fit(model, 2)
    assert torch.equal(model.item_embeddings.weight, free)
    assert not model.item_biases.weight.any()  # the free item biases stay at 0
    assert not torch.equal(model.factorization.item_projection, projection)
    model.stage = "all"
    _fit(model, 2)
    assert not torch.equal(model.item_embeddings.weight, free)
    with pytest.raises(ValueError, match="stage must be one of"):
        model.stage = "buckets"


def test_user_cold_start_from_demographics():
    # User metadata: the user's cluster. New users of a cluster get their cluster's items first.
    data, _ = planted_genres(seed=3)
    clusters = np.arange(data.num_users) % 3
    user_metadata = np.eye(3, dtype=np.float32)[clusters]
    train, test, cold_users = cold_user_split(data, test_p=0.2, seed=0)
    model = _fit(ColdStartModel(train, user_metadata=user_metadata, stage="all", seed=3, **QUICK), 15)
    cold_auc = evaluate_in_batches([auc], test, model, progress=False)[0]
    assert cold_auc > 0.8, cold_auc  # about 0.88 at best, as for cold items
    from_demographics = torch.from_numpy(user_metadata[cold_users]) @ model.factorization.user_projection.detach()
    torch.testing.assert_close(model._user_vectors()[cold_users], from_demographics)


def test_bad_metadata_is_refused_with_clear_messages():
    data, metadata = planted_genres()
    train, _, cold = cold_item_split(data, test_p=0.25, seed=0)
    with pytest.raises(ValueError, match="item_metadata has 59 rows but the model has 60"):
        ColdStartModel(train, item_metadata=metadata[:-1])
    broken = metadata.copy()
    broken[4, 1] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite values .*row 4"):
        ColdStartModel(train, item_metadata=broken)
    empty = metadata.copy()
    empty[cold[:2]] = 0
    with pytest.raises(ValueError, match=rf"2 items have no training interactions .*\[{cold[0]}, {cold[1]}\]"):
        ColdStartModel(train, item_metadata=empty)
    warm_empty = metadata.copy()
    warm_empty[np.setdiff1d(np.arange(60), cold)[0]] = 0  # a warm item has its own vector: allowed
    ColdStartModel(train, item_metadata=warm_empty)
    with pytest.raises(ValueError, match="'sparse_adam' cannot"):
        ColdStartModel(train, item_metadata=metadata, sparse=True, optimizer="sparse_adam")
    with pytest.raises(ValueError, match="needs item_metadata or user_metadata"):
        ColdStartModel(train)
    model = ColdStartModel(train, item_metadata=metadata)
    with pytest.raises(ValueError, match="item_metadata has 2 columns, the model 3"):
        model.score_new_items([0], np.ones((1, 2)))
    with pytest.raises(ValueError, match="user_ids contains 500"):
        model.score_new_items([500], np.ones((1, 3)))


def test_save_load_keeps_metadata_known_rows_and_stage(tmp_path):
    data, metadata = planted_genres()
    train, _, cold = cold_item_split(data, test_p=0.25, seed=0)
    model = _fit(ColdStartModel(train, item_metadata=metadata, stage="all", seed=0, **QUICK), 2)
    loaded = load_model(model.save_model(tmp_path / "cold.pt"))
    assert loaded.stage == "all" and isinstance(loaded, ColdStartModel)
    torch.testing.assert_close(loaded.factorization.item_metadata, torch.from_numpy(metadata))
    assert loaded.factorization.item_known[cold].sum() == 0
    users = torch.arange(data.num_users)
    torch.testing.assert_close(loaded.score_all_items(users), model.score_all_items(users), rtol=0, atol=0)
    torch.testing.assert_close(
        loaded.score_new_items(users, metadata[:2]), model.score_new_items(users, metadata[:2]), rtol=0, atol=0
    )


def test_random_model_is_seeded():
    data = synthetic_interactions()
    a, b, c = RandomModel(data, seed=1), RandomModel(data, seed=1), RandomModel(data, seed=2)
    users = torch.arange(5)
    assert torch.equal(a.score_all_items(users), b.score_all_items(users))
    assert not torch.equal(a.score_all_items(users), c.score_all_items(users))
