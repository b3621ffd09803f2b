# %% [markdown]
# # 02 · Train and validation: random, stratified and temporal splits
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/coursekit/coursekit/blob/main/tutorials/02_splits.ipynb) [![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/coursekit/coursekit/main?labpath=tutorials/02_splits.ipynb)
#
# To find out whether a recommender works, we hide some interactions from it while it trains and
# then check whether it ranks them highly. *Which* interactions we hide decides what the resulting
# number means. In this lesson you compare three ways to split, see what each does to users and
# movies, and save the split that every later lesson trains and validates on. It uses the implicit
# MovieLens interactions of lesson 01: loaded if lesson 01 saved them, rebuilt otherwise.

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
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from coursekit.course import build_tutorial_split, implicit_movielens, load_or_build, plots, save_artifact, setup
from coursekit.cross_validation import random_split, stratified_split, temporal_split
from coursekit.stats import split_summary

setup()

# %% [markdown]
# ## 1. The interactions
#
# `load_or_build` loads what lesson 01 saved, or runs `implicit_movielens()` (the same steps) if
# you start here.

# %%
interactions = load_or_build("implicit_movielens", implicit_movielens)
print(interactions)
assert len(interactions) == 55_375

# %% [markdown]
# ## 2. Why hold anything out?
#
# A model scored on the interactions it learnt from can look perfect by memorising them, and
# that number says nothing about how it will do on what users do next. So we keep 10 % of the
# interactions aside as a **validation** set: the model never trains on them, and in lessons 03
# and 04 we ask it to rank each user's held-out movies above the movies that user never touched.
#
# (A real project holds out a third part, the *test* set, touched once at the very end, because
# choosing settings by their validation score slowly fits the validation set too. The split
# functions do that with `val_p`; this course keeps to two parts.)
#
# ## 3. Random split
#
# The simplest split: shuffle all 55,375 interactions and hold out 10 % of them.

# %%
random_train, random_validation = random_split(interactions, test_p=0.1, seed=42)
print(f"train: {len(random_train):,}   validation: {len(random_validation):,}")

# %% [markdown]
# Each user's share of the held-out part is left to chance. A user with 3 interactions gets none
# of them in validation with probability 0.9³ ≈ 73 %, so light users are often never evaluated,
# while heavy users, who get many validation interactions, dominate any count over interactions.
#
# ## 4. Stratified split
#
# A stratified split holds out 10 % *of each user's* interactions, rounded up: one of a user's
# 3, four of 40, 38 of 378. The rounding up is why it holds out a few more than the random split.

# %%
stratified_train, stratified_validation = stratified_split(interactions, test_p=0.1, seed=42)
print(f"train: {len(stratified_train):,}   validation: {len(stratified_validation):,}")

# %% [markdown]
# ## 5. Temporal split
#
# The two splits above hide interactions at random, so a model may train on what a user did in
# May and be tested on what they did in January: it is allowed to learn from the future. In
# production a recommender only ever predicts the future from the past. A temporal split holds
# out each user's **most recent** 10 %, which is closer to that and usually harder.

# %%
temporal_train, temporal_validation = temporal_split(interactions, test_p=0.1, seed=42)
print(f"train: {len(temporal_train):,}   validation: {len(temporal_validation):,}")

# %% [markdown]
# ## 6. What each split does to users and movies
#
# For each split, we count who and what ends up in each part. A *cold-start* item appears in
# validation but never in train: no model that learns from interactions alone knows anything
# about it.

# %%
splits = {
    "random": (random_train, random_validation),
    "stratified": (stratified_train, stratified_validation),
    "temporal": (temporal_train, temporal_validation),
}
table = pd.DataFrame({name: split_summary(train, validation) for name, (train, validation) in splits.items()})
print(table.to_string())

# %% [markdown]
# Reading the table row by row:
#
# * **Users.** All three splits leave every one of the 942 active users something to train on
#   (every user has at least 3 interactions, and only 10 % are held out; the exercise shows when
#   this breaks). But the random split leaves 74 users with nothing in validation: they would never
#   be evaluated. Stratified and temporal splits put every user in both parts.
# * **Movies.** The random and stratified splits create a few cold-start movies, rarely-liked movies
#   whose only interactions landed in validation. The temporal split creates more than three times
#   as many: the most recent interactions include new releases that nobody had watched yet.
#
# (Both per-user splits hold out exactly the same *number* of interactions per user, so they have
# the same sizes; they differ in *which* interactions.)

# %%
assert table.loc["users not in validation", "random"] > 0
assert table.loc["users not in validation", ["stratified", "temporal"]].eq(0).all()
assert table.loc["cold-start items", "temporal"] > 2 * table.loc["cold-start items", "stratified"]

# %% [markdown]
# The same story as a picture: one dot per user, their interactions in train against their
# interactions in validation. The dashed line is where a user split in the overall proportion would
# sit: 10 % held out is 11 % of what stays in train (validation / train), the ratio in its legend.

# %%
# alt: Three scatter plots, random, stratified and temporal, of each user's interactions in train against
# alt: their interactions in validation: the random split scatters users around the dashed validation/train
# alt: line and leaves some on the x axis with nothing to evaluate; the stratified and temporal splits put
# alt: every user on a staircase along the line.
fig, axes = plt.subplots(1, 3, figsize=(13, 4), sharex=True, sharey=True)
for ax, (name, (train, validation)) in zip(axes, splits.items()):
    plots.plot_split_summary(train, validation, ax=ax, title=name)
    ax.label_outer()  # the axes are shared: label them once
plt.show()

# %% [markdown]
# The random split scatters users around the line, and the dots on the x axis are the users it
# never evaluates. The stratified and temporal splits put every user on the same staircase
# (`ceil(10 %)` of their interactions), so each user's score rests on a share of their data
# proportional to their activity.
#
# ## 7. The split for the rest of the course
#
# Which split is right depends on the question. "Can the model predict what users do next?" asks
# for a temporal split. "Which of two models ranks each user's liked movies better?" (what
# lessons 03–05 ask) is answered most fairly by a **stratified** split: every user is in train and
# in validation, each with the same share of their data, and hardly any validation movie is
# unknown to the model. With 55,000 interactions there is also little data to spare for the
# harder, noisier temporal setting.
#
# So the course uses `stratified_split(test_p=0.1, seed=42)`. `build_tutorial_split()`
# builds exactly this split; we check that, then save it for the later lessons, which load it
# with `tutorial_split()`.

# %%
train, validation = stratified_train, stratified_validation
rebuilt_train, rebuilt_validation = build_tutorial_split()
assert (rebuilt_train.mat != train.mat).nnz == 0 and (rebuilt_validation.mat != validation.mat).nnz == 0
assert (len(train), len(validation)) == (49_426, 5_949)

path = save_artifact((train, validation), "tutorial_split")
print(f"saved {path.name}: train {len(train):,}, validation {len(validation):,} interactions")

# %% [markdown]
# ## Exercise 1
#
# Lesson 01 dropped users with fewer than 3 interactions, and on MovieLens with 4-star positives
# that removed nobody. Now count only **5-star** ratings as positive
# (`implicit_movielens(min_rating=5)`), skip that filter, and hold out 20 %. Compare the
# random and the stratified split with `split_summary`. What happens to users with one or two
# interactions? (Hint: `stratified_split` will complain; read its message.)

# %% tags=["solution"]
# Solution
five_stars = implicit_movielens(min_rating=5)
try:
    stratified_split(five_stars, test_p=0.2, seed=42)
except ValueError as error:
    print(error)

exercise = pd.DataFrame(
    {
        "random": split_summary(*random_split(five_stars, test_p=0.2, seed=42)),
        "stratified": split_summary(*stratified_split(five_stars, test_p=0.2, seed=42, force_split=True)),
    }
)
print(exercise.to_string())
assert exercise.loc["users without train data", "random"] > 0
assert exercise.loc["users without train data", "stratified"] == 0


# %% tags=["check"]
# Check your answer (it tests what your variables hold, not the numbers above).
def who_liked_what(x):
    return set(zip(x.users.tolist(), x.items.tolist()))


assert who_liked_what(five_stars) < who_liked_what(interactions), (
    "five_stars: only 5-star positives, implicit_movielens(min_rating=5)"
)
assert list(exercise.columns) == ["random", "stratified"], (
    "exercise should have one column per split: random, stratified"
)
assert exercise.loc["validation"].sum() > 0.15 * exercise.loc["train"].sum(), "hold out 20 %: test_p=0.2"
print("all checks passed")

# %% [markdown] tags=["solution"]
# 33 users liked a single movie. `stratified_split` refuses to split them, because one
# interaction cannot be both learnt from and evaluated on; with `force_split=True` it keeps them
# entirely in train (they are its 33 "users not in validation"). The random split splits them
# anyway: a few users end up with *no* training data at all (a model knows nothing about them, yet
# they are evaluated), and 144 users are never evaluated. Filtering light users first, as lesson 01
# did, avoids both.

# %% [markdown]
# ## Exercise 2
#
# Section 5 promised that the temporal split never lets a model learn from a user's future. Check
# the promise: for each user, compare the time of their **latest** training interaction with the
# time of their **earliest** validation interaction, and count the users whose validation starts
# *before* their training ends. Predict the count for the temporal and for the stratified split
# first, then store them in `leaks_temporal` and `leaks_stratified`. (Each `Interactions` has
# `users` and `timestamps` arrays; `pandas.Series.groupby(...).max()` does the per-user part.)


# %% tags=["solution"]
# Solution
def users_seeing_the_future(train, validation):
    """Users whose earliest validation interaction is older than their latest training interaction."""
    latest_train = pd.Series(train.timestamps).groupby(train.users).max()
    earliest_validation = pd.Series(validation.timestamps).groupby(validation.users).min()
    return int((earliest_validation < latest_train.reindex(earliest_validation.index)).sum())


leaks_temporal = users_seeing_the_future(temporal_train, temporal_validation)
leaks_stratified = users_seeing_the_future(stratified_train, stratified_validation)
print(
    f"users whose validation starts before their training ends: temporal {leaks_temporal}, "
    f"stratified {leaks_stratified} of {stratified_validation.mat.getnnz(axis=1).astype(bool).sum()}"
)

# %% tags=["check"]
# Check your answer (it tests what your variables hold, not the numbers above).
for name, value in [("leaks_temporal", leaks_temporal), ("leaks_stratified", leaks_stratified)]:
    assert isinstance(value, (int, np.integer)) and 0 <= value <= interactions.num_users, (
        f"{name} should be a count of users, got {value!r}"
    )
assert leaks_temporal == 0, "in a temporal split no validation interaction is older than the user's training ones"
assert leaks_stratified > interactions.num_users // 2, (
    "a stratified split draws validation interactions at random: most users have one older than their last training one"
)
print("all checks passed")

# %% [markdown] tags=["solution"]
# None for the temporal split, by construction, and most users for the stratified one: its
# validation interactions are a random tenth of each user's history, so a model trained on it has
# usually seen what the user did *after* the movies it is asked to rank. That is fine for comparing
# models with each other (lessons 03–05), and optimistic for predicting the future, which lesson 06
# measures.
