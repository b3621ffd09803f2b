import functools
import inspect
import math

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from coursekit import _ranking_engine
from coursekit.metrics import auc, evaluate_in_batches, mae, mapk, mrr, ndcg, precision, recall, rmse

NEG_INF = float("-inf")
ALL_METRICS = [mapk, mrr, auc, ndcg, precision, recall]


# ------------------------------------------------------------------ brute-force reference


def reference_row(scores, targets, k):
    """Every metric for one user, by plain Python loops over a sorted list (checks the definitions)."""
    n = len(scores)
    unmasked = [i for i in range(n) if scores[i] != NEG_INF]
    relevant = {i for i in unmasked if targets[i]}
    negatives = [i for i in unmasked if i not in relevant]
    ranking = sorted(range(n), key=lambda i: (-scores[i], i))  # ties: lower item index first
    hits = [1 if i in relevant else 0 for i in ranking[:k]]

    out = {"precision": sum(hits) / k}
    out["recall"] = sum(hits) / len(relevant) if relevant else 0.0
    total, found = 0.0, 0
    for position, hit in enumerate(hits, start=1):
        if hit:
            found += 1
            total += found / position
    out["mapk"] = total / min(k, len(relevant)) if relevant else 0.0
    dcg = sum(hit / math.log2(position + 1) for position, hit in enumerate(hits, start=1))
    idcg = sum(1 / math.log2(position + 1) for position in range(1, min(k, len(relevant)) + 1))
    out["ndcg"] = dcg / idcg if relevant else 0.0
    out["mrr"] = 0.0
    for position, item in enumerate(ranking, start=1):
        if item in relevant:
            out["mrr"] = 1 / position
            break
    if relevant and negatives:
        correct = 0.0
        for p in relevant:
            for q in negatives:
                correct += 1.0 if scores[p] > scores[q] else 0.5 if scores[p] == scores[q] else 0.0
        out["auc"] = correct / (len(relevant) * len(negatives))
    else:
        out["auc"] = 0.5
    return out


def reference(scores, targets, k):
    scores = scores.tolist()
    targets = targets.tolist()
    rows = [reference_row(s, tg, k) for s, tg in zip(scores, targets)]
    return {name: np.array([row[name] for row in rows]) for name in rows[0]}


def random_batch(rng, num_users, num_items, target_rate=0.2, mask_rate=0.2, ties=False):
    if ties:
        scores = rng.integers(0, 4, size=(num_users, num_items)).astype(np.float32)
    else:
        scores = rng.standard_normal((num_users, num_items)).astype(np.float32)
    targets = rng.random((num_users, num_items)) < target_rate
    targets[0, :] = False
    targets[0, rng.integers(num_items)] = True  # a user with exactly one relevant item
    mask = rng.random((num_users, num_items)) < mask_rate
    scores[mask] = NEG_INF
    return torch.from_numpy(scores), torch.from_numpy(targets)


# ------------------------------------------------------------------ single metrics


def test_hand_computed_example():
    scores = torch.tensor([[0.9, 0.8, 0.7, 0.6, 0.5]])
    targets = torch.tensor([[False, True, False, True, False]])
    # ranked relevance: 0 1 0 1 0
    assert precision(scores, targets, k=3).item() == pytest.approx(1 / 3)
    assert recall(scores, targets, k=3).item() == pytest.approx(1 / 2)
    assert mapk(scores, targets, k=3).item() == pytest.approx((1 / 2) / 2)
    assert mrr(scores, targets).item() == pytest.approx(1 / 2)
    assert ndcg(scores, targets, k=3).item() == pytest.approx((1 / math.log2(3)) / (1 + 1 / math.log2(3)))
    # pairs: 0.8 beats 0.7 and 0.5; 0.6 beats 0.5 -> 3 of 6
    assert auc(scores, targets).item() == pytest.approx(0.5)


def test_masking_removes_items_from_ranking_and_negatives():
    scores = torch.tensor([[NEG_INF, 0.8, 0.7, 0.6, 0.5]])
    targets = torch.tensor([[False, True, False, True, False]])
    # ranked relevance 1 0 1 0 (masked last)
    assert precision(scores, targets, k=3).item() == pytest.approx(2 / 3)
    assert mapk(scores, targets, k=3).item() == pytest.approx((1 + 2 / 3) / 2)
    assert mrr(scores, targets).item() == 1.0
    # negatives are only 0.7 and 0.5 now: 3 of 4 pairs
    assert auc(scores, targets).item() == pytest.approx(3 / 4)


def test_masked_target_is_never_relevant():
    scores = torch.tensor([[NEG_INF, 0.8, 0.7, 0.6]])
    targets = torch.tensor([[True, False, True, False]])
    # only item 2 is relevant: rank 2
    assert mrr(scores, targets).item() == pytest.approx(0.5)
    assert recall(scores, targets, k=2).item() == 1.0
    assert auc(scores, targets).item() == pytest.approx(1 / 2)


def test_ties_break_by_item_index_and_auc_gives_half_credit():
    scores = torch.ones(1, 4)
    targets = torch.tensor([[False, False, True, False]])
    assert mrr(scores, targets).item() == pytest.approx(1 / 3)
    assert precision(scores, targets, k=2).item() == 0.0
    assert precision(scores, targets, k=3).item() == pytest.approx(1 / 3)
    assert auc(scores, targets).item() == pytest.approx(0.5)


def test_users_without_relevant_items_or_negatives():
    scores = torch.tensor([[0.3, 0.2, 0.1], [0.3, 0.2, NEG_INF]])
    targets = torch.tensor([[False, False, False], [True, True, False]])
    for metric in (mapk, mrr, ndcg, precision, recall):
        assert metric(scores, targets, k=2)[0].item() == 0.0
    assert auc(scores, targets).tolist() == [0.5, 0.5]


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("k", [1, 3, 10, 50])
def test_metrics_match_brute_force(ties, k):
    rng = np.random.default_rng(k + 100 * ties)
    scores, targets = random_batch(rng, num_users=30, num_items=25, ties=ties)
    expected = reference(scores, targets, k)
    for metric in ALL_METRICS:
        got = metric(scores, targets, k=k)
        assert got.dtype == torch.float64 and got.shape == (30,)
        np.testing.assert_allclose(
            got.numpy(), expected[metric.__name__], rtol=1e-12, atol=1e-12, err_msg=metric.__name__
        )
        assert ((got >= 0) & (got <= 1)).all()


def test_masking_changes_results_like_removing_items():
    rng = np.random.default_rng(7)
    scores, targets = random_batch(rng, num_users=20, num_items=15, mask_rate=0.0)
    keep = torch.arange(15) >= 5
    masked = scores.clone()
    masked[:, ~keep] = NEG_INF
    # masking the first five items is the same as deleting them (targets there are ignored)
    for metric in ALL_METRICS:
        a = metric(masked, targets, k=4)
        b = metric(scores[:, keep], targets[:, keep], k=4)
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)
    assert not torch.equal(auc(masked, targets), auc(scores, targets))


@pytest.mark.parametrize("metric", ALL_METRICS)
def test_metric_input_errors(metric):
    with pytest.raises(ValueError, match="shape"):
        metric(torch.zeros(2, 3), torch.zeros(2, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match="NaN"):
        metric(torch.tensor([[float("nan"), 0.0]]), torch.tensor([[True, False]]))
    with pytest.raises(TypeError):
        metric(torch.zeros(2, 3, dtype=torch.int64), torch.zeros(2, 3, dtype=torch.bool))


@pytest.mark.parametrize("metric", [mapk, ndcg, precision, recall])
def test_k_must_be_positive(metric):
    with pytest.raises(ValueError, match="k"):
        metric(torch.zeros(1, 3), torch.ones(1, 3, dtype=torch.bool), k=0)


score_values = st.sampled_from([NEG_INF, -1.0, 0.0, 0.5, 1.0, 2.0])


@settings(max_examples=50, deadline=None)
@given(
    data=st.data(),
    num_users=st.integers(1, 4),
    num_items=st.integers(1, 8),
    k=st.integers(1, 10),
)
def test_property_metrics_in_unit_interval_and_match_reference(data, num_users, num_items, k):
    def matrix(values):
        row = st.lists(values, min_size=num_items, max_size=num_items)
        return data.draw(st.lists(row, min_size=num_users, max_size=num_users))

    scores = torch.tensor(matrix(score_values), dtype=torch.float32)
    targets = torch.tensor(matrix(st.booleans()), dtype=torch.bool)
    expected = reference(scores, targets, k)
    for metric in ALL_METRICS:
        got = metric(scores, targets, k=k)
        assert ((got >= 0) & (got <= 1)).all()
        np.testing.assert_allclose(
            got.numpy(), expected[metric.__name__], rtol=1e-12, atol=1e-12, err_msg=metric.__name__
        )


# ------------------------------------------------------------------ the definitions are what learners read


@pytest.mark.parametrize("metric", ALL_METRICS)
def test_definitions_are_short_and_show_their_formula(metric):
    source = inspect.getsource(metric)
    assert len(source.splitlines()) <= 22, f"{metric.__name__} is no longer a short definition"
    assert "_ranking_engine" not in source  # the definition computes, it does not call the engine
    formula = {
        "mapk": "P@i",
        "mrr": "1 / rank_first",
        "auc": "s_p > s_q",
        "ndcg": "log2(i + 1)",
        "precision": "rel_i / k",
        "recall": "n_relevant",
    }[metric.__name__]
    assert formula in metric.__doc__


# ------------------------------------------------------------------ the engine agrees with the definitions


def engine_and_definitions_agree(scores, targets, k):
    for metric in ALL_METRICS:
        definition = metric(scores, targets, k=k)
        engine = _ranking_engine.batch_metric(metric.__name__, scores, targets, k=k)
        assert engine.dtype == definition.dtype == torch.float64 and engine.shape == definition.shape
        np.testing.assert_allclose(engine.numpy(), definition.numpy(), rtol=1e-12, atol=1e-12, err_msg=metric.__name__)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("ties", [False, True])
def test_engine_agrees_with_definitions_on_random_batches(seed, ties):
    rng = np.random.default_rng(seed + 10 * ties)
    num_items = [7, 40, 150, 400, 25, 300][seed]  # 150 and up: rows past the searchsorted threshold
    scores, targets = random_batch(rng, num_users=int(rng.integers(1, 40)), num_items=num_items, ties=ties)
    scores[rng.random(scores.shape) < 0.02] = float("inf")  # the model itself may return +inf
    targets[-1] = torch.from_numpy(
        rng.random(num_items) < 0.9
    )  # a user with many relevant items (the searchsorted path)
    for k in (1, 5, num_items, num_items + 7):
        engine_and_definitions_agree(scores, targets, k)


@settings(max_examples=60, deadline=None)
@given(data=st.data(), num_users=st.integers(1, 4), num_items=st.integers(1, 9), k=st.integers(1, 12))
def test_property_engine_agrees_with_definitions(data, num_users, num_items, k):
    values = st.sampled_from([NEG_INF, -1.0, 0.0, 0.5, 1.0, float("inf")])
    rows = st.lists(st.lists(values, min_size=num_items, max_size=num_items), min_size=num_users, max_size=num_users)
    flags = st.lists(
        st.lists(st.booleans(), min_size=num_items, max_size=num_items), min_size=num_users, max_size=num_users
    )
    scores = torch.tensor(data.draw(rows), dtype=torch.float32)
    targets = torch.tensor(data.draw(flags), dtype=torch.bool)
    engine_and_definitions_agree(scores, targets, k)


# ------------------------------------------------------------------ explicit ratings


def test_rmse_and_mae():
    predicted, observed = torch.tensor([3.0, 4.0, 1.0]), torch.tensor([4.0, 4.0, 3.0])
    assert rmse(predicted, observed).item() == pytest.approx(math.sqrt((1 + 0 + 4) / 3))
    assert mae(predicted, observed).item() == pytest.approx(1.0)
    assert mae([2, 2], np.array([2.0, 2.0])).item() == 0.0
    with pytest.raises(ValueError, match="same non-empty shape"):
        rmse(torch.zeros(3), torch.zeros(2))
    with pytest.raises(ValueError, match="finite"):
        mae(torch.tensor([float("nan")]), torch.tensor([1.0]))


# ------------------------------------------------------------------ evaluate_in_batches


class FakeInteractions:
    def __init__(self, mat):
        self.mat = sp.csr_matrix(mat)
        self.num_users, self.num_items = self.mat.shape


class FakeModel:
    """Fixed random scores; records which users were scored and whether grad was on."""

    def __init__(self, scores):
        self.scores = scores
        self.num_users, self.num_items = scores.shape
        self.calls = []

    def score_all_items(self, user_ids):
        self.calls.append((user_ids.clone(), torch.is_grad_enabled()))
        return self.scores[user_ids]


def make_setup(seed=0, num_users=40, num_items=30):
    rng = np.random.default_rng(seed)
    test = (rng.random((num_users, num_items)) < 0.1).astype(np.float32)
    test[:5] = 0  # users without test items
    test[5] = 0
    test[5, 3] = 1  # a user with a single test item
    train = (rng.random((num_users, num_items)) < 0.3) & (test == 0)
    scores = torch.from_numpy(rng.standard_normal((num_users, num_items)).astype(np.float32))
    return FakeInteractions(test), FakeInteractions(train.astype(np.float32)), FakeModel(scores)


def expected_means(model, test, train=None, k=10):
    scores = model.scores.clone()
    if train is not None:
        scores[torch.from_numpy(train.mat.toarray() > 0)] = NEG_INF
    targets = torch.from_numpy(test.mat.toarray() > 0)
    has_test = targets.any(dim=1)
    ref = reference(scores[has_test], targets[has_test], k)
    return {name: values.mean() for name, values in ref.items()}


def test_evaluate_matches_reference_and_skips_users_without_test_items():
    test, _, model = make_setup()
    names = ["mapk", "mrr", "auc", "ndcg", "precision", "recall"]
    got = evaluate_in_batches(ALL_METRICS, test, model, k=5, progress=False)
    expected = expected_means(model, test, k=5)
    assert got == pytest.approx([expected[n] for n in names], rel=1e-12)
    scored = torch.cat([users for users, _ in model.calls])
    assert sorted(scored.tolist()) == np.flatnonzero(test.mat.getnnz(axis=1)).tolist()
    assert not any(grad for _, grad in model.calls)


def test_reference_usage_unpacks_three_scores():
    test, _, model = make_setup()
    mapk_score, mrr_score, auc_score = evaluate_in_batches([mapk, mrr, auc], test, model)
    expected = expected_means(model, test, k=10)
    assert (mapk_score, mrr_score, auc_score) == pytest.approx((expected["mapk"], expected["mrr"], expected["auc"]))


def test_train_interactions_are_masked():
    test, train, model = make_setup(seed=1)
    unmasked = evaluate_in_batches(ALL_METRICS, test, model, k=5)
    masked = evaluate_in_batches(ALL_METRICS, test, model, k=5, train_interactions=train)
    expected = expected_means(model, test, train, k=5)
    assert masked == pytest.approx([expected[m.__name__] for m in ALL_METRICS], rel=1e-12)
    assert masked != pytest.approx(unmasked)
    # the model's own tensor was not modified
    assert not torch.isneginf(model.scores).any()


@pytest.mark.parametrize("batch_size", [1, 3, 7, 1000])
def test_batch_size_does_not_change_results(batch_size):
    test, train, model = make_setup(seed=2)
    baseline = evaluate_in_batches(ALL_METRICS, test, model, k=4, batch_size=35, train_interactions=train)
    model.calls.clear()
    got = evaluate_in_batches(
        ALL_METRICS, test, model, k=4, batch_size=batch_size, train_interactions=train, progress=False
    )
    assert got == pytest.approx(baseline, rel=1e-13, abs=1e-15)
    num_test_users = int((test.mat.getnnz(axis=1) > 0).sum())
    assert len(model.calls) == math.ceil(num_test_users / batch_size)
    assert max(len(users) for users, _ in model.calls) <= batch_size


def test_k_is_passed_unless_a_partial_fixes_it():
    test, _, model = make_setup(seed=3)
    [at_one] = evaluate_in_batches([precision], test, model, k=1)
    at_five, fixed_one = evaluate_in_batches([precision, functools.partial(precision, k=1)], test, model, k=5)
    assert fixed_one == pytest.approx(at_one)
    assert at_five != pytest.approx(at_one)


def test_metric_without_k_parameter_and_logger():
    test, _, model = make_setup(seed=4)

    def hit_rate(scores, targets):
        top = scores.argmax(dim=1, keepdim=True)
        return targets.gather(1, top).squeeze(1).to(torch.float64)

    class Logger:
        def log_metrics(self, metrics):
            self.logged = metrics

    logger = Logger()
    hit, auc_score = evaluate_in_batches([hit_rate, auc], test, model, logger=logger)
    assert 0.0 <= hit <= 1.0
    assert logger.logged == {"hit_rate": hit, "auc": auc_score}


def test_real_interactions_object():
    interactions_module = pytest.importorskip("coursekit.interactions")
    test, train, model = make_setup(seed=5)
    coo = test.mat.tocoo()
    real = interactions_module.Interactions(
        users=coo.row, items=coo.col, num_users=40, num_items=30, allow_missing_ids=True, num_negative_samples=1
    )
    expected = evaluate_in_batches([mapk, auc], test, model)
    assert evaluate_in_batches([mapk, auc], real, model) == pytest.approx(expected)


def test_evaluate_errors():
    test, train, model = make_setup()
    with pytest.raises(ValueError, match="metric_list"):
        evaluate_in_batches([], test, model)
    with pytest.raises(TypeError, match="metric_list"):
        evaluate_in_batches(mapk, test, model)
    with pytest.raises(TypeError, match="callable"):
        evaluate_in_batches([mapk, "mrr"], test, model)
    for bad_k in (0, -3):
        with pytest.raises(ValueError, match="k"):
            evaluate_in_batches([mapk], test, model, k=bad_k)
    with pytest.raises(ValueError, match="batch_size"):
        evaluate_in_batches([mapk], test, model, batch_size=0)
    wide = FakeInteractions(sp.csr_matrix((40, 31)))
    with pytest.raises(ValueError, match=r"\(40, 31\).*\(40, 30\)"):
        evaluate_in_batches([mapk], wide, model)
    with pytest.raises(ValueError, match=r"train_interactions.*\(40, 31\).*\(40, 30\)"):
        evaluate_in_batches([mapk], test, model, train_interactions=wide)
    with pytest.raises(ValueError, match="no interactions"):
        evaluate_in_batches([mapk], FakeInteractions(sp.csr_matrix((40, 30))), model)


# ------------------------------------------------------------------ fast paths (wide rows, many relevant items)


@pytest.mark.parametrize("ties", [False, True])
def test_top_k_items_match_a_stable_sort_on_wide_rows(ties):
    # Wide enough for the blockwise top-k (with a partial last block); ties straddle the cut-off.
    from coursekit._ranking_engine import _top_k_items

    rng = np.random.default_rng(11 + ties)
    scores, _ = random_batch(rng, num_users=12, num_items=3001, ties=ties)
    scores[3, :] = NEG_INF  # every item masked
    scores[4, 2990:] = 10.0  # the best items in the partial last block
    for k in (1, 10, 37):
        expected = torch.sort(scores, dim=1, descending=True, stable=True).indices[:, :k]
        assert torch.equal(_top_k_items(scores, k), expected)


def test_evaluate_matches_reference_with_ties_infinities_and_many_relevant_items():
    # Rows with hundreds of relevant items take the searchsorted path, the others one pass per item;
    # the model itself returns -inf and +inf, and some test items are also training items.
    rng = np.random.default_rng(12)
    num_users, num_items = 12, 400
    scores = torch.from_numpy(rng.integers(0, 6, size=(num_users, num_items)).astype(np.float32))
    scores[1, :5] = NEG_INF
    scores[2, 7] = float("inf")
    test = rng.random((num_users, num_items)) < np.linspace(0.02, 0.8, num_users)[:, None]
    test[2, 7] = True
    train = rng.random((num_users, num_items)) < 0.2
    test_x, train_x, model = FakeInteractions(test), FakeInteractions(train), FakeModel(scores)
    assert test.sum(axis=1).max() > 200
    for batch_size in (5, 64):
        got = evaluate_in_batches(ALL_METRICS, test_x, model, k=7, batch_size=batch_size, train_interactions=train_x)
        expected = expected_means(model, test_x, train_x, k=7)
        assert got == pytest.approx([expected[m.__name__] for m in ALL_METRICS], rel=1e-12)


def test_scores_differing_by_a_subnormal_amount_with_denormals_flushed():
    # Normal scores whose difference is subnormal: with flush-to-zero on, s - t == 0 for s != t, so the
    # metrics must not rely on the sign of a difference then.
    tiny = torch.finfo(torch.float32).tiny
    scores = torch.tensor([[1.5 * tiny, tiny, 1.25 * tiny, 2.0 * tiny]])
    targets = torch.tensor([[False, True, False, False]])
    expected = {m.__name__: m(scores, targets, k=2) for m in ALL_METRICS}
    assert expected["auc"].item() == 0.0 and expected["mrr"].item() == 0.25
    if not torch.set_flush_denormal(True):
        pytest.skip("this CPU cannot flush denormals")
    try:
        for metric in ALL_METRICS:
            assert torch.equal(metric(scores, targets, k=2), expected[metric.__name__]), metric.__name__
    finally:
        torch.set_flush_denormal(False)


def test_nan_only_at_masked_items_is_allowed_in_evaluation():
    test, train, model = make_setup(seed=6)
    train_mask = torch.from_numpy(train.mat.toarray() > 0)
    clean = evaluate_in_batches(ALL_METRICS, test, model, k=5, train_interactions=train)
    model.scores = model.scores.clone()
    model.scores[train_mask] = float("nan")  # overwritten by the mask
    assert evaluate_in_batches(ALL_METRICS, test, model, k=5, train_interactions=train) == clean
    model.scores[~train_mask & torch.from_numpy(test.mat.toarray() == 0)] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        evaluate_in_batches(ALL_METRICS, test, model, k=5, train_interactions=train)


class WritingModel(FakeModel):
    """Writes its scores into ``out`` when given one (as MatrixFactorization does)."""

    def __init__(self, scores):
        super().__init__(scores)
        self.outs = []

    def score_all_items(self, user_ids, out=None):
        self.outs.append(None if out is None else out.data_ptr())
        if out is None:
            return super().score_all_items(user_ids)
        self.calls.append((user_ids.clone(), torch.is_grad_enabled()))
        return torch.index_select(self.scores, 0, user_ids, out=out)


@pytest.mark.parametrize("batch_size", [3, 7])
def test_models_that_take_out_score_into_one_reused_buffer(batch_size):
    test, train, model = make_setup(seed=3)
    writer = WritingModel(model.scores)
    kwargs = dict(k=4, batch_size=batch_size, train_interactions=train, progress=False)
    written = evaluate_in_batches(ALL_METRICS, test, writer, **kwargs)
    assert written == evaluate_in_batches(ALL_METRICS, test, model, **kwargs)
    assert writer.outs[0] is None and len(writer.outs) > 2  # the first batch makes the buffer
    assert len(set(writer.outs[1:])) == 1 and writer.outs[1] is not None  # then every batch writes into it
    assert not torch.isneginf(writer.scores).any()


def test_matrix_factorization_scores_into_out():
    from coursekit.model.factorization import MatrixFactorization

    net = MatrixFactorization(6, 9, embedding_dim=3, seed=0)
    with torch.no_grad():
        net.user_biases.weight.normal_()
        net.item_biases.weight.normal_()
    users = torch.tensor([4, 0, 4])
    out = torch.full((3, 9), float("nan"))
    result = net.score_all_items(users, out=out)
    assert result is out and torch.equal(out, net.score_all_items(users))
