"""The model package's structure: the score as a plain nn.Module, persistence through a registry, file checks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from coursekit.interactions import InteractionsDataLoader
from coursekit.losses import hinge
from coursekit.model import CourseTrainer, MatrixFactorizationModel, PopularityModel, load_model
from coursekit.model.factorization import MatrixFactorization
from tests.contracts import synthetic_interactions


def hand_written_epoch(train, seed: int = 0) -> MatrixFactorization:
    """Lesson 03's loop, verbatim: one epoch of training without Lightning."""
    net = MatrixFactorization(train.num_users, train.num_items, embedding_dim=30, seed=seed)
    loader = InteractionsDataLoader(train, batch_size=1024, shuffle=True, seed=seed)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
    for (users, positives), negatives in loader:
        items = torch.cat([positives[:, None], negatives], dim=1)  # [B, 1 + N]: the positive first
        scores = net(users[:, None], items)  # [B, 1 + N]
        loss = hinge(scores[:, 0], scores[:, 1:])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return net


def mean_loss(net, train, seed: int = 5) -> float:
    loader = InteractionsDataLoader(train, batch_size=4096, seed=seed)
    with torch.no_grad():
        losses = [hinge(*_split(net(u[:, None], torch.cat([p[:, None], n], 1)))) for (u, p), n in loader]
    return float(torch.stack(losses).mean())


def _split(scores):
    return scores[:, 0], scores[:, 1:]


def test_the_lesson_loop_trains_one_epoch():
    train = synthetic_interactions(num_users=2000, num_items=80, density=0.2, num_negative_samples=5)
    untrained = MatrixFactorization(train.num_users, train.num_items, embedding_dim=30, seed=0)
    net = hand_written_epoch(train, seed=0)
    assert mean_loss(net, train) < mean_loss(untrained, train) - 0.01
    again = hand_written_epoch(train, seed=0)
    # Seeded: the same run again (up to the order of gradient sums, which plain CPU autograd does not fix).
    torch.testing.assert_close(again.item_embeddings.weight, net.item_embeddings.weight, rtol=1e-4, atol=1e-6)


def test_lightning_module_trains_the_same_nn_module_as_a_hand_loop():
    train = synthetic_interactions(num_negative_samples=4)
    model = MatrixFactorizationModel(
        train, embedding_dim=5, lr=1e-2, bias_optimizer=None, lr_scheduler_func=None, loss=hinge, batch_size=32, seed=7
    )
    net = MatrixFactorization(train.num_users, train.num_items, embedding_dim=5, seed=7)
    torch.testing.assert_close(net.item_embeddings.weight, model.item_embeddings.weight, rtol=0, atol=0)
    assert [n for n, _ in model.named_parameters()] == ["factorization." + n for n, _ in net.named_parameters()]
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
    for (users, positives), negatives in InteractionsDataLoader(train, batch_size=32, shuffle=True, seed=8):
        scores = net(users[:, None], torch.cat([positives[:, None], negatives], dim=1))
        optimizer.zero_grad()
        hinge(scores[:, 0], scores[:, 1:]).backward()
        optimizer.step()
    CourseTrainer(max_epochs=1, enable_progress_bar=False).fit(model)  # its loader is seeded seed + 1
    for name, parameter in net.named_parameters():
        # Lightning's Adam is the fused kernel: the same update, rounded differently.
        torch.testing.assert_close(model.factorization.get_parameter(name), parameter, rtol=1e-4, atol=1e-6)


def test_module_forward_broadcasts_and_matches_score_all_items():
    net = MatrixFactorization(6, 9, embedding_dim=3, seed=1).eval()
    with torch.no_grad():
        net.item_biases.weight.copy_(torch.arange(9.0)[:, None])
        grid = net(torch.arange(6)[:, None], torch.arange(9)[None, :])
    torch.testing.assert_close(grid, net.score_all_items(torch.arange(6)))
    u, i = 4, 7
    expected = net.user_embeddings.weight[u] @ net.item_embeddings.weight[i] + net.item_biases.weight[i, 0]
    torch.testing.assert_close(grid[u, i], expected)


# -- optimizers ------------------------------------------------------------------------------------


def test_optimizers_that_need_a_closure_are_rejected_at_construction():
    with pytest.raises(ValueError, match="optimizer=.*LBFGS.*closure"):
        MatrixFactorizationModel(synthetic_interactions(), optimizer=torch.optim.LBFGS)
    with pytest.raises(ValueError, match="bias_optimizer=.*closure"):
        MatrixFactorizationModel(synthetic_interactions(), bias_optimizer=torch.optim.LBFGS)


# -- model files -----------------------------------------------------------------------------------


@pytest.fixture
def saved(tmp_path):
    model = MatrixFactorizationModel(synthetic_interactions(), embedding_dim=4, seed=0)
    return model, model.save_model(tmp_path / "mf.pt")


def rewrite(path, change):
    payload = torch.load(path, weights_only=True)
    change(payload)
    torch.save(payload, path)
    return path


def test_a_file_from_before_the_module_split_still_loads(saved):
    model, path = saved

    def as_format_1(payload):
        payload["format_version"] = 1
        del payload["config_version"]
        payload["state_dict"] = {k.replace("factorization.", ""): v for k, v in payload["state_dict"].items()}

    loaded = load_model(rewrite(path, as_format_1))
    users = torch.arange(model.num_users)
    torch.testing.assert_close(loaded.score_all_items(users), model.score_all_items(users), rtol=0, atol=0)
    fresh = MatrixFactorizationModel(synthetic_interactions(), embedding_dim=4, seed=1)
    torch.testing.assert_close(fresh.load_weights(path).item_embeddings.weight, model.item_embeddings.weight)


def test_a_file_from_another_version_of_the_class_names_file_and_versions(saved):
    _, path = saved
    rewrite(path, lambda p: p.update(config_version=7))
    with pytest.raises(ValueError, match=rf"{path.name}.*another version of MatrixFactorizationModel.*7.*1"):
        load_model(path)


def test_settings_the_class_no_longer_takes_fail_clearly(saved):
    _, path = saved
    rewrite(path, lambda p: p["config"].update(colour="blue"))
    with pytest.raises(ValueError, match=rf"{path.name}.*cannot rebuild.*colour"):
        load_model(path)


def test_a_newer_file_format_asks_for_an_upgrade(saved):
    _, path = saved
    rewrite(path, lambda p: p.update(format_version=99))
    with pytest.raises(ValueError, match=rf"{path.name}.*newer coursekit.*99"):
        load_model(path)


@pytest.mark.parametrize("field", ["num_users", "num_items", "embedding_dim"])
def test_huge_sizes_in_a_small_file_are_refused_before_allocating(saved, field):
    _, path = saved
    rewrite(path, lambda p: p["config"].update({field: 10**12}))
    assert path.stat().st_size < 20_000
    with pytest.raises(ValueError, match=rf"{path.name} is damaged.*shape"):
        load_model(path)


def test_a_seen_matrix_that_does_not_fit_is_refused(tmp_path):
    path = PopularityModel(synthetic_interactions()).save_model(tmp_path / "pop.pt")
    rewrite(path, lambda p: p["config"].update(num_users=10**12))
    with pytest.raises(ValueError, match="seen-items matrix does not fit"):
        load_model(path)


def test_every_model_class_registers_itself_for_persistence(tmp_path):
    from coursekit.model import persistence

    class TinyModel(PopularityModel):
        pass

    assert persistence._model_classes()["TinyModel"] is TinyModel
    model = TinyModel(synthetic_interactions())
    loaded = load_model(model.save_model(tmp_path / "tiny.pt"))
    assert type(loaded) is TinyModel
    np.testing.assert_array_equal(loaded.popularity.numpy(), model.popularity.numpy())


# -- the loss that trains ----------------------------------------------------------------------------


def test_the_adaptive_switch_is_printed_once_and_named(capsys):
    from coursekit.model import matrix_factorization

    matrix_factorization._ANNOUNCED.clear()
    data = synthetic_interactions(num_negative_samples=3)
    model = MatrixFactorizationModel(data, loss="hinge")
    MatrixFactorizationModel(data, loss="hinge")
    printed = capsys.readouterr().out
    assert printed.count("loss='hinge' with 3 negatives trains adaptive_hinge") == 1
    assert model.loss_name == "adaptive_hinge"
    assert MatrixFactorizationModel(data, loss="adaptive_hinge").loss_name == "adaptive_hinge"
    assert MatrixFactorizationModel(data, loss=hinge).loss_name == "hinge"  # a function is never switched
    one = synthetic_interactions(num_negative_samples=1)
    assert MatrixFactorizationModel(one, loss="hinge").loss_name == "hinge"
    assert capsys.readouterr().out == ""


# -- the one seen-items flag -------------------------------------------------------------------------


def test_get_user_predictions_ranks_users_for_an_item():
    data = synthetic_interactions()
    model = MatrixFactorizationModel(data, embedding_dim=4, seed=0).eval()
    item = 5
    predictions = model.get_user_predictions(item)
    expected = model.score_all_items(torch.arange(data.num_users))[:, item].numpy()
    assert sorted(predictions.index) == list(range(data.num_users)) and predictions.is_monotonic_decreasing
    np.testing.assert_allclose(predictions.to_numpy(), expected[predictions.index.to_numpy()], rtol=1e-5, atol=1e-6)
    unseen = model.get_user_predictions(item, unseen_items_only=True, batch_size=7)
    assert set(unseen.index) == set(range(data.num_users)) - set(np.flatnonzero(data.mat[:, item].toarray()))


def test_recommend_takes_the_shared_flag_and_warns_about_its_old_default():
    data = synthetic_interactions()
    model = PopularityModel(data)
    seen = set(data.mat[0].indices)
    with pytest.warns(FutureWarning, match="unseen_items_only=True to keep"):
        default = model.recommend(0, k=5)
    assert not seen & set(default.item_id)  # this release: still leaves seen items out
    with pytest.warns(DeprecationWarning, match="exclude_seen"):
        old = model.recommend(0, k=5, exclude_seen=False)
    assert list(old.item_id) == list(model.get_item_predictions(0).index[:5])
    with pytest.raises(TypeError, match="unseen_items_only must be True or False"):
        model.get_item_predictions(0, unseen_items_only="yes")


# -- Collie's names ----------------------------------------------------------------------------------


def test_bias_optimizer_and_bias_lr_infer_follow_the_vectors():
    model = MatrixFactorizationModel(
        synthetic_interactions(), lr=0.03, bias_lr="infer", optimizer="adagrad", bias_optimizer="infer"
    )
    (vectors, biases), _ = model.configure_optimizers()
    assert isinstance(vectors, torch.optim.Adagrad) and isinstance(biases, torch.optim.Adagrad)
    assert biases.param_groups[0]["lr"] == 0.03 and model.hparams.bias_lr == 0.03
    assert model.hparams.bias_optimizer == "adagrad"


def test_loaders_report_the_size_of_their_data():
    data = synthetic_interactions()
    loader = InteractionsDataLoader(data, batch_size=16)
    assert (loader.num_users, loader.num_items, loader.num_interactions) == (
        data.num_users,
        data.num_items,
        data.num_interactions,
    )


def test_interactions_tail_is_the_end_of_head():
    data = synthetic_interactions(with_timestamps=True)
    everything = data.head(len(data))
    tail = data.tail(4)
    assert list(tail.index) == list(range(len(data) - 4, len(data)))
    assert tail.equals(everything.iloc[-4:])
    assert len(data.tail(0)) == 0 and len(data.tail(10**6)) == len(data)
