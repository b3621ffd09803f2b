# %% [markdown]
# # 01 · From star ratings to implicit feedback
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/coursekit/coursekit/blob/main/tutorials/01_data_prep.ipynb) [![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/coursekit/coursekit/main?labpath=tutorials/01_data_prep.ipynb)
#
# Every recommender starts with a table of who did what. In this lesson you meet the one we use
# throughout the course, MovieLens 100K, and turn it into the shape the rest of the course trains
# on: you look at its files, see how people rate and how unevenly they spread their attention over
# movies (the *long tail*), turn explicit star ratings into implicit "this user liked this movie"
# interactions, filter users, encode IDs, and build an `Interactions` dataset that hands out
# negative samples. It is the first lesson, so it needs nothing from earlier ones; it saves the
# interactions for lesson 02.

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

# %% [markdown]
# `setup()` makes the lesson reproducible: it pins PyTorch to one CPU thread, seeds the random
# generators and keeps training logs quiet. coursekit keeps MovieLens, and what the lessons save
# for each other, in the folder named by the `DATA_PATH` environment variable (`data/` by default;
# `setup(data_path=...)` picks another).

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from coursekit.course import implicit_movielens, plots, save_artifact, setup
from coursekit.interactions import Interactions
from coursekit.movielens import read_movielens_df, read_movielens_df_item, read_movielens_df_user
from coursekit.utils import IdEncoder, convert_to_implicit, remove_users_with_fewer_than_n_interactions

setup()

# %% [markdown]
# ## 1. The three files
#
# [MovieLens 100K](https://grouplens.org/datasets/movielens/100k/) is a public data set from the
# GroupLens research group: 100,000 ratings, from 1 to 5 stars, that 943 users gave 1,682 movies
# in 1997–98. The first call downloads it once, checks its checksum and caches it; the licence does
# not allow us to ship it with the course.
#
# **`u.data`** holds the ratings, one per line: who, what, how many stars, and when (a Unix
# timestamp). The IDs in the file start at 1; `read_movielens_df` subtracts 1 so that they start at
# 0, because they will index the rows and columns of a matrix.

# %%
ratings = read_movielens_df()
print(ratings.head().to_string())
print(f"{len(ratings):,} ratings by {ratings['user_id'].nunique()} users of {ratings['item_id'].nunique():,} movies")

# %% [markdown]
# **`u.item`** describes the movies: title, release date, IMDb link and 19 genre flags. Its
# `item_id` keeps the file's 1-based numbering, so movie `item_id` is item `item_id - 1` in the
# ratings.

# %%
movies = read_movielens_df_item()
print(movies[["item_id", "movie_title", "release_date", "Action", "Comedy", "Drama"]].head().to_string())

# %% [markdown]
# **`u.user`** holds a little demographic information. The models in this course are purely
# *collaborative*: they learn only from who interacted with what; the demographics and the genres
# come back in lessons 08 and 09, to help with movies and users the interactions say little about.

# %%
users = read_movielens_df_user()
print(users.head().to_string())

# %% [markdown]
# ## 2. How people rate
#
# Before modelling anything, look at the data.

# %%
# alt: Bar chart of the number of ratings with each number of stars: 4 stars is the most common, then 3 and
# alt: 5, with 2 and especially 1 star much rarer.
plots.plot_rating_distribution(ratings["rating"])
plt.show()

# %% [markdown]
# The distribution leans towards the top: people mostly watch, and so mostly rate, movies they
# expected to like. A 3 is therefore below the typical rating, not neutral:

# %%
print(f"mean rating: {ratings['rating'].mean():.2f} stars")

# %% [markdown]
# ## 3. The long tail
#
# Attention is spread very unevenly over the catalogue. Sort the movies from most to least rated:

# %%
# alt: Ratings per movie on a log scale, movies sorted from most to least rated: a shaded head of the top
# alt: 10 % of movies collects a large share of all ratings, and the curve falls steeply into a long tail
# alt: of movies with only a few ratings each.
plots.plot_item_popularity(ratings["item_id"], what="ratings")
plt.show()

# %% [markdown]
# A small head of blockbusters collects a large share of all ratings, and a long tail of movies is
# rated a handful of times. Here is that share, computed:

# %%
popularity = ratings["item_id"].value_counts()  # ratings per movie, most rated first
head = int(np.ceil(0.1 * len(popularity)))
head_share = popularity.iloc[:head].sum() / popularity.sum()
print(f"The {head} most rated movies (the top 10 %) receive {head_share:.1%} of all ratings.")
print(f"{(popularity == 1).sum()} movies were rated exactly once.")
assert 0.40 < head_share < 0.46

# %% [markdown]
# This shapes the whole course. Recommending the most popular movies to everyone is a strong
# baseline that any model must beat (lesson 03). Metrics are dominated by the head. And a model
# learns little about a movie it has seen twice, which is exactly where a good recommender would be
# most useful.

# %% [markdown]
# ## 4. From explicit to implicit feedback
#
# Stars are *explicit* feedback: the user tells us what they think. Most real systems only have
# *implicit* feedback: clicks, plays, purchases. We learn that a user chose an item, never that
# they disliked one, and an item they never touched is *unknown*, not bad.
#
# This course is about implicit feedback, so we turn the ratings into it: a rating of **4 or 5
# stars** becomes a positive interaction, and every other rating is dropped. Why 4? With a mean
# of 3.5 stars, a 3 is a lukewarm verdict; 4 and 5 mean "I liked it", which is what a click or a
# purchase is taken to mean. Note that a 1-star rating is *not* turned into a negative: it simply
# disappears, just as dislikes never show up in click logs.

# %%
implicit = convert_to_implicit(ratings, min_rating_to_keep=4)
print(implicit.head().to_string())
print(f"{len(ratings):,} ratings -> {len(implicit):,} positive interactions")
assert len(implicit) == 55_375

# %% [markdown]
# Every `rating` is now 1, and the timestamps come along (lesson 02 splits by time). Some users and
# movies lost all their interactions:

# %%
print(f"users: {implicit['user_id'].nunique()} of {ratings['user_id'].nunique()}")
print(f"movies: {implicit['item_id'].nunique():,} of {ratings['item_id'].nunique():,}")

# %% [markdown]
# ## 5. Users with very few interactions
#
# A user with one or two interactions is a problem twice over. There is almost nothing to learn
# their taste from, and we cannot both train and evaluate on them: evaluation holds out some of
# each user's interactions (lesson 02), which needs at least one left for training and one held
# out. So we drop users with fewer than 3 interactions. First, how many would each threshold cost?

# %%
per_user = implicit.groupby("user_id").size()
print(f"interactions per user: fewest {per_user.min()}, median {per_user.median():.0f}, most {per_user.max()}")
print(f"users who liked nothing (no rating of 4 or 5): {sorted(set(ratings['user_id']) - set(implicit['user_id']))}")
for n in (3, 5, 10, 20):
    kept = remove_users_with_fewer_than_n_interactions(implicit, min_num_of_interactions=n)
    print(f"at least {n:>2}: {kept['user_id'].nunique()} users, {len(kept):,} interactions")

# %% [markdown]
# GroupLens only included users who rated at least 20 movies. One of them, user 684, gave no rating
# above 3 stars, so they liked nothing and are already gone from the implicit data; each of the other
# 942 liked at least 3 movies, so the filter removes nobody here. Real logs are rarely this tidy (the exercise shows a case
# where it matters); keep the step in the pipeline and check what it does.

# %%
implicit = remove_users_with_fewer_than_n_interactions(implicit, min_num_of_interactions=3)
assert len(implicit) == 55_375

# %% [markdown]
# ## 6. IDs are row and column numbers
#
# A model stores one embedding per user and one per item in a table, and an ID is simply the row
# of that table: IDs must be the integers `0 … n-1`. Raw IDs rarely are: user names, product codes,
# numbers with gaps. `IdEncoder` learns the distinct raw IDs and maps them to consecutive integers
# (sorted, when they can be sorted), and maps them back when you want to show a result:

# %%
toy = pd.DataFrame({"user_id": ["zoe", "adam", "zoe", "mia"], "item_id": ["B-042", "A-001", "A-001", "C-123"]})
encoder = IdEncoder()
print(encoder.fit_transform(toy).to_string())
print(encoder)
print("items 0 and 2 are", encoder.decode_items([0, 2]).tolist())

# %% [markdown]
# MovieLens IDs are already integers from 0, but not every one is used any more: one user and 235
# movies lost all their interactions, which left gaps. `Interactions` refuses gaps by default, because they usually mean the IDs were
# never encoded, and every gap would be an embedding that never trains:

# %%
try:
    Interactions(users=implicit["user_id"], items=implicit["item_id"])
except ValueError as error:
    print(error)

# %% [markdown]
# Here the gaps are deliberate. Keeping the MovieLens numbering means item `i` is row `i` of
# `u.item`, which lesson 05 uses to put titles on recommendations, so we pass
# `allow_missing_ids=True` instead of re-encoding.
#
# ## 7. The `Interactions` dataset
#
# `Interactions` stores the interactions as a sparse users × items matrix and is a PyTorch
# `Dataset`. We keep the timestamps for lesson 02.

# %%
interactions = Interactions(
    users=implicit["user_id"],
    items=implicit["item_id"],
    timestamps=implicit["timestamp"],
    allow_missing_ids=True,
)
print(interactions)
assert (interactions.num_users, interactions.num_items, len(interactions)) == (943, 1674, 55_375)

# %% [markdown]
# 943 users, although one of them liked nothing, and 1,674 items: the largest movie ID anyone
# liked, plus one. `coursekit.course.implicit_movielens()` runs exactly the steps of this lesson,
# so later lessons can rebuild the same data in one line:

# %%
rebuilt = implicit_movielens()
assert (rebuilt.mat != interactions.mat).nnz == 0

# %% [markdown]
# ## 8. One training example
#
# With implicit feedback there are only positives. A model learns by comparing them with
# *negative samples*: items the user has not interacted with, drawn at random. Each item of the
# dataset is one interaction, `((user, positive item), negative items)`, with 10 negatives. Indexing
# draws them afresh each time from PyTorch's random generator (which `setup()` seeded); the loaders
# that feed training draw their own, from the seed you give them.

# %%
(user, item), negatives = interactions[0]
print(f"user {int(user)} liked item {int(item)}: {movies['movie_title'][int(item)]}")
print("negatives:", negatives.tolist())

# %% [markdown]
# These negatives are *exact*: none of them is a movie the user liked. (Lesson 04 trades that
# guarantee for speed.)

# %%
liked = interactions.mat[int(user)].indices
assert not np.isin(negatives.numpy(), liked).any()
print(f"user {int(user)} liked {len(liked)} movies, none of them among the negatives")

# %% [markdown]
# ## 9. Sparsity
#
# How full is the users × items matrix?

# %%
density = interactions.num_interactions / (interactions.num_users * interactions.num_items)
print(f"density: {density:.2%} of all user-item pairs are interactions ({1 - density:.2%} are unknown)")
assert 0.03 < density < 0.04

# %% [markdown]
# About 3.5 % is dense for a recommender data set: each user liked on average 59 of 1,674 movies.
# Real catalogues with millions of items are far sparser, which is why `Interactions` stores a
# sparse matrix: it keeps only the 55,375 nonzero entries instead of 1.6 million cells.
#
# ## 10. Save for the next lesson
#
# Lesson 02 splits these interactions. We save them to the data folder; lesson 02 loads them, or
# rebuilds them with `implicit_movielens()` when you run it on its own.

# %%
path = save_artifact(interactions, "implicit_movielens")
print(path.name)

# %% [markdown]
# ## Exercise 1
#
# Be stricter: count only **5-star** ratings as positive. How many interactions, users and movies
# remain? Does the filter of section 5 remove anyone now, and is the data denser or sparser?

# %% tags=["solution"]
# Solution
strict = convert_to_implicit(ratings, min_rating_to_keep=5)
filtered = remove_users_with_fewer_than_n_interactions(strict, min_num_of_interactions=3)
print(
    f"5 stars only: {len(strict):,} interactions, {strict['user_id'].nunique()} users, {strict['item_id'].nunique():,} movies"
)
print(f"after the filter: {len(filtered):,} interactions, {filtered['user_id'].nunique()} users")
strict_interactions = Interactions(users=filtered["user_id"], items=filtered["item_id"], allow_missing_ids=True)
strict_density = len(strict_interactions) / (strict_interactions.num_users * strict_interactions.num_items)
print(f"density: {strict_density:.2%}")
assert len(strict) == 21_201

# %% tags=["check"]
# Check your answer (it tests what your variables hold, not the numbers above).
assert len(strict) == (ratings["rating"] == 5).sum(), "strict should hold the 5-star ratings only: min_rating_to_keep=5"
assert filtered.groupby("user_id").size().min() >= 3, "filtered should keep only users with at least 3 interactions"
assert 0 < strict_density < density, (
    f"strict_density is a share of the matrix, and below the 4-star data's {density:.2%}"
)
print("all checks passed")

# %% [markdown] tags=["solution"]
# Only about a fifth of the ratings are 5 stars, and now some users gave one or two: the filter
# removes 69 users who would otherwise be impossible to evaluate. The matrix is sparser (about
# 1.4 %), so each user offers less to learn from. The threshold is a modelling choice with a
# price: a stricter notion of "liked" means cleaner positives but fewer of them.

# %% [markdown]
# ## Exercise 2
#
# Which movie do the most users *like* (4 or 5 stars)? Predict first: a 1990s hit or an older
# classic? Then find out from `implicit`: store the movie's title in `most_liked_title` and the share
# of the 942 users who liked it in `liked_share`. (Hint: `value_counts`, and `movies`, whose
# `item_id` is one more than the ratings'.)

# %% tags=["solution"]
# Solution
likes = implicit["item_id"].value_counts()
most_liked = likes.index[0]
most_liked_title = movies.loc[movies["item_id"] == most_liked + 1, "movie_title"].item()
liked_share = likes.iloc[0] / implicit["user_id"].nunique()
print(f"{most_liked_title}: liked by {likes.iloc[0]} users, {liked_share:.0%} of them")

# %% tags=["check"]
# Check your answer (it tests what your variables hold, not the numbers above).
assert isinstance(most_liked_title, str), "most_liked_title should be a title (a string) from movies['movie_title']"
(title_id,) = movies.loc[movies["movie_title"] == most_liked_title, "item_id"] - 1
counts = implicit["item_id"].value_counts()
assert counts.get(title_id, 0) == counts.max(), (
    f"{most_liked_title!r} is liked by {counts.get(title_id, 0)} users; another movie has {counts.max()}"
)
assert abs(liked_share - counts.max() / implicit["user_id"].nunique()) < 1e-9, (
    "liked_share is the number of users who liked it divided by the number of users in implicit"
)
print("all checks passed")

# %% [markdown] tags=["solution"]
# *Star Wars* (1977), liked by more than half of the users, ahead of 1990s hits like *Fargo*.
# This one movie is the head of the long tail of section 3, and lesson 03's popularity baseline
# recommends it to everyone who has not seen it yet.
