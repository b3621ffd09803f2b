"""coursekit.model.item_knn: cosine item-item similarities and their scores, checked by hand."""

from __future__ import annotations

import time

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from coursekit.interactions import Interactions
from coursekit.model import ItemKNNModel, load_model
from coursekit.model.item_knn import cosine_similarity_matrix, keep_top_neighbours

# 4 users x 4 items:
#   user 0: items 0, 1
#   user 1: items 0, 1, 2
#   user 2: items 1, 2
#   user 3: item 3
# Columns: x0 = (1,1,0,0), x1 = (1,1,1,0), x2 = (0,1,1,0), x3 = (0,0,0,1); |x0| = sqrt2, |x1| = sqrt3, |x2| = sqrt2.
# Cosines: s01 = 2/sqrt6, s02 = 1/2, s12 = 2/sqrt6, item 3 shares no user with anybody.
USERS = [0, 0, 1, 1, 1, 2, 2, 3]
ITEMS = [0, 1, 0, 1, 2, 1, 2, 3]
S01 = S12 = 2 / np.sqrt(6)
S02 = 0.5


@pytest.fixture
def tiny() -> Interactions:
    return Interactions(USERS, ITEMS, num_users=4, num_items=4, num_negative_samples=1)


def test_cosine_similarities_by_hand(tiny):
    similarity = cosine_similarity_matrix(tiny.mat).toarray()
    expected = np.array(
        [
            [0, S01, S02, 0],
            [S01, 0, S12, 0],
            [S02, S12, 0, 0],
            [0, 0, 0, 0],
        ]
    )
    np.testing.assert_allclose(similarity, expected)
    # Shrinkage adds to the denominator: s01 = 2 / (sqrt6 + 1).
    shrunk = cosine_similarity_matrix(tiny.mat, shrinkage=1.0).toarray()
    assert shrunk[0, 1] == pytest.approx(2 / (np.sqrt(6) + 1)) and shrunk[0, 2] == pytest.approx(1 / 3)


def test_scores_are_sums_of_similarities_to_the_users_items(tiny):
    model = ItemKNNModel(tiny, neighbours=None)
    scores = model.score_all_items(torch.arange(4)).numpy()
    expected = np.array(
        [
            [S01, S01, S02 + S12, 0],  # user 0 has items 0 and 1
            [S01 + S02, S01 + S12, S02 + S12, 0],
            [S01 + S02, S12, S12, 0],  # user 2 has items 1 and 2
            [0, 0, 0, 0],  # user 3's item is like nothing else
        ]
    )
    np.testing.assert_allclose(scores, expected, rtol=1e-6)
    assert scores.dtype == np.float32


def test_neighbours_keep_each_items_most_similar_items(tiny):
    # With one neighbour each: item 0 keeps item 1 (2/sqrt6 > 1/2), item 1 keeps item 0 (a tie with
    # item 2: the lower index), item 2 keeps item 1.
    model = ItemKNNModel(tiny, neighbours=1)
    expected = np.zeros((4, 4))
    expected[0, 1], expected[1, 0], expected[2, 1] = S01, S01, S12
    np.testing.assert_allclose(model.similarity.toarray(), expected, rtol=1e-6)
    # score(u, i) = sum over u's items j of S[j, i]: user 2 (items 1, 2) gets S[1, 0] for item 0 and S[2, 1] for 1.
    np.testing.assert_allclose(model.score_all_items(torch.tensor([2]))[0].numpy(), [S01, S12, 0, 0], rtol=1e-6)


def test_keep_top_neighbours_matches_a_per_row_sort():
    rng = np.random.default_rng(0)
    dense = np.where(rng.random((30, 30)) < 0.4, rng.integers(1, 6, (30, 30)) / 5.0, 0.0)  # many ties
    for neighbours in (1, 3, 10, 50):
        pruned = keep_top_neighbours(sp.csr_matrix(dense), neighbours).toarray()
        for row, values in enumerate(dense):
            stored = np.flatnonzero(values)
            order = stored[np.lexsort((stored, -values[stored]))][:neighbours]
            expected = np.zeros(30)
            expected[order] = values[order]
            np.testing.assert_array_equal(pruned[row], expected)
    np.testing.assert_array_equal(keep_top_neighbours(sp.csr_matrix(dense), None).toarray(), dense)


def test_save_load_keeps_the_similarities(tiny, tmp_path):
    model = ItemKNNModel(tiny, neighbours=2, shrinkage=0.5)
    loaded = load_model(model.save_model(tmp_path / "knn.pt"))
    assert (loaded.neighbours, loaded.shrinkage) == (2, 0.5)
    torch.testing.assert_close(loaded.score_all_items(torch.arange(4)), model.score_all_items(torch.arange(4)))


def test_a_damaged_file_is_refused(tiny, tmp_path):
    path = ItemKNNModel(tiny).save_model(tmp_path / "knn.pt")
    payload = torch.load(path, weights_only=True)
    payload["state_dict"]["similarity_indices"][0] = 10**6  # an item that does not exist
    torch.save(payload, path)
    with pytest.raises(ValueError, match="similarity matrix is damaged"):
        load_model(path)


def test_bad_settings_are_named(tiny):
    with pytest.raises(ValueError, match="neighbours must be >= 1"):
        ItemKNNModel(tiny, neighbours=0)
    with pytest.raises(ValueError, match="shrinkage must be a finite number >= 0"):
        ItemKNNModel(tiny, shrinkage=-1.0)
    with pytest.raises(TypeError, match="shrinkage must be a number"):
        ItemKNNModel(tiny, shrinkage="big")
    with pytest.raises(ValueError, match="needs train"):
        ItemKNNModel()


@pytest.mark.slow
def test_fast_and_better_than_popularity_on_movielens(ml100k_path):
    from coursekit.cross_validation import stratified_split
    from coursekit.metrics import evaluate_in_batches, mapk
    from coursekit.model import PopularityModel
    from coursekit.movielens import read_movielens_df
    from coursekit.utils import convert_to_implicit

    implicit = convert_to_implicit(read_movielens_df(data_path=ml100k_path.parent), min_rating_to_keep=4)
    data = Interactions(implicit.user_id, implicit.item_id, allow_missing_ids=True)
    train, test = stratified_split(data, test_p=0.1, seed=42)
    started = time.perf_counter()
    model = ItemKNNModel(train)
    assert time.perf_counter() - started < 5.0  # about 0.3 s; generous for a busy machine
    knn, popularity = (
        evaluate_in_batches([mapk], test, m, train_interactions=train, progress=False)[0]
        for m in (model, PopularityModel(train))
    )
    assert knn > 1.5 * popularity
