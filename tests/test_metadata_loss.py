"""Partial credit (metadata in the loss): the ideal difference, the losses with it, the model option, persistence."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from coursekit.interactions import Interactions
from coursekit.losses import (
    adaptive_bpr,
    adaptive_hinge,
    bpr,
    check_metadata_for_loss,
    hinge,
    ideal_difference_from_metadata,
    metadata_overlap,
    warp,
)
from coursekit.model import CourseTrainer, MatrixFactorizationModel, load_model

ALL_LOSSES = [bpr, hinge, adaptive_bpr, adaptive_hinge, warp]

# Four items, three genres: 0 = {A}, 1 = {A, B}, 2 = {C}, 3 = {A, B}.
GENRES = torch.tensor([[1, 0, 0], [1, 1, 0], [0, 0, 1], [1, 1, 0]], dtype=torch.float32)

NUM_USERS, NUM_ITEMS, PER_USER = 80, 40, 8


def t(values):
    return torch.tensor(values, dtype=torch.float32)


def two_tastes(seed: int = 0) -> tuple[Interactions, np.ndarray]:
    """Even users like items 0..19 (genre 0), odd users items 20..39 (genre 1); returns data and the genre matrix."""
    rng = np.random.default_rng(seed)
    half = NUM_ITEMS // 2
    items = np.stack([rng.choice(np.arange(half) + half * (u % 2), PER_USER, replace=False) for u in range(NUM_USERS)])
    users = np.repeat(np.arange(NUM_USERS), PER_USER)
    data = Interactions(
        users=users, items=items.ravel(), num_users=NUM_USERS, num_items=NUM_ITEMS, num_negative_samples=4
    )
    genres = np.zeros((NUM_ITEMS, 2), dtype=np.float32)
    genres[:half, 0] = genres[half:, 1] = 1
    return data, genres


def model_on(data, **kwargs) -> MatrixFactorizationModel:
    settings = dict(embedding_dim=4, lr=5e-2, batch_size=64, seed=3, lr_scheduler_func=None)
    return MatrixFactorizationModel(train=data, **{**settings, **kwargs})


# ------------------------------------------------------------------ the ideal difference


def test_overlap_is_jaccard_for_flags_and_equality_for_one_hot():
    assert metadata_overlap(GENRES[0], GENRES[1]).item() == pytest.approx(0.5)  # {A} vs {A, B}
    assert metadata_overlap(GENRES[1], GENRES[3]).item() == pytest.approx(1.0)
    assert metadata_overlap(GENRES[0], GENRES[2]).item() == 0.0
    one_hot = torch.eye(3)
    assert metadata_overlap(one_hot[:, None], one_hot[None]).tolist() == torch.eye(3).tolist()
    assert metadata_overlap(torch.zeros(3), torch.zeros(3)).item() == 0.0  # nothing known: no credit


def test_ideal_difference_hand_computed():
    positives = torch.tensor([0, 1])
    negatives = torch.tensor([[1, 2, 3], [3, 0, 2]])
    ideal = ideal_difference_from_metadata(positives, negatives, {"genre": GENRES}, {"genre": 0.4})
    # row 0: {A} vs {A,B} 1/2, vs {C} 0, vs {A,B} 1/2; row 1: {A,B} vs {A,B} 1, vs {A} 1/2, vs {C} 0
    expected = [[1 - 0.2, 1.0, 1 - 0.2], [1 - 0.4, 1 - 0.2, 1.0]]
    assert np.allclose(ideal.numpy(), expected)
    # two kinds of metadata add up; [B] negatives read as one per row
    decade = torch.tensor([[1.0, 0], [0, 1], [1, 0], [1, 0]])
    both = ideal_difference_from_metadata(
        positives, torch.tensor([2, 0]), {"genre": GENRES, "decade": decade}, {"genre": 0.4, "decade": 0.3}
    )
    assert both.shape == (2, 1)
    assert both[:, 0].tolist() == pytest.approx([1 - 0.3, 1 - 0.2])  # item 0-2: same decade; 1-0: half the genres


def test_hinge_with_ideal_difference_hand_computed():
    # pos 2, neg [1.5, 1.5]: plain margins 0.5 each; ideal [0.6, 1] -> max(0, 0.6 - 0.5) = 0.1 and 0.5
    assert hinge(t([2.0]), t([[1.5, 1.5]]), ideal_difference=t([[0.6, 1.0]])).item() == pytest.approx(0.3)
    assert hinge(t([2.0]), t([[1.5, 1.5]])).item() == pytest.approx(0.5)


def test_bpr_with_ideal_difference_adds_the_credit_to_the_gap():
    # ideal 0.6 -> credit 0.4: -log sigmoid(0.5 + 0.4), and the hinge gets the same shift
    assert bpr(t([2.0]), t([[1.5]]), ideal_difference=0.6).item() == pytest.approx(np.log1p(np.exp(-0.9)))
    ideal = t([[0.6, 1.0]])
    shifted = t([[1.5 - 0.4, 1.5]])
    assert hinge(t([2.0]), t([[1.5, 1.5]]), ideal_difference=ideal).item() == pytest.approx(
        hinge(t([2.0]), shifted).item()
    )


def test_adaptive_losses_take_the_hardest_negatives_ideal():
    pos, neg = t([0.0]), t([[0.5, -0.1, 0.2]])
    ideal = t([[0.6, 1.0, 1.0]])
    assert adaptive_hinge(pos, neg, ideal_difference=ideal).item() == pytest.approx(0.6 + 0.5)
    assert adaptive_bpr(pos, neg, ideal_difference=ideal).item() == pytest.approx(
        bpr(pos, t([[0.5]]), ideal_difference=0.6).item()
    )


@pytest.mark.parametrize("loss", ALL_LOSSES)
def test_ideal_difference_one_is_the_plain_loss_exactly(loss):
    torch.manual_seed(0)
    pos, neg = torch.randn(16), torch.randn(16, 5)
    ones = ideal_difference_from_metadata(
        torch.randint(0, 4, (16,)), torch.randint(0, 4, (16, 5)), {"genre": GENRES}, {"genre": 0.0}
    )
    assert torch.equal(loss(pos, neg, num_items=50, ideal_difference=ones), loss(pos, neg, num_items=50))


@pytest.mark.parametrize("loss", ALL_LOSSES)
def test_partial_credit_never_raises_the_loss_and_gradients_flow(loss):
    torch.manual_seed(1)
    pos = torch.randn(16).requires_grad_()
    neg = torch.randn(16, 5).requires_grad_()
    ideal = torch.rand(16, 5)
    partial = loss(pos, neg, num_items=50, ideal_difference=ideal)
    assert partial.item() <= loss(pos, neg, num_items=50).item() + 1e-6
    partial.backward()
    assert (pos.grad <= 0).all() and pos.grad.sum() < 0
    assert torch.isfinite(neg.grad).all() and neg.grad.abs().sum() > 0


def test_bad_ideal_difference_shape():
    with pytest.raises(ValueError, match="ideal_difference"):
        hinge(t([1.0, 2.0]), torch.zeros(2, 3), ideal_difference=torch.ones(2, 2))


# ------------------------------------------------------------------ checks


def test_check_metadata_for_loss_accepts_and_normalises():
    assert check_metadata_for_loss(None, None, 4) is None and check_metadata_for_loss({}, {}, 4) is None
    matrices, weights = check_metadata_for_loss({"genre": GENRES}, {"genre": np.float32(0.5)}, 4)
    assert matrices["genre"].dtype == np.float32 and weights == {"genre": 0.5} and type(weights["genre"]) is float


@pytest.mark.parametrize(
    "metadata, weights, message",
    [
        ({"genre": np.full((4, 3), np.nan)}, {"genre": 0.4}, "NaN"),
        ({"genre": np.ones((3, 3))}, {"genre": 0.4}, "3 rows but the model has 4"),
        ({"genre": np.ones(4)}, {"genre": 0.4}, "2-D"),
        ({"genre": -np.ones((4, 3))}, {"genre": 0.4}, "negative values"),
        ({"genre": GENRES}, {"genre": 1.5}, r"\[0, 1\]"),
        ({"genre": GENRES}, {"genre": -0.1}, r"\[0, 1\]"),
        ({"genre": GENRES}, {"genre": True}, r"\[0, 1\]"),
        ({"genre": GENRES, "decade": GENRES}, {"genre": 0.6, "decade": 0.5}, "sum to 1.1"),
        ({"genre": GENRES}, {"decade": 0.4}, "same keys"),
        ({"genre": GENRES}, None, "same keys"),
        ({"a.b": GENRES}, {"a.b": 0.4}, "without '.'"),
    ],
)
def test_check_metadata_for_loss_errors(metadata, weights, message):
    with pytest.raises(ValueError, match=message):
        check_metadata_for_loss(metadata, weights, 4)


def test_check_metadata_for_loss_wants_dicts():
    with pytest.raises(TypeError, match="metadata_for_loss_weights must be a dict"):
        check_metadata_for_loss({"genre": GENRES}, 0.4, 4)
    with pytest.raises(TypeError, match="metadata_for_loss must be a dict"):
        check_metadata_for_loss(GENRES, {"genre": 0.4}, 4)


def test_model_checks_its_metadata():
    data, genres = two_tastes()
    with pytest.raises(ValueError, match=r"39 rows but the model has 40"):
        model_on(data, metadata_for_loss={"genre": genres[:-1]}, metadata_for_loss_weights={"genre": 0.4})
    with pytest.raises(ValueError, match="same keys"):
        model_on(data, metadata_for_loss={"genre": genres})
    with pytest.raises(TypeError, match="ideal_difference"):
        model_on(
            data,
            loss=lambda pos, neg, num_items=None: hinge(pos, neg),
            metadata_for_loss={"genre": genres},
            metadata_for_loss_weights={"genre": 0.4},
        )


# ------------------------------------------------------------------ the model


def test_model_loss_with_zero_weights_equals_plain_and_partial_credit_lowers_it():
    data, genres = two_tastes()
    plain = model_on(data)
    zero = model_on(data, metadata_for_loss={"genre": genres}, metadata_for_loss_weights={"genre": 0.0})
    full = model_on(data, metadata_for_loss={"genre": genres}, metadata_for_loss_weights={"genre": 1.0})
    batch = next(iter(plain.train_dataloader()))
    losses = [model._batch_loss(batch)[0] for model in (plain, zero, full)]  # same seed: same initial weights
    assert torch.equal(losses[0], losses[1])
    assert losses[2].item() < losses[0].item()


def test_fit_with_partial_credit_learns_the_tastes_and_round_trips(tmp_path):
    data, genres = two_tastes()
    model = model_on(data, metadata_for_loss={"genre": genres}, metadata_for_loss_weights={"genre": 0.5})
    CourseTrainer(model, max_epochs=15, enable_progress_bar=False).fit(model)
    model.eval()
    scores = model.score_all_items(torch.arange(NUM_USERS))
    own = torch.from_numpy(genres[:, 1]).bool()[None, :] == (torch.arange(NUM_USERS) % 2 == 1)[:, None]
    # every user's own-taste items score above the other taste's, on average
    assert (scores[own].view(NUM_USERS, -1).mean(1) > scores[~own].view(NUM_USERS, -1).mean(1)).float().mean() > 0.9

    loaded = load_model(model.save_model(tmp_path / "partial.pt"))
    assert torch.equal(loaded.loss_metadata.genre, torch.from_numpy(genres))
    assert loaded._loss_weights == {"genre": 0.5}
    assert torch.equal(loaded.score_all_items(torch.arange(NUM_USERS)), scores)
    batch = next(iter(model.train_dataloader()))
    assert torch.equal(loaded._batch_loss(batch)[0], model._batch_loss(batch)[0])  # it trains with the same loss


def test_a_plain_model_has_no_loss_metadata(tmp_path):
    data, _ = two_tastes()
    model = model_on(data)
    assert "metadata_for_loss_weights" not in model.hparams
    assert not any(key.startswith("loss_metadata") for key in model.state_dict())
    assert "metadata_for_loss_features" not in load_model(model.save_model(tmp_path / "plain.pt"))._config()


# ------------------------------------------------------------------ the course's recipe


def test_partial_credit_recipe_names_its_metadata_and_builds_the_genre_matrix():
    import json

    from coursekit.course.recipes import PARTIAL_CREDIT, RECIPES
    from coursekit.metadata import movielens_item_metadata

    assert RECIPES["partial_credit"] is PARTIAL_CREDIT
    json.dumps(PARTIAL_CREDIT.settings())  # plain values: artefacts are keyed by them
    data, _ = two_tastes()
    model = PARTIAL_CREDIT.build(data, seed=0)
    expected = movielens_item_metadata(num_items=NUM_ITEMS).select("genre:").values
    assert model.loss_metadata.genre.shape == (NUM_ITEMS, 19)
    assert np.array_equal(model.loss_metadata.genre.numpy(), expected)
    assert model._loss_weights == {"genre": 0.4}
    with pytest.raises(KeyError, match="movielens_genres"):
        PARTIAL_CREDIT.replace(metadata_for_loss={"genre": "imdb_genres"}).build(data, seed=0)


def test_a_file_whose_metadata_shapes_disagree_fails_clearly(tmp_path):
    data, genres = two_tastes()
    model = model_on(data, metadata_for_loss={"genre": genres}, metadata_for_loss_weights={"genre": 0.5})
    path = model.save_model(tmp_path / "partial.pt")
    payload = torch.load(path, weights_only=True)
    assert payload["config"]["metadata_for_loss_features"] == {"genre": 2}
    payload["config"]["metadata_for_loss_features"] = {"genre": 5}  # claims a wider matrix than it stores
    torch.save(payload, tmp_path / "damaged.pt")
    with pytest.raises(ValueError, match=r"damaged.*loss_metadata.genre"):
        load_model(tmp_path / "damaged.pt")
    del payload["state_dict"]["loss_metadata.genre"]  # the matrix itself missing
    payload["config"]["metadata_for_loss_features"] = {"genre": 2}
    torch.save(payload, tmp_path / "missing.pt")
    with pytest.raises(ValueError, match=r"damaged.*loss_metadata.genre"):
        load_model(tmp_path / "missing.pt")
