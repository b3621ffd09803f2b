"""coursekit.intervals: percentile bootstrap over users, unpaired and paired."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from coursekit.intervals import Interval, PairedBootstrap, bootstrap_interval, paired_bootstrap


def skewed_values(n: int, seed: int = 0) -> np.ndarray:
    # Like per-user MAP@10: many zeros, a long right tail.
    rng = np.random.default_rng(seed)
    return np.where(rng.random(n) < 0.4, 0.0, rng.beta(1.0, 4.0, n))


def test_interval_contains_the_mean_and_reads_as_mean_low_high():
    values = skewed_values(900)
    interval = bootstrap_interval(values, seed=3)
    assert isinstance(interval, Interval)
    assert interval.mean == pytest.approx(values.mean(), abs=1e-15)
    assert interval.low < interval.mean < interval.high and interval.mean in interval
    assert (interval.n, interval.n_resamples, interval.confidence) == (900, 1000, 0.95)
    assert str(interval) == f"{values.mean():.4f} [{interval.low:.4f}, {interval.high:.4f}]"
    # The percentile interval of a mean is close to mean +- 1.96 standard errors for n = 900.
    standard_error = values.std(ddof=1) / np.sqrt(len(values))
    assert interval.width == pytest.approx(2 * 1.96 * standard_error, rel=0.15)


def test_width_shrinks_with_more_users_and_grows_with_confidence():
    widths = [bootstrap_interval(skewed_values(n), seed=0).width for n in (100, 400, 1600)]
    assert widths[0] > widths[1] > widths[2]
    assert widths[0] / widths[2] == pytest.approx(4.0, rel=0.3)  # width ~ 1 / sqrt(n)
    values = skewed_values(500)
    assert (
        bootstrap_interval(values, confidence=0.99, seed=0).width
        > bootstrap_interval(values, confidence=0.8, seed=0).width
    )


def test_same_seed_same_interval_other_seed_other_interval():
    values = skewed_values(300)
    first, again = bootstrap_interval(values, seed=5), bootstrap_interval(values, seed=5)
    assert first == again
    other = bootstrap_interval(values, seed=6)
    assert (other.low, other.high) != (first.low, first.high) and other.mean == first.mean


def test_chunked_resamples_equal_one_big_draw(monkeypatch):
    # Chunks of resamples draw from the same generator in order: the chunk size changes nothing.
    import coursekit.intervals as intervals

    values = skewed_values(50)
    whole = bootstrap_interval(values, n_resamples=300, seed=1)
    monkeypatch.setattr(intervals, "_CHUNK_ELEMENTS", 50 * 7)  # 7 resamples per chunk
    assert bootstrap_interval(values, n_resamples=300, seed=1) == whole


def test_constant_values_give_a_zero_width_interval():
    interval = bootstrap_interval(np.full(37, 0.1), seed=0)
    assert interval.low == interval.mean == interval.high == pytest.approx(0.1)
    assert str(interval) == "0.1000 [0.1000, 0.1000]"


def test_accepts_lists_and_series():
    values = skewed_values(80)
    series = pd.Series(values, index=pd.Index(np.arange(80) * 3, name="user_id"))
    assert bootstrap_interval(series, seed=2) == bootstrap_interval(list(values), seed=2)


def test_paired_difference_is_narrower_than_unpaired_when_users_vary():
    # Two models on the same users: most of each user's value is the user (easy or hard),
    # which the paired bootstrap cancels.
    rng = np.random.default_rng(0)
    user_effect = rng.beta(1.0, 3.0, 600)
    a = np.clip(user_effect + 0.02 * rng.standard_normal(600), 0, 1)
    b = np.clip(user_effect + 0.01 + 0.02 * rng.standard_normal(600), 0, 1)
    paired = paired_bootstrap(a, b, seed=0)
    assert isinstance(paired, PairedBootstrap)
    assert paired.difference.mean == pytest.approx(b.mean() - a.mean())
    assert paired.difference.low > 0 and paired.share_b_better > 0.99
    # Unpaired, the two intervals overlap: side by side they cannot tell the models apart.
    ia, ib = bootstrap_interval(a, seed=0), bootstrap_interval(b, seed=1)
    assert ib.low < ia.high
    assert paired.difference.width < 0.25 * min(ia.width, ib.width)
    # Each model's own interval comes from the same draws.
    assert paired.a.low < a.mean() < paired.a.high and paired.b.low < b.mean() < paired.b.high
    assert "b higher in" in str(paired) and str(paired.difference) in str(paired)


def test_paired_with_no_real_difference_is_undecided():
    rng = np.random.default_rng(1)
    a = rng.random(400)
    b = a + 0.05 * rng.standard_normal(400)
    b = b - (b.mean() - a.mean())  # exactly the same mean
    paired = paired_bootstrap(a, b, seed=4)
    assert paired.difference.low < 0 < paired.difference.high
    assert 0.2 < paired.share_b_better < 0.8
    swapped = paired_bootstrap(b, a, seed=4)
    assert swapped.share_b_better == pytest.approx(1 - paired.share_b_better, abs=0.01)


def test_paired_series_are_aligned_by_user():
    rng = np.random.default_rng(2)
    index = pd.Index([5, 1, 9, 3, 7, 2], name="user_id")
    a = pd.Series(rng.random(6), index=index)
    b = pd.Series(rng.random(6), index=index)
    shuffled = b.iloc[[3, 0, 5, 1, 4, 2]]
    assert paired_bootstrap(a, shuffled, seed=0) == paired_bootstrap(a, b, seed=0)


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="values is empty"):
        bootstrap_interval([], seed=0)
    with pytest.raises(ValueError, match=r"confidence must be in \(0, 1\).*1.5"):
        bootstrap_interval([0.1, 0.2], confidence=1.5, seed=0)
    with pytest.raises(ValueError, match=r"confidence must be in \(0, 1\)"):
        bootstrap_interval([0.1, 0.2], confidence=0.0, seed=0)
    with pytest.raises(TypeError, match="confidence"):
        bootstrap_interval([0.1, 0.2], confidence="95%", seed=0)
    with pytest.raises(ValueError, match="one-dimensional"):
        bootstrap_interval(np.zeros((3, 2)), seed=0)
    with pytest.raises(ValueError, match="finite.*nan"):
        bootstrap_interval([0.1, float("nan")], seed=0)
    with pytest.raises(ValueError, match="n_resamples must be >= 1"):
        bootstrap_interval([0.1], n_resamples=0, seed=0)
    with pytest.raises(ValueError, match="seed must be >= 0"):
        bootstrap_interval([0.1], seed=-1)
    with pytest.raises(ValueError, match="same users, got 3 and 2 values"):
        paired_bootstrap([0.1, 0.2, 0.3], [0.1, 0.2], seed=0)
    with pytest.raises(ValueError, match="b is empty"):
        paired_bootstrap([0.1], [], seed=0)
    a = pd.Series([0.1, 0.2], index=[0, 1])
    with pytest.raises(ValueError, match="same users: 1 users only in a"):
        paired_bootstrap(a, pd.Series([0.1, 0.2], index=[0, 2]), seed=0)
