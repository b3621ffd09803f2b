"""Small matplotlib figures for the lessons.

Each function draws on ``ax`` (or on a new figure's axes when ``ax`` is None) and
returns that ``Axes``, so a lesson can put several side by side and still tweak
titles. None of them changes global matplotlib settings or calls ``plt.show()``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from coursekit._checks import check_fraction

__all__ = [
    "plot_bias_vs_popularity",
    "plot_item_embeddings",
    "plot_item_popularity",
    "plot_learning_rates",
    "plot_model_comparison",
    "plot_pairwise_losses",
    "plot_rating_distribution",
    "plot_split_summary",
    "project_2d",
]

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


def plot_item_popularity(
    items: Any, ax: Axes | None = None, head_fraction: float = 0.1, what: str = "interactions"
) -> Axes:
    """The long tail: interactions (or ratings, ...) per item, most popular first, on a log scale.

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
    what : str
        What one entry of ``items`` is, for the labels: ``"interactions"``, ``"ratings"``, ...
    """
    head_fraction = check_fraction("head_fraction", head_fraction)
    if not isinstance(what, str) or not what:
        raise TypeError(f"what must be a non-empty string such as 'ratings', got {what!r}")
    _, counts = np.unique(_as_1d("items", items), return_counts=True)
    counts = np.sort(counts)[::-1]
    ranks = np.arange(1, len(counts) + 1)
    head = int(np.ceil(head_fraction * len(counts)))
    share = counts[:head].sum() / counts.sum()
    ax = _axes(ax)
    ax.axvspan(
        0.5, head + 0.5, color="tab:orange", alpha=0.25,
        label=f"top {head_fraction:.0%} of items ({head:,}): {share:.0%} of {what}",
    )  # fmt: skip
    ax.plot(ranks, counts, color="tab:blue", label=f"{what} of the item")
    ax.set_yscale("log")
    ax.set_xlim(0.5, len(counts) + 0.5)
    ax.set_xlabel("items, from most to least popular")
    ax.set_ylabel(f"{what} (log scale)")
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
    ax.plot(
        [0, x_max],
        [0, ratio * x_max],
        linestyle="--",
        color="tab:gray",
        linewidth=1,
        label=f"validation / train overall: {ratio:.1%}",
    )
    ax.legend(loc="upper left", fontsize=9)
    ax.set_xlabel("user's interactions in train")
    ax.set_ylabel("user's interactions in validation")
    if title is not None:
        ax.set_title(title)
    return ax


# --- lessons 03-05: losses, training, model comparison, embeddings --------------------------


def plot_pairwise_losses(
    losses: Any = ("bpr", "hinge"), margin_range: tuple[float, float] = (-4.0, 4.0), ax: Axes | None = None
) -> Axes:
    """Pairwise losses as functions of the score margin ``positive - negative``.

    The curves are computed by the library's own loss functions (``coursekit.losses``),
    one positive against one negative, so what is drawn is exactly what a model minimises.

    Parameters
    ----------
    losses : sequence of str
        Names in ``coursekit.losses.LOSSES`` (e.g. ``'bpr'``, ``'hinge'``).
    margin_range : (float, float)
        Smallest and largest margin on the x axis.
    ax : matplotlib Axes, optional
        Where to draw.
    """
    import torch

    from coursekit.losses import LOSSES

    if isinstance(losses, str):
        losses = [losses]
    losses = list(losses)
    if not losses:
        raise ValueError("losses must name at least one loss, got an empty sequence")
    unknown = [name for name in losses if name not in LOSSES]
    if unknown:
        raise ValueError(f"losses contains {unknown[0]!r}; known names are {sorted(LOSSES)}")
    low, high = (float(v) for v in margin_range)
    if not low < high:
        raise ValueError(f"margin_range must be (low, high) with low < high, got {margin_range!r}")
    margins = torch.linspace(low, high, 401)
    zeros = torch.zeros_like(margins)
    ax = _axes(ax)
    for name in losses:
        # Each margin is its own one-row batch, so the batch mean is that row's loss.
        values = [float(LOSSES[name](m.reshape(1), z.reshape(1, 1), num_items=2)) for m, z in zip(margins, zeros)]
        ax.plot(margins.numpy(), values, label=name)
    ax.axvline(0, color="tab:gray", linewidth=1, linestyle=":")
    ax.set_xlabel("score margin: positive - negative")
    ax.set_ylabel("loss")
    ax.set_title("Pairwise losses: small when the positive wins by a margin")
    ax.legend()
    return ax


def plot_learning_rates(history: Any, ax: Axes | None = None) -> Axes:
    """Learning rate of each optimizer per epoch, from ``CourseTrainer.history``, on a log scale.

    Parameters
    ----------
    history : pandas.DataFrame
        ``trainer.history``: an ``epoch`` column and one column per optimizer (``lr``, ``bias_lr``).
    ax : matplotlib Axes, optional
        Where to draw.
    """
    columns = [
        c for c in getattr(history, "columns", []) if c == "lr" or str(c).endswith("_lr") or str(c).startswith("lr_")
    ]
    if "epoch" not in getattr(history, "columns", []) or not columns or len(history) == 0:
        raise ValueError("history must be a trainer.history DataFrame with an epoch column and learning-rate columns")
    ax = _axes(ax)
    markers = iter("osd^v")
    for column in columns:
        ax.plot(history["epoch"], history[column], marker=next(markers, "o"), label=column)
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("learning rate (log scale)")
    ax.set_title("Learning rate per epoch")
    ax.legend()
    return ax


def plot_bias_vs_popularity(model: Any, train: Interactions, ax: Axes | None = None) -> Axes:
    """One dot per item: its training interactions (log scale) against its learned bias.

    Items without training interactions are left out (a log scale has no zero).

    Parameters
    ----------
    model
        A trained model with an ``item_biases`` embedding (``MatrixFactorizationModel``).
    train : Interactions
        The interactions the model was trained on.
    ax : matplotlib Axes, optional
        Where to draw.
    """
    if not hasattr(model, "item_biases"):
        raise TypeError(f"model must have item biases (a MatrixFactorizationModel), got {type(model).__name__}")
    biases = model.item_biases.weight.detach().cpu().numpy().reshape(-1)
    if len(biases) != train.num_items:
        raise ValueError(f"model has {len(biases)} items but train has {train.num_items}")
    from coursekit.ranking import item_popularity  # imports torch: only when this plot is drawn

    counts = item_popularity(train)
    seen = counts > 0
    ax = _axes(ax)
    ax.scatter(counts[seen], biases[seen], s=8, alpha=0.4, color="tab:blue", linewidths=0)
    ax.set_xscale("log")
    ax.set_xlabel("item's interactions in train (log scale)")
    ax.set_ylabel("learned item bias")
    ax.set_title("Item biases learn popularity")
    return ax


def plot_model_comparison(table: Any, metrics: Any = None, axes: Any = None) -> np.ndarray:
    """Horizontal bars, one panel per metric, one bar per model (a row of ``table``).

    Parameters
    ----------
    table : pandas.DataFrame
        Models as rows, metrics as columns, e.g. from ``coursekit.course.compare_models``;
        two-level columns (``(evaluation, metric)``) are labelled ``"metric (evaluation)"``.
    metrics : sequence, optional
        Which columns to draw (default: all).
    axes : sequence of matplotlib Axes, optional
        One per metric.

    Returns
    -------
    numpy.ndarray
        The Axes, one per metric.
    """
    import matplotlib.pyplot as plt

    columns = list(table.columns if metrics is None else metrics)
    if len(table) == 0 or not columns:
        raise ValueError("table must have at least one row (model) and one metric column")
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ValueError(f"metrics contains {missing[0]!r}, not a column of table; columns are {list(table.columns)}")
    if axes is None:
        _, axes = plt.subplots(1, len(columns), figsize=(3.2 * len(columns), 0.45 * len(table) + 1.6), sharey=True)
    axes = np.atleast_1d(np.asarray(axes, dtype=object)).ravel()
    if len(axes) != len(columns):
        raise ValueError(f"axes must hold one Axes per metric ({len(columns)}), got {len(axes)}")
    names = [str(name) for name in table.index]
    positions = np.arange(len(names))[::-1]  # first row on top
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, column in zip(axes, columns):
        values = table[column].to_numpy(dtype=float)
        bars = ax.barh(positions, values, color=[colors[i % len(colors)] for i in range(len(values))])
        ax.bar_label(bars, labels=[f"{v:.3f}" for v in values], padding=2, fontsize=9)
        ax.set_yticks(positions, names)
        label = f"{column[1]} ({column[0]})" if isinstance(column, tuple) else str(column)
        ax.set_title(label, fontsize=11)
        # Bars start at 0 unless every value sits high in [0, 1] (AUC): there a zero-based axis would
        # hide the differences, so the axis starts just below the smallest bar and says so.
        low = values.min()
        start = np.floor(low * 20) / 20 - 0.05 if values.max() <= 1 and low > 0.5 else 0.0
        limit = start + (max(values.max(), 1e-12) - start) * 1.3  # room for the labels
        ax.set_xlim(start, min(limit, 1.15) if values.max() <= 1 else limit)  # metrics in [0, 1]: no tick past 1
        if start > 0:
            ax.set_xlabel(f"axis starts at {start:.2f}", fontsize=8)
        ax.set_axisbelow(True)
    return axes


def project_2d(vectors: Any) -> np.ndarray:
    """Principal-component projection of row vectors onto 2 dimensions, ``[n, 2]``.

    The rows are centred and projected on the two leading right-singular vectors
    (numpy SVD). Each axis's sign is fixed so that its largest loading is positive,
    so the picture does not flip between runs or libraries.
    """
    if hasattr(vectors, "detach"):
        vectors = vectors.detach().cpu().numpy()
    array = np.asarray(vectors, dtype=np.float64)
    if array.ndim != 2 or array.shape[0] < 2 or array.shape[1] < 2:
        raise ValueError(f"vectors must be a 2-D array with at least 2 rows and 2 columns, got shape {array.shape}")
    centred = array - array.mean(axis=0)
    _, _, components = np.linalg.svd(centred, full_matrices=False)
    components = components[:2]
    signs = np.sign(components[np.arange(2), np.abs(components).argmax(axis=1)])
    return centred @ (components * signs[:, None]).T


def plot_item_embeddings(model: Any, labels: Any = None, sizes: Any = None, ax: Axes | None = None) -> Axes:
    """Every item's embedding projected to 2-D with :func:`project_2d`, a few items labelled.

    Parameters
    ----------
    model
        A model with item embeddings (``item_embeddings`` layer), e.g. ``MatrixFactorizationModel``.
    labels : dict, optional
        ``{item_id: text}`` for the items to highlight and label.
    sizes : array-like, optional
        One marker size per item (e.g. scaled popularity); default all equal.
    ax : matplotlib Axes, optional
        Where to draw.
    """
    if not hasattr(model, "item_embeddings"):
        raise TypeError(f"model must have item embeddings, got {type(model).__name__}")
    points = project_2d(model.item_embeddings.weight)
    labels = dict(labels or {})
    bad = [item for item in labels if not 0 <= int(item) < len(points)]
    if bad:
        raise ValueError(f"labels has item_id {bad[0]}, outside 0..{len(points) - 1}")
    if sizes is None:
        sizes = np.full(len(points), 6.0)
    sizes = np.asarray(sizes, dtype=float)
    if sizes.shape != (len(points),):
        raise ValueError(f"sizes must have one value per item ({len(points)}), got shape {sizes.shape}")
    ax = _axes(ax)
    ax.scatter(points[:, 0], points[:, 1], s=sizes, alpha=0.3, color="tab:gray", linewidths=0)
    for item, text in labels.items():
        x, y = points[int(item)]
        ax.scatter([x], [y], s=max(sizes[int(item)], 12.0), color="tab:red", alpha=0.8, zorder=3)  # keeps its size
        ax.annotate(str(text), (x, y), xytext=(4, 3), textcoords="offset points", fontsize=9)
    ax.set_xlabel("first principal component")
    ax.set_ylabel("second principal component")
    ax.set_title("Item embeddings, projected to 2-D")
    return ax
