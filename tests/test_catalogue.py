"""coursekit.catalogue: recommended lists, catalogue coverage and the popularity of recommendations."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from coursekit import catalogue
from coursekit.course import compare
from coursekit.interactions import Interactions
from coursekit.model import PopularityModel
from tests.contracts import popular_split, synthetic_interactions


class FixedScores(PopularityModel):
    """Every user gets the same given item scores."""

    def __init__(self, train, scores):
        super().__init__(train)
        self.fixed = torch.as_tensor(scores, dtype=torch.float32)

    def score_all_items(self, user_ids):
        return self.fixed.expand(len(self._check_user_tensor(user_ids)), -1).clone()


class Personal(PopularityModel):
    """User u's best item is (u * 7) % num_items: every user a different corner of the catalogue."""

    def score_all_items(self, user_ids):
        users = self._check_user_tensor(user_ids)
        items = torch.arange(self.num_items)
        return -(((items[None, :] - users[:, None] * 7) % self.num_items).to(torch.float32))


@pytest.fixture
def train():
    return popular_split(num_users=60, num_items=40)[0]


def test_recommended_items_are_top_k_unseen(train):
    model = PopularityModel(train)
    lists = catalogue.recommended_items(model, train, k=4, batch_size=7)
    assert list(lists.columns) == ["user_id", "rank", "item_id"]
    mat = train.mat.tocsr()
    assert sorted(lists.user_id.unique()) == list(np.flatnonzero(np.diff(mat.indptr) > 0))
    assert (lists.groupby("user_id")["rank"].apply(list) == [[1, 2, 3, 4]] * lists.user_id.nunique()).all()
    for user, rows in lists.groupby("user_id"):
        expected = model.recommend(user, k=4, unseen_items_only=True).item_id.tolist()
        assert rows.sort_values("rank").item_id.tolist() == expected
        assert not set(rows.item_id) & set(mat[user].indices)


def test_coverage_of_popularity_is_about_k_over_items_and_a_personal_model_covers_more(train):
    k = 5
    coverage = catalogue.catalogue_coverage(PopularityModel(train), train, k=k)
    # Everybody gets the most popular unseen items: the top k, plus a few for users who saw some of them.
    assert k / train.num_items <= coverage <= (k + 7) / train.num_items
    assert catalogue.catalogue_coverage(Personal(train), train, k=k) == 1.0
    assert catalogue.catalogue_coverage(Personal(train), train, k=k, batch_size=4) == 1.0


def test_coverage_with_one_fixed_list_counts_the_union():
    # 3 users x 6 items; everybody has item 0; user 2 also item 1. Scores rank items 0 > 1 > 2 > ...
    train = Interactions(
        [0, 1, 2, 2], [0, 0, 0, 1], num_users=3, num_items=6, allow_missing_ids=True, num_negative_samples=1
    )
    model = FixedScores(train, [6.0, 5.0, 4.0, 3.0, 2.0, 1.0])
    # Users 0, 1 get [1, 2], user 2 gets [2, 3]: items {1, 2, 3} of 6.
    assert catalogue.catalogue_coverage(model, train, k=2) == pytest.approx(3 / 6)
    lists = catalogue.recommended_items(model, train, k=2)
    assert lists.item_id.tolist() == [1, 2, 1, 2, 2, 3]


def test_popular_share_moved_to_the_library_and_the_course_wrapper_agrees(train):
    popularity = PopularityModel(train)
    for k, head in ((3, 5), (10, 100), (2, 20)):
        share = catalogue.popular_share(popularity, train, k=k, head=head)
        assert share == compare.popular_share(popularity, train, k=k, head=head)
        assert share == compare.popular_share(popularity, train_interactions=train, k=k, head=head)
    assert catalogue.popular_share(popularity, train, k=3, head=3 + 7) == 1.0  # 7 seen items per user at most
    counts = np.bincount(train.items, minlength=train.num_items)
    contrarian = FixedScores(train, -counts.astype(np.float32))
    assert catalogue.popular_share(contrarian, train, k=2, head=5) == 0.0


def test_popularity_percentiles_rank_items_from_least_to_most_popular():
    train = Interactions(
        [0, 1, 2, 0, 1, 0], [0, 0, 0, 1, 1, 2], num_users=3, num_items=4, allow_missing_ids=True, num_negative_samples=1
    )
    # popularity 3, 2, 1, 0 -> percentiles 1, 2/3, 1/3, 0
    np.testing.assert_allclose(catalogue.popularity_percentiles(train), [1.0, 2 / 3, 1 / 3, 0.0])
    tied = Interactions(
        [0, 1], [0, 1], num_users=2, num_items=3, allow_missing_ids=True, num_negative_samples=1
    )  # popularity 1, 1, 0
    np.testing.assert_allclose(catalogue.popularity_percentiles(tied), [0.75, 0.75, 0.0])


def test_mean_popularity_percentile_is_high_for_popularity_and_low_for_the_tail(train):
    popular = catalogue.mean_popularity_percentile(PopularityModel(train), train, k=5)
    counts = np.bincount(train.items, minlength=train.num_items)
    tail = catalogue.mean_popularity_percentile(FixedScores(train, -counts.astype(np.float32)), train, k=5)
    personal = catalogue.mean_popularity_percentile(Personal(train), train, k=5)
    assert popular > 0.8 and tail < 0.35 and tail < personal < popular, (tail, personal, popular)
    # By hand for one user: the mean of the percentiles of their list.
    lists = catalogue.recommended_items(PopularityModel(train), train, k=5)
    percentiles = catalogue.popularity_percentiles(train)
    assert popular == pytest.approx(percentiles[lists.item_id.to_numpy()].mean())


def test_bad_inputs_are_named():
    data = synthetic_interactions()
    model = PopularityModel(data)
    other = synthetic_interactions(num_users=10, num_items=40)
    with pytest.raises(ValueError, match="model is 50x40 but train_interactions is 10x40"):
        catalogue.catalogue_coverage(model, other)
    with pytest.raises(TypeError, match="train_interactions is required"):
        catalogue.popular_share(model, None)
    with pytest.raises(ValueError, match="k must be >= 1"):
        catalogue.mean_popularity_percentile(model, data, k=0)
    with pytest.raises(ValueError, match="head must be >= 1"):
        catalogue.popular_share(model, data, head=0)
    with pytest.raises(TypeError, match="model must have"):
        catalogue.recommended_items(object(), data)
