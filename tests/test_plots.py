import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.collections import PathCollection  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from coursekit import plots  # noqa: E402
from coursekit.interactions import Interactions  # noqa: E402


def small(users, items, **kwargs):
    """A tiny Interactions: gaps allowed, one negative per interaction."""
    return Interactions(users=users, items=items, num_negative_samples=1, allow_missing_ids=True, **kwargs)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


# --- rating distribution -------------------------------------------------------------------


def test_rating_distribution_bars_are_the_counts():
    ratings = np.array([5, 3, 4, 4, 1, 4, 3, 5, 4])
    ax = plots.plot_rating_distribution(ratings)
    bars = [patch for patch in ax.patches if isinstance(patch, Rectangle)]
    assert [bar.get_height() for bar in bars] == [1, 2, 4, 2]
    assert [label.get_text() for label in ax.get_xticklabels()] == ["1", "3", "4", "5"]
    assert [text.get_text() for text in ax.texts] == ["1", "2", "4", "2"]


def test_rating_distribution_labels_large_counts_with_separators():
    ax = plots.plot_rating_distribution(np.repeat([1, 2], [1500, 20_000]))
    assert [text.get_text() for text in ax.texts] == ["1,500", "20,000"]


def test_rating_distribution_draws_on_the_given_axes_and_handles_half_stars():
    _, ax = plt.subplots()
    assert plots.plot_rating_distribution([0.5, 3.5, 3.5], ax=ax) is ax
    assert [label.get_text() for label in ax.get_xticklabels()] == ["0.5", "3.5"]


@pytest.mark.parametrize("bad", [[], [[1, 2], [3, 4]]])
def test_rating_distribution_rejects_empty_or_2d(bad):
    with pytest.raises(ValueError, match="ratings must be a non-empty one-dimensional"):
        plots.plot_rating_distribution(bad)


# --- item popularity -----------------------------------------------------------------------


def test_item_popularity_draws_sorted_counts_on_a_log_scale():
    items = np.array([7] * 5 + [2] * 1 + [9] * 3 + [4] * 1 + [0] * 2)
    ax = plots.plot_item_popularity(items, head_fraction=0.4)
    (line,) = ax.get_lines()
    np.testing.assert_array_equal(line.get_xdata(), [1, 2, 3, 4, 5])
    np.testing.assert_array_equal(line.get_ydata(), [5, 3, 2, 1, 1])
    assert ax.get_yscale() == "log"
    # The head is ceil(0.4 * 5) = 2 items, with 8 of the 12 interactions.
    (span,) = [patch for patch in ax.patches]
    x_left, x_right = span.get_x(), span.get_x() + span.get_width()
    assert (x_left, x_right) == (0.5, 2.5)
    assert ax.get_legend().get_texts()[0].get_text() == "top 40% of items (2): 67% of interactions"


def test_item_popularity_accepts_a_torch_tensor():
    torch = pytest.importorskip("torch")
    ax = plots.plot_item_popularity(torch.tensor([1, 1, 2]))
    np.testing.assert_array_equal(ax.get_lines()[0].get_ydata(), [2, 1])


@pytest.mark.parametrize("fraction", [0, 1, 1.5, -0.1])
def test_item_popularity_rejects_a_bad_head_fraction(fraction):
    with pytest.raises(ValueError, match="head_fraction"):
        plots.plot_item_popularity([1, 2, 3], head_fraction=fraction)


# --- split summary -------------------------------------------------------------------------


def _split():
    # User 0: 3 train, 1 validation; user 1: 2 train, 0 validation; user 2: nothing;
    # user 3: 0 train, 2 validation.
    train = small([0, 0, 0, 1, 1], [0, 1, 2, 0, 1], num_users=4, num_items=5)
    validation = small([0, 3, 3], [3, 0, 4], num_users=4, num_items=5)
    return train, validation


def test_split_summary_has_one_dot_per_active_user():
    train, validation = _split()
    ax = plots.plot_split_summary(train, validation, title="random")
    (dots,) = [c for c in ax.collections if isinstance(c, PathCollection)]
    np.testing.assert_array_equal(dots.get_offsets(), [[3, 1], [2, 0], [0, 2]])
    assert ax.get_title() == "random"
    # The reference line has the overall validation/train ratio, 3/5.
    (line,) = ax.get_lines()
    np.testing.assert_allclose(line.get_ydata(), np.asarray(line.get_xdata()) * 3 / 5)


def test_split_summary_rejects_parts_of_different_sizes():
    train, _ = _split()
    other = small([0, 1], [0, 1], num_users=2, num_items=5)
    with pytest.raises(ValueError, match="same num_users, got 4 and 2"):
        plots.plot_split_summary(train, other)


def test_plots_do_not_change_global_settings():
    before = dict(matplotlib.rcParams)
    plots.plot_split_summary(*_split())
    plots.plot_item_popularity([1, 2, 2])
    plots.plot_rating_distribution([1, 2, 2])
    assert dict(matplotlib.rcParams) == before
