"""HybridModel: the score's formula, frozen vs fine-tuned embeddings, bad input, save and load."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from coursekit.metadata import Metadata
from coursekit.model import CourseTrainer, MatrixFactorizationModel, load_model
from coursekit.model import hybrid as hybrid_module
from coursekit.model.hybrid import HybridModel
from tests.contracts import synthetic_interactions


@pytest.fixture(scope="module")
def data():
    return synthetic_interactions(num_users=30, num_items=25, density=0.2, seed=4)


@pytest.fixture(scope="module")
def pretrained(data):
    model = MatrixFactorizationModel(data, embedding_dim=4, lr=5e-2, batch_size=32, lr_scheduler_func=None, seed=0)
    CourseTrainer(max_epochs=3, enable_progress_bar=False).fit(model)
    return model.eval()


def item_meta(data, features=3, seed=1):
    return np.random.default_rng(seed).random((data.num_items, features)).astype(np.float32)


def user_meta(data, features=2, seed=2):
    return np.random.default_rng(seed).random((data.num_users, features)).astype(np.float32)


def build(data, pretrained, **kwargs):
    settings = dict(item_metadata=item_meta(data), user_metadata=user_meta(data), batch_size=32, seed=0)
    return HybridModel(data, pretrained=pretrained, **{**settings, **kwargs})


def fit(model, epochs=2):
    CourseTrainer(max_epochs=epochs, enable_progress_bar=False).fit(model)
    return model.eval()


# -- the score -------------------------------------------------------------------------------------


@pytest.mark.parametrize("with_users", [True, False])
def test_score_is_the_mlp_over_the_concatenation_plus_biases(data, pretrained, with_users):
    model = build(data, pretrained, user_metadata=user_meta(data) if with_users else None, combined_layers_dims=(5, 3))
    model = fit(model, epochs=1)  # non-zero layer biases
    users, items = torch.tensor([0, 3, 3, 29]), torch.tensor([1, 1, 24, 7])
    f = model.factorization
    parts = [f.user_embeddings.weight[users]]
    if with_users:
        parts.append(model.user_metadata_layers(model.user_metadata[users]))
    parts += [f.item_embeddings.weight[items], model.item_metadata_layers(model.item_metadata[items])]
    hidden = torch.cat(parts, dim=1)
    *inner, last = model.combined_layers
    for layer in inner:
        hidden = F.leaky_relu(layer(hidden), 0.01)
    expected = last(hidden)[:, 0] + f.user_biases.weight[users, 0] + f.item_biases.weight[items, 0]
    with torch.no_grad():
        torch.testing.assert_close(model(users, items), expected)
        torch.testing.assert_close(model.score_all_items(users)[torch.arange(4), items], expected)


def test_score_all_items_is_the_same_in_any_chunking(data, pretrained, monkeypatch):
    model = build(data, pretrained).eval()
    users = torch.arange(data.num_users)
    whole = model.score_all_items(users)
    monkeypatch.setattr(hybrid_module, "SCORE_CHUNK_ELEMENTS", 1)  # one user per chunk
    torch.testing.assert_close(model.score_all_items(users), whole)
    out = torch.full((data.num_users, data.num_items), float("nan"))
    assert model.score_all_items(users, out=out) is out
    torch.testing.assert_close(out, whole)


def test_raw_metadata_passes_on_without_metadata_layers(data, pretrained):
    model = build(data, pretrained, metadata_layers_dims=(), user_metadata_layers_dims=(), combined_layers_dims=())
    assert model.item_metadata_layers is None and model.user_metadata_layers is None
    assert model.combined_layers[0].weight.shape == (1, 4 + 2 + 4 + 3)
    assert torch.isfinite(model.score_all_items(torch.arange(3))).all()


def test_copies_the_pretrained_embeddings_and_leaves_the_original_alone(data, pretrained):
    before = {k: v.clone() for k, v in pretrained.state_dict().items()}
    model = fit(build(data, pretrained, freeze_embeddings=False))
    for key, value in pretrained.state_dict().items():
        assert torch.equal(value, before[key]), f"training the hybrid changed the pretrained {key}"
    assert not torch.equal(model.item_embeddings.weight, pretrained.item_embeddings.weight)


def test_initial_layers_are_seeded_and_leave_the_global_rng_alone(data, pretrained):
    state = torch.get_rng_state()
    first, second, other = (build(data, pretrained, seed=s) for s in (5, 5, 6))
    assert torch.equal(torch.get_rng_state(), state)
    weights = [m.combined_layers[0].weight for m in (first, second, other)]
    assert torch.equal(weights[0], weights[1]) and not torch.equal(weights[0], weights[2])


# -- frozen and fine-tuned ---------------------------------------------------------------------------


def test_frozen_embeddings_stay_put_and_unfrozen_ones_train(data, pretrained):
    start = {k: v.clone() for k, v in pretrained.factorization.state_dict().items()}
    frozen = fit(build(data, pretrained, freeze_embeddings=True))
    thawed = fit(build(data, pretrained, freeze_embeddings=False))
    assert frozen.embeddings_frozen and not thawed.embeddings_frozen
    for table in ("user_embeddings.weight", "item_embeddings.weight"):
        assert torch.equal(frozen.factorization.state_dict()[table], start[table]), f"frozen {table} changed"
        assert not torch.equal(thawed.factorization.state_dict()[table], start[table]), f"unfrozen {table} unchanged"
    # The biases train either way (as in Collie), and so do the new layers.
    assert not torch.equal(frozen.factorization.state_dict()["item_biases.weight"], start["item_biases.weight"])
    untrained = build(data, pretrained)
    assert not torch.equal(frozen.combined_layers[0].weight, untrained.combined_layers[0].weight)


def test_fine_tuning_starts_from_a_trained_hybrid(data, pretrained):
    frozen = fit(build(data, pretrained))
    tuned = build(data, frozen, freeze_embeddings=False, lr=1e-4)
    users = torch.arange(data.num_users)
    torch.testing.assert_close(tuned.eval().score_all_items(users), frozen.score_all_items(users), rtol=0, atol=0)
    assert not tuned.embeddings_frozen and tuned.hparams.lr == 1e-4
    with pytest.raises(ValueError, match="other layer sizes"):
        build(data, frozen, combined_layers_dims=(7,))
    with pytest.raises(ValueError, match="user_metadata_layers"):  # it has user layers, this one would not
        build(data, frozen, user_metadata=None)


# -- bad input -------------------------------------------------------------------------------------


def test_bad_metadata_fails_clearly(data, pretrained):
    with_nan = item_meta(data)
    with_nan[4, 1] = np.nan
    with pytest.raises(ValueError, match=r"item_metadata holds 1 NaN .*row 4"):
        build(data, pretrained, item_metadata=with_nan)
    with pytest.raises(ValueError, match="item_metadata has 24 rows but the model has 25"):
        build(data, pretrained, item_metadata=item_meta(data)[:-1])
    with pytest.raises(ValueError, match="user_metadata has 31 rows but the model has 30"):
        build(data, pretrained, user_metadata=np.zeros((31, 2)))
    with pytest.raises(ValueError, match="needs item_metadata"):
        build(data, pretrained, item_metadata=None)


def test_metadata_objects_and_frames_are_accepted(data, pretrained):
    values = item_meta(data)
    meta = Metadata(values, ("a", "b", "c"), np.arange(1, data.num_items + 1))
    from_object = build(data, pretrained, item_metadata=meta)
    from_frame = build(data, pretrained, item_metadata=pd.DataFrame(values))
    assert torch.equal(from_object.item_metadata, torch.from_numpy(values))
    assert torch.equal(from_frame.item_metadata, from_object.item_metadata)


def test_pretrained_must_be_a_matching_matrix_factorization(data, pretrained):
    with pytest.raises(TypeError, match="pretrained must be a trained MatrixFactorizationModel"):
        build(data, None)
    other = synthetic_interactions(num_users=30, num_items=26, seed=4)
    with pytest.raises(ValueError, match="pretrained has 30 users x 25 items but train has 30 x 26"):
        HybridModel(other, pretrained=pretrained, item_metadata=np.zeros((25, 2)))


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"optimizer": "lazy_adam"}, ValueError, "also trains dense layers"),
        ({"optimizer": "sparse_adam"}, ValueError, "also trains dense layers"),
        ({"combined_layers_dims": 16}, TypeError, "combined_layers_dims must be a sequence"),
        ({"metadata_layers_dims": (8, 0)}, ValueError, r"metadata_layers_dims\[1\]"),
        ({"dropout": 1.5}, ValueError, "dropout"),
        ({"freeze_embeddings": "yes"}, TypeError, "freeze_embeddings must be True or False"),
        ({"lr": -1.0}, ValueError, "lr must be a non-negative number"),
    ],
)
def test_bad_settings_fail_clearly(data, pretrained, kwargs, error, message):
    with pytest.raises(error, match=message):
        build(data, pretrained, **kwargs)


# -- save and load ----------------------------------------------------------------------------------


@pytest.mark.parametrize("with_users", [True, False])
def test_save_load_keeps_metadata_layers_and_freezing(data, pretrained, tmp_path, with_users):
    model = fit(build(data, pretrained, user_metadata=user_meta(data) if with_users else None, freeze_embeddings=False))
    loaded = load_model(model.save_model(tmp_path / "hybrid.pt"))
    assert isinstance(loaded, HybridModel) and not loaded.embeddings_frozen
    assert torch.equal(loaded.item_metadata, model.item_metadata)
    assert (loaded.user_metadata is None) == (not with_users)
    if with_users:
        assert torch.equal(loaded.user_metadata, model.user_metadata)
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key
    users = torch.arange(data.num_users)
    torch.testing.assert_close(loaded.score_all_items(users), model.score_all_items(users), rtol=0, atol=0)
    assert loaded.hparams.combined_layers_dims == [16] and loaded.hparams.num_item_features == 3


def test_a_damaged_file_fails_before_building(data, pretrained, tmp_path):
    path = build(data, pretrained).save_model(tmp_path / "hybrid.pt")
    payload = torch.load(path, weights_only=True)
    payload["config"]["num_item_features"] = 4  # the stored metadata has 3 columns
    torch.save(payload, path)
    with pytest.raises(ValueError, match="damaged: its settings say item_metadata has shape"):
        load_model(path)
