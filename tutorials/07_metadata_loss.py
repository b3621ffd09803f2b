# %% [markdown]
# # 07 · Metadata in the loss: partial credit for a negative of the right genre
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/coursekit/coursekit/blob/main/tutorials/07_metadata_loss.ipynb) [![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/coursekit/coursekit/main?labpath=tutorials/07_metadata_loss.ipynb)
#
# So far the model has seen only who liked what. MovieLens also says what each movie *is*: one
# or more of 19 genres. This lesson (Collie's tutorial 04, "partial credit loss") puts that side
# information into the **loss**, not the model: a sampled negative that shares genres with the
# positive is treated as a smaller mistake. You look at the genre data, see how the ideal score
# gap of a pair is computed, train lesson 03's model with and without partial credit from five
# seeds each, and decide from the numbers whether it helps on this data. It uses the tutorial
# split saved by lesson 02 (rebuilt if missing), so it runs on its own.

# %%
# On Colab or Binder, install the course's library first (nothing happens where it is installed).
import glob
import importlib.metadata
import subprocess
import sys

try:
    importlib.metadata.version("coursekit-recsys")  # this course's coursekit, not another package of that name
except importlib.metadata.PackageNotFoundError:
    wheels = sorted(glob.glob("coursekit_recsys-*.whl"))  # a wheel uploaded beside the notebook wins
    source = wheels[-1] if wheels else "coursekit-recsys @ git+https://github.com/coursekit/coursekit"
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "-q", source], capture_output=True, text=True)
    if pip.returncode != 0:
        print(
            "coursekit could not be installed: upload its wheel (coursekit_recsys-*.whl, from `make dist`) next to "
            "this notebook and run this cell again, or run `pip install /path/to/a/clone` yourself."
        )

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from coursekit.course import evaluate_model, setup, tutorial_split
from coursekit.course.compare import PairedComparison, SeedStudy
from coursekit.course.recipes import LESSON03, PARTIAL_CREDIT
from coursekit.losses import hinge, ideal_difference_from_metadata, metadata_overlap
from coursekit.metadata import movielens_item_metadata
from coursekit.movielens import read_movielens_df_item
from coursekit.ranking import top_k_unseen

setup()

# %% [markdown]
# ## 1. Why partial credit?
#
# Training with a pairwise loss (lesson 03) takes a movie the user liked, the **positive**, and a
# few movies they did not interact with, the **negatives**, and asks for a score gap of at least 1:
# the hinge is `max(0, 1 - (pos - neg))`. But a sampled negative is only *unobserved*, not
# disliked. If a user loved *Star Wars* and the sampler draws *The Empire Strikes Back* as a
# negative, pushing it a full unit below *Star Wars* is a strange lesson to teach: of all the
# unobserved movies, it is among the likeliest to be liked. Partial credit softens exactly these pairs. Each kind of
# metadata `k` gets a weight `w_k`, and a pair's **ideal difference** becomes
#
# $$\text{ideal}(pos, neg) = 1 - \sum_k w_k \cdot \text{overlap}_k(pos, neg),$$
#
# which replaces the margin 1 of the hinge: `max(0, ideal - (pos - neg))`. A negative with nothing
# in common with the positive still needs the full gap; one of the same genre needs less and is
# pushed down less. (BPR gets the same treatment: the credit `1 - ideal` is added to the score
# gap, `-log sigmoid(pos - neg + 1 - ideal)`, which is also exactly what the hinge's smaller
# margin amounts to.) The hope is that the model learns faster what the genres already say.
#
# **Sharing, for multi-genre movies.** Collie compares one category per item (`meta[pos] ==
# meta[neg]`; its tutorial keeps only each movie's first genre). MovieLens movies have up to six
# genres, so coursekit measures the overlap as the **Jaccard index** of the two genre sets,
# shared genres / genres of either: *Star Wars* (Action, Adventure, Romance, Sci-Fi, War) against
# *Empire* (the same five plus Drama) is 5/6. For one-hot rows this is 1 for the same category and
# 0 otherwise, so it *is* Collie's rule there; "any shared genre" would give *Toy Story* (Animation,
# Children's, Comedy) full credit against every comedy, which is too generous.
#
# ## 2. The data: genres of 1,674 movies

# %%
train_interactions, val_interactions = tutorial_split()
print(f"train: {len(train_interactions):,}   validation: {len(val_interactions):,}")
assert (len(train_interactions), len(val_interactions)) == (49_426, 5_949)

metadata = movielens_item_metadata(num_items=train_interactions.num_items)  # row i = movie i + 1
genres = metadata.select("genre:")
genre_matrix = genres.values  # [num_items, 19] of 0/1 flags
genre_names = [column.removeprefix("genre:") for column in genres.columns]
titles = read_movielens_df_item().set_index("item_id")["movie_title"]
print(
    f"genre matrix: {genre_matrix.shape}, genres per movie: mean {genre_matrix.sum(1).mean():.2f}, "
    f"max {genre_matrix.sum(1).max():.0f}"
)
assert genre_matrix.shape == (train_interactions.num_items, 19) and genre_matrix.sum(1).min() >= 1
frame = genres.frame().set_axis(genre_names, axis=1)
frame.index = [titles[i + 1] for i in frame.index]
print(frame.iloc[[0, 49, 171, 99]].loc[:, lambda f: f.any()].astype(int).to_string())

# %% [markdown]
# Drama and Comedy dominate (the four largest genres below); many movies have two or three
# genres, so genres overlap a lot. The right panel counts how often two genres label the same movie.

# %%
# alt: Left: horizontal bars of how many of the 1,674 movies carry each of the 19 genres, Drama
# alt: (over 700) and Comedy (about 500) far ahead, Action and Thriller next, Documentary, Fantasy,
# alt: Film-Noir and unknown smallest. Right: a 19 x 19 heatmap of how many movies carry both genres,
# alt: brightest on the diagonal and for Drama with Romance, Comedy with Romance and Action with Thriller.
counts = pd.Series(genre_matrix.sum(0), index=genre_names).sort_values()
print(counts.iloc[::-1].head(4).astype(int).to_string())
co_occurrence = genre_matrix.T @ genre_matrix
fig, axes = plt.subplots(1, 2, figsize=(13, 5), gridspec_kw={"width_ratios": [1, 1.3]})
counts.plot.barh(ax=axes[0], color="tab:blue")
axes[0].set(xlabel="movies", title="movies per genre")
image = axes[1].imshow(np.log1p(co_occurrence), cmap="viridis")
axes[1].set_xticks(range(19), genre_names, rotation=90)
axes[1].set_yticks(range(19), genre_names)
axes[1].set_title("movies carrying both genres (log scale)")
fig.colorbar(image, ax=axes[1], label="log(1 + movies)")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## 3. The ideal difference of a pair
#
# `coursekit.losses.ideal_difference_from_metadata` computes it for a batch of positives `[B]` and
# negatives `[B, N]` from `{name: matrix}` and `{name: weight}`. With Collie's weight 0.4 for genre:

# %%
genre_tensor = torch.from_numpy(genre_matrix)
star_wars, empire, toy_story, fargo = 49, 171, 0, 99  # item = MovieLens movie number - 1
positives = torch.tensor([star_wars])
negatives = torch.tensor([[empire, toy_story, fargo]])
ideal = ideal_difference_from_metadata(positives, negatives, {"genre": genre_tensor}, {"genre": 0.4})
pairs = pd.DataFrame(
    {
        "negative": [titles[int(i) + 1] for i in negatives[0]],
        "genre overlap": metadata_overlap(genre_tensor[positives].unsqueeze(1), genre_tensor[negatives])[0].numpy(),
        "ideal difference": ideal[0].numpy(),
    }
)
print(f"positive: {titles[star_wars + 1]}")
print(pairs.to_string(float_format="{:.4f}".format))
assert np.allclose(pairs["ideal difference"], 1 - 0.4 * pairs["genre overlap"])

# %% [markdown]
# The hinge then asks *Empire* to sit only two thirds of a unit below *Star Wars*, *Toy Story* and
# *Fargo* (no genre in common) the full 1. With scores
# 2.0 for the positive and 1.5 for each negative, the plain hinge is 0.5 for every pair; with
# partial credit *Empire*'s term shrinks:

# %%
scores_positive, scores_negative = torch.tensor([2.0]), torch.full((1, 3), 1.5)
print("plain hinge per pair:  ", torch.clamp(1 - (scores_positive[:, None] - scores_negative), min=0).numpy().round(4))
print(
    "partial credit per pair:",
    torch.clamp(ideal - (scores_positive[:, None] - scores_negative), min=0).numpy().round(4),
)
print(
    f"mean: plain {hinge(scores_positive, scores_negative).item():.4f}, "
    f"partial credit {hinge(scores_positive, scores_negative, ideal_difference=ideal).item():.4f}"
)

# %% [markdown]
# How often does it matter? Draw one training positive per interaction and a uniformly random
# movie as its negative (what the loader does, up to excluding the user's own movies), and look at
# the overlap of the pairs:

# %%
rng = np.random.default_rng(22)
pair_positives = torch.from_numpy(train_interactions.mat.tocoo().col.astype(np.int64))
pair_negatives = torch.from_numpy(rng.integers(0, train_interactions.num_items, len(pair_positives)))
pair_overlap = metadata_overlap(genre_tensor[pair_positives], genre_tensor[pair_negatives]).numpy()
pair_ideal = 1 - 0.4 * pair_overlap
print(f"pairs sharing at least one genre: {(pair_overlap > 0).mean():.1%}")
print(f"mean overlap {pair_overlap.mean():.4f}; mean ideal difference at weight 0.4: {pair_ideal.mean():.4f}")
assert 0.2 < (pair_overlap > 0).mean() < 0.8 and 0.6 <= pair_ideal.min() and pair_ideal.max() == 1

# %% [markdown]
# So about a third of the pairs get some credit, but the average margin drops by less than a
# tenth of a unit: genres are a coarse description, and the change to the loss is gentle.
#
# ## 4. Training with and without partial credit, five seeds each
#
# The model library takes Collie's two arguments,
# `MatrixFactorizationModel(..., metadata_for_loss={"genre": genre_matrix},
# metadata_for_loss_weights={"genre": 0.4})`, and checks them (one row per item, finite,
# non-negative values; weights in [0, 1] summing to at most 1; the same keys). The recipe
# `PARTIAL_CREDIT` is lesson 03's model (10 dimensions, Adam at 0.01, the default schedule, the
# default adaptive hinge on 10 exact negatives) with exactly that; its settings name the matrix
# (`"movielens_genres"`) and `build` looks it up, so the recipe stays plain values:

# %%
print(dict(PARTIAL_CREDIT.model))
model = PARTIAL_CREDIT.build(train_interactions, val_interactions, seed=22)
print(model.loss_name, model.loss_metadata.genre.shape, model.hparams.metadata_for_loss_weights)

# %% [markdown]
# Now both recipes from seeds 0-4, each scored on the validation set unmasked (as Collie prints
# it) and masked (the user's training movies left out of the ranking). To keep the lesson within
# half a minute, each fit trains **5 epochs instead of 10** (both models a little less trained,
# compared at equal training). This is the lesson's slow cell: ten fits of about a second each. The seed-0 models are kept for the exercises.

# %% tags=["nbval-ignore-output"]
SEEDS = (0, 1, 2, 3, 4)
EPOCHS = 5
PLAIN, PARTIAL = LESSON03.replace(max_epochs=EPOCHS), PARTIAL_CREDIT.replace(max_epochs=EPOCHS)
per_seed = {LESSON03.name: {}, PARTIAL_CREDIT.name: {}}
fit_seconds = {LESSON03.name: [], PARTIAL_CREDIT.name: []}
seed0_models = {}
started = time.perf_counter()
for seed in SEEDS:
    for recipe in (PLAIN, PARTIAL):
        fitted, _, seconds = recipe.fit(train_interactions, val_interactions, seed=seed)
        row = {("unmasked", metric): value for metric, value in evaluate_model(val_interactions, fitted).items()}
        masked = evaluate_model(val_interactions, fitted, train_interactions)
        row.update({("masked", metric): value for metric, value in masked.items()})
        per_seed[recipe.name][seed] = row
        fit_seconds[recipe.name].append(seconds)
        if seed == 0:
            seed0_models[recipe.name] = fitted
print(f"10 fits and evaluations in {time.perf_counter() - started:.1f} s")


def study(name: str) -> SeedStudy:
    table = pd.DataFrame.from_dict(per_seed[name], orient="index")
    table.columns = pd.MultiIndex.from_tuples(table.columns, names=["evaluation", "metric"])
    table.index.name = "seed"
    return SeedStudy(name, SEEDS, table, tuple(fit_seconds[name]))


comparison = PairedComparison(study(LESSON03.name), study(PARTIAL_CREDIT.name))

# %% tags=["approx-metrics"]
print(comparison.summary.drop(columns=["wins", "n"]).to_string(float_format="{:+.4f}".format))
differences = comparison.differences
assert differences.shape == (5, 6) and (differences.mean().abs() < 0.01).all()  # a gentle change, as expected

# %% [markdown]
# `difference` is partial credit minus plain, seed by seed (each seed gives both models the same
# initial vectors and the same batches): its mean and its standard deviation over the five seeds.
# Every difference is small next to the metric itself. The plot shows them seed by seed,
# with each recipe's own spread over seeds for scale:

# %%
# alt: Six panels (MAP@10, MRR, AUC; unmasked top row, masked bottom row), each with five dots: the
# alt: difference partial credit minus plain for seeds 0-4, around a dashed zero line; a grey band
# alt: marks plus or minus one standard deviation of the plain model over the seeds. The dots
# alt: straddle zero or sit close to it, mostly inside the band.
fig, axes = plt.subplots(2, 3, figsize=(12, 6))
plain_std = comparison.first.per_seed.std(ddof=1)
for ax, column in zip(axes.ravel(), differences.columns):
    ax.axhspan(-plain_std[column], plain_std[column], color="0.9", label="± std of plain over seeds")
    ax.axhline(0, color="0.4", linestyle="--", linewidth=1)
    ax.scatter(differences.index, differences[column], color="tab:orange", zorder=3, label="partial - plain")
    ax.set(title=" ".join(column), xlabel="seed", xticks=SEEDS)
fig.legend(*axes[0, 0].get_legend_handles_labels(), loc="upper right", fontsize=8)
fig.suptitle("partial credit minus plain, per seed")
plt.tight_layout(rect=(0, 0, 1, 0.93))
plt.show()

# %% [markdown]
# ## 5. Beside Collie's figure
#
# Collie's tutorial 04 trained the same model once (10 epochs, seed 22 through `seed_everything`,
# weight 0.4 on each movie's first genre) and printed unmasked MAP@10 0.0522, MRR 0.1687, AUC 0.9078.

# %% tags=["approx-metrics"]
collie = pd.Series({"MAP@10": 0.0522, "MRR": 0.1687, "AUC": 0.9078})
ours = comparison.second.per_seed["unmasked"]
closing = pd.DataFrame(
    {
        "coursekit mean": ours.mean(),
        "coursekit std": ours.std(ddof=1),
        "coursekit min": ours.min(),
        "coursekit max": ours.max(),
        "Collie (one run)": collie,
    }
)
print(f"partial credit, unmasked, seeds 0-4, {EPOCHS} epochs:")
print(closing.to_string(float_format="{:.4f}".format))

# %% [markdown]
# Compare Collie's single number with our five seeds' range (the min and max columns): Collie's
# run lies outside it in some metrics, by more than one of our standard deviations. It it is one draw with its own initialisation, its own negative
# sampler, twice our epochs and the first-genre rule instead of Jaccard, and a single run has no
# spread of its own, so the gap cannot be pinned on any one of these, least of all on partial
# credit, whose own effect (section 4) is far smaller. Both land in the same region: MAP@10 around
# 0.05, MRR 0.17-0.18, AUC around 0.91.
#
# **The honest verdict.** On MovieLens 100K, with lesson 03's model and Collie's weight, partial
# credit changes every metric by a few thousandths at most (the assert under the table of section
# 4 checks under 0.01), less than 2 % of the metric's value. The signs are mixed: read the
# `difference mean` and `difference std` columns. Where the mean is about twice its spread or more,
# that is a small but consistent shift (in our run unmasked MRR went slightly *down*), and
# elsewhere the difference is within the seed-to-seed spread.
# Either way it is not a gain worth a new setting here. Collie's own tutorial says as much ("we're
# not seeing as much performance increase ... because MovieLens 100K has so few items"). The idea
# is sound, but genres are a coarse signal, and with only 1,674 movies the interactions alone
# already teach the model what genres say (exercise 2). It is more promising where items are many
# and interactions per item few, or with finer metadata (a series, a brand, a director).
#
# ## Exercise 1: predict the effect of the weight
#
# The weight scales the credit linearly: `ideal = 1 - w * overlap`. Before computing anything,
# predict the mean ideal difference of the random pairs of section 3 at weight `w = 0.8`, then
# check it: compute `mean_ideal_08` (a float) with `ideal_difference_from_metadata` on
# `pair_positives` and `pair_negatives`, and `margin_cut_ratio`, how many times larger the cut
# `1 - mean ideal` is at 0.8 than at 0.4. Then try a weight of 1.5: what does the model say, and why?

# %% tags=["solution"]
# Solution
ideal_08 = ideal_difference_from_metadata(pair_positives, pair_negatives, {"genre": genre_tensor}, {"genre": 0.8})
mean_ideal_08 = float(ideal_08.mean())
margin_cut_ratio = (1 - mean_ideal_08) / (1 - float(pair_ideal.mean()))
print(
    f"mean ideal difference at 0.8: {mean_ideal_08:.4f} (at 0.4: {pair_ideal.mean():.4f}); cut ratio {margin_cut_ratio:.3f}"
)
try:
    PARTIAL_CREDIT.replace(metadata_for_loss_weights={"genre": 1.5}).build(train_interactions, seed=22)
except ValueError as error:
    print("weight 1.5:", error)

# %% tags=["check"]
# Check your answer (it tests what your variables hold, not the numbers above).
assert isinstance(mean_ideal_08, float), "mean_ideal_08 should be a plain float (float(tensor.mean()))"
assert abs(mean_ideal_08 - (1 - 0.8 * pair_overlap.mean())) < 1e-4, "the mean ideal is 1 - 0.8 * mean overlap"
assert abs(margin_cut_ratio - 2) < 1e-3, "the cut is linear in the weight: twice the weight, twice the cut"
print("all checks passed")

# %% [markdown]
# Twice the weight halves nothing and doubles the cut, exactly, because the overlap does not
# depend on the weight. A weight above 1 is refused: a pair matching on everything would then want
# the negative scored *above* the positive.
#
# ## Exercise 2: do the recommendations share the user's genres?
#
# Partial credit treats same-genre movies more gently, so one might expect recommendations closer
# to a user's genres. Measure it for the two seed-0 models in `seed0_models`: for every user take
# the top 10 unseen movies (`top_k_unseen(model.score_all_items(users), 10, seen=train_interactions.mat)`),
# and compute `genre_overlap`, a dict `{recipe name: float}` holding the mean Jaccard overlap between
# a recommended movie's genres and the genres of the movies the user liked in training (averaged
# over the user's training movies, then over the 10 recommendations and all users). Hint: the
# 1,674 x 1,674 Jaccard matrix is `intersection / (n_i + n_j - intersection)` with
# `intersection = genre_matrix @ genre_matrix.T`.

# %% tags=["solution", "approx-metrics"]
# Solution
intersection = genre_matrix @ genre_matrix.T
sizes = genre_matrix.sum(1)
jaccard = intersection / (sizes[:, None] + sizes[None, :] - intersection)
liked = train_interactions.mat.tocsr()
# per user: the mean Jaccard of each item with the user's liked movies, [num_users, num_items]
user_affinity = np.asarray(liked @ jaccard) / np.maximum(np.asarray(liked.sum(1)), 1)
users = torch.arange(train_interactions.num_users)
genre_overlap = {}
for name, trained in seed0_models.items():
    recommended = np.stack(top_k_unseen(trained.score_all_items(users), 10, seen=liked))
    genre_overlap[name] = float(np.take_along_axis(user_affinity, recommended, axis=1).mean())
random_items = rng.integers(0, train_interactions.num_items, (len(users), 10))
random_overlap = float(np.take_along_axis(user_affinity, random_items, axis=1).mean())
print({name: round(value, 4) for name, value in genre_overlap.items()}, f"random movies: {random_overlap:.4f}")
assert min(genre_overlap.values()) > random_overlap

# %% tags=["check"]
# Check your answer (it tests what your variables hold, not the numbers above).
assert set(genre_overlap) == {"lesson03", "partial_credit"}, "one entry per recipe name in seed0_models"
assert all(isinstance(v, float) and 0 <= v <= 1 for v in genre_overlap.values()), "Jaccard overlaps lie in [0, 1]"
# Recompute it another way for every 20th user (a sample, hence the loose tolerance).
check_users = np.arange(0, train_interactions.num_users, 20)
for name, trained in seed0_models.items():
    top = top_k_unseen(trained.score_all_items(torch.from_numpy(check_users)), 10, seen=liked, users=check_users)
    sample = np.mean(
        [
            metadata_overlap(genre_tensor[items][:, None], genre_tensor[liked[user].indices][None]).mean().item()
            for user, items in zip(check_users, top)
        ]
    )
    assert abs(genre_overlap[name] - sample) < 0.05, (
        f"{name}: {genre_overlap[name]:.4f}, a sample of users gives {sample:.4f}"
    )
print("all checks passed")

# %% [markdown]
# Both models recommend movies closer to a user's genres than random movies are (the assert
# above checks it): the interactions alone already carry the genre signal. Whether partial credit moves the number is
# a question for one seed here, so read a small gap between the two as noise; to claim it, repeat
# the measurement for all five seeds of section 4.
