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


def test_item_popularity_names_what_it_counts():
    ax = plots.plot_item_popularity([1, 1, 2], what="ratings")
    assert ax.get_ylabel() == "ratings (log scale)"
    assert [t.get_text() for t in ax.get_legend().get_texts()][1] == "ratings of the item"
    with pytest.raises(TypeError, match="what must be a non-empty string"):
        plots.plot_item_popularity([1, 2], what="")


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
    assert ax.get_legend().get_texts()[0].get_text() == "validation / train overall: 60.0%"  # says what it is


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


# --- lessons 03-05 ---------------------------------------------------------------------------

import pandas as pd  # noqa: E402
import torch  # noqa: E402

from coursekit.model import MatrixFactorizationModel  # noqa: E402


def tiny_model(train):
    return MatrixFactorizationModel(train=train, embedding_dim=4, seed=0)


def test_pairwise_losses_draw_the_library_losses():
    ax = plots.plot_pairwise_losses(["bpr", "hinge"], margin_range=(-2, 2))
    lines = {line.get_label(): line for line in ax.get_lines() if line.get_label() in ("bpr", "hinge")}
    assert set(lines) == {"bpr", "hinge"}
    x, hinge = lines["hinge"].get_data()
    _, bpr = lines["bpr"].get_data()
    assert x[0] == -2 and x[-1] == 2
    middle = np.argmin(np.abs(x))
    assert np.isclose(bpr[middle], np.log(2), atol=1e-3)  # -log sigmoid(0)
    assert np.allclose(hinge, np.maximum(0, 1 - x), atol=1e-5)


@pytest.mark.parametrize("kwargs", [{"losses": ["nope"]}, {"losses": []}, {"margin_range": (1, 1)}])
def test_pairwise_losses_reject_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        plots.plot_pairwise_losses(**kwargs)


def test_learning_rates_one_line_per_optimizer_on_a_log_scale():
    history = pd.DataFrame(
        {"epoch": [0, 1, 2], "train_loss": [1, 0.9, 0.8], "lr": [0.1, 0.1, 0.01], "bias_lr": [1, 1, 1]}
    )
    ax = plots.plot_learning_rates(history)
    assert [line.get_label() for line in ax.get_lines()] == ["lr", "bias_lr"]
    assert list(ax.get_lines()[0].get_ydata()) == [0.1, 0.1, 0.01]
    assert ax.get_yscale() == "log"


def test_learning_rates_reject_a_frame_without_rates():
    with pytest.raises(ValueError, match="history"):
        plots.plot_learning_rates(pd.DataFrame({"epoch": [0], "train_loss": [1.0]}))


def test_bias_vs_popularity_one_dot_per_item_with_interactions():
    train = small([0, 0, 1, 2, 2, 2], [0, 3, 3, 0, 1, 3], num_items=6)
    model = tiny_model(train)
    with torch.no_grad():
        model.item_biases.weight[:, 0] = torch.arange(6, dtype=torch.float32)
    ax = plots.plot_bias_vs_popularity(model, train)
    (points,) = [c for c in ax.collections if isinstance(c, PathCollection)]
    offsets = points.get_offsets()
    assert offsets[:, 0].tolist() == [2, 1, 3]  # items 0, 1, 3; items 2, 4, 5 have no interactions
    assert offsets[:, 1].tolist() == [0, 1, 3]
    assert ax.get_xscale() == "log"


def test_bias_vs_popularity_needs_biases():
    with pytest.raises(TypeError, match="item biases"):
        plots.plot_bias_vs_popularity(object(), small([0, 1], [0, 1]))


def test_model_comparison_bars_are_the_table_values():
    table = pd.DataFrame({"MAP@10": [0.05, 0.12], "AUC": [0.86, 0.93]}, index=["popularity", "mf"])
    axes = plots.plot_model_comparison(table)
    assert len(axes) == 2
    widths = [bar.get_width() for bar in axes[1].patches]
    assert widths == [0.86, 0.93]
    assert [label.get_text() for label in axes[0].get_yticklabels()] == ["popularity", "mf"]
    assert axes[1].get_xlim()[1] <= 1.15  # no room wasted past 1 for a metric in [0, 1]
    # AUCs near 0.9 on an axis from 0 would hide their difference: that axis starts near them, and says so.
    assert axes[1].get_xlim()[0] == pytest.approx(0.8) and axes[1].get_xlabel() == "axis starts at 0.80"
    assert axes[0].get_xlim()[0] == 0 and axes[0].get_xlabel() == ""


def test_model_comparison_labels_two_level_columns_and_checks_them():
    table = pd.DataFrame({("masked", "MRR"): [0.2, 0.4]}, index=["a", "b"])
    table.columns = pd.MultiIndex.from_tuples(table.columns)
    (ax,) = plots.plot_model_comparison(table)
    assert ax.get_title() == "MRR (masked)"
    with pytest.raises(ValueError, match="not a column"):
        plots.plot_model_comparison(table, metrics=["AUC"])


def test_project_2d_finds_the_main_directions_with_a_fixed_sign():
    rng = np.random.default_rng(0)
    latent = rng.normal(size=(200, 2)) * [5.0, 1.0]
    basis = np.linalg.qr(rng.normal(size=(6, 6)))[0][:2]
    vectors = latent @ basis + 3.0
    points = plots.project_2d(vectors)
    assert points.shape == (200, 2)
    assert np.allclose(points.mean(axis=0), 0, atol=1e-9)
    assert abs(np.corrcoef(points[:, 0], latent[:, 0])[0, 1]) > 0.99
    # Same directions, fixed sign: negating the data negates the coordinates instead of flipping axes.
    assert np.allclose(plots.project_2d(-vectors), -points)
    assert np.allclose(plots.project_2d(vectors[::-1]), points[::-1])
    assert np.allclose(plots.project_2d(torch.tensor(vectors)), points)


def test_project_2d_rejects_too_few_dimensions():
    with pytest.raises(ValueError, match="vectors"):
        plots.project_2d(np.ones(5))


def test_item_embeddings_label_the_chosen_items():
    train = small([0, 1, 2, 2], [0, 1, 2, 4], num_items=5)
    ax = plots.plot_item_embeddings(tiny_model(train), labels={0: "first", 4: "last"})
    assert sorted(text.get_text() for text in ax.texts) == ["first", "last"]
    grey = ax.collections[0]
    assert len(grey.get_offsets()) == 5
    sized = plots.plot_item_embeddings(tiny_model(train), labels={4: "big"}, sizes=[1, 2, 3, 4, 50])
    assert sized.collections[1].get_sizes()[0] == 50  # a labelled dot keeps its popularity size
    with pytest.raises(ValueError, match="labels"):
        plots.plot_item_embeddings(tiny_model(train), labels={9: "nope"})
