"""Small matplotlib figures for the lessons.

Each function draws on ``ax`` (or on a new figure's axes when ``ax`` is None) and
returns that ``Axes``, so a lesson can put several side by side and still tweak
titles. None of them changes global matplotlib settings or calls ``plt.show()``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from coursekit._checks import check_fraction

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from coursekit.interactions import Interactions


def _axes(ax: Axes | None) -> Axes:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    return plt.subplots()[1]


def _as_1d(name: str, values: Any) -> np.ndarray:
    if hasattr(values, "detach"):  # torch tensor
        values = values.detach().cpu().numpy()
    array = np.asarray(values)
    if array.ndim != 1 or len(array) == 0:
        raise ValueError(f"{name} must be a non-empty one-dimensional sequence, got shape {array.shape}")
    return array


def plot_rating_distribution(ratings: Any, ax: Axes | None = None) -> Axes:
    """Bar chart of how many times each rating value was given, counts written on the bars.

    Parameters
    ----------
    ratings : array-like
        One rating per row, e.g. ``df["rating"]``.
    ax : matplotlib Axes, optional
        Where to draw.
    """
    values, counts = np.unique(_as_1d("ratings", ratings), return_counts=True)
    ax = _axes(ax)
    bars = ax.bar([f"{value:g}" for value in values], counts, color="tab:blue")
    ax.bar_label(bars, labels=[f"{count:,}" for count in counts], padding=2)
    ax.set_xlabel("rating (stars)")
    ax.set_ylabel("number of ratings")
    ax.yaxis.set_major_formatter("{x:,.0f}")
    ax.set_title("How often each rating is given")
    ax.margins(y=0.12)  # room for the labels above the tallest bar
    ax.set_axisbelow(True)
    return ax


def plot_item_popularity(items: Any, ax: Axes | None = None, head_fraction: float = 0.1) -> Axes:
    """The long tail: interactions per item, most popular first, on a log scale.

    The most popular ``head_fraction`` of the items (rounded up) is shaded, and the legend
    says what share of all interactions they receive. Items without interactions are not
    drawn (a log scale has no zero).

    Parameters
    ----------
    items : array-like
        The item id of every interaction, e.g. ``df["item_id"]``.
    ax : matplotlib Axes, optional
        Where to draw.
    head_fraction : float
        Share of the items to shade as the head, in (0, 1).
    """
    head_fraction = check_fraction("head_fraction", head_fraction)
    _, counts = np.unique(_as_1d("items", items), return_counts=True)
    counts = np.sort(counts)[::-1]
    ranks = np.arange(1, len(counts) + 1)
    head = int(np.ceil(head_fraction * len(counts)))
    share = counts[:head].sum() / counts.sum()
    ax = _axes(ax)
    ax.axvspan(
        0.5, head + 0.5, color="tab:orange", alpha=0.25,
        label=f"top {head_fraction:.0%} of items ({head:,}): {share:.0%} of interactions",
    )  # fmt: skip
    ax.plot(ranks, counts, color="tab:blue", label="interactions of the item")
    ax.set_yscale("log")
    ax.set_xlim(0.5, len(counts) + 0.5)
    ax.set_xlabel("items, from most to least popular")
    ax.set_ylabel("interactions (log scale)")
    ax.set_title("The long tail of item popularity")
    ax.legend(loc="upper right")
    return ax


def plot_split_summary(
    train: Interactions, validation: Interactions, ax: Axes | None = None, title: str | None = None
) -> Axes:
    """One dot per user: interactions in ``train`` (x) against interactions in ``validation`` (y).

    Users without any interaction in either part are left out. The dashed line is where
    a user whose interactions were split in the overall proportion would sit; users on
    the x axis can not be evaluated, users on the y axis have nothing to learn from.

    Parameters
    ----------
    train, validation : Interactions
        The two parts of a split (same ``num_users``).
    ax : matplotlib Axes, optional
        Where to draw.
    title : str, optional
        Axes title, e.g. the name of the split.
    """
    if train.num_users != validation.num_users:
        raise ValueError(
            f"train and validation must have the same num_users, got {train.num_users} and {validation.num_users}"
        )
    in_train = np.bincount(train.users, minlength=train.num_users)
    in_validation = np.bincount(validation.users, minlength=validation.num_users)
    active = (in_train + in_validation) > 0
    ax = _axes(ax)
    ax.scatter(in_train[active], in_validation[active], s=8, alpha=0.35, color="tab:blue", linewidths=0)
    ratio = validation.num_interactions / train.num_interactions
    x_max = int(in_train.max())
    ax.plot([0, x_max], [0, ratio * x_max], linestyle="--", color="tab:gray", linewidth=1)
    ax.set_xlabel("user's interactions in train")
    ax.set_ylabel("user's interactions in validation")
    if title is not None:
        ax.set_title(title)
    return ax
