# %% [markdown]
# # 05 · What the model learnt: similar movies, similar users, recommendations
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/coursekit/coursekit/blob/main/tutorials/05_similarity.ipynb) [![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/coursekit/coursekit/main?labpath=tutorials/05_similarity.ipynb)
#
# A trained matrix factorization model is more than a scoring function: its vectors place every
# movie and every user in a shared "taste space". In this lesson you look inside it. You find the
# movies most similar to *Star Wars* and to two other films, the users most similar to a given
# user, recommend movies to one user next to what they already liked, and draw the whole catalogue
# on a 2-D map. It uses the tuned model saved by lesson 04 (trained again here, in a few seconds,
# if you start with this lesson).

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

from coursekit.course import TUNED, load_or_train, plots, setup, tutorial_split
from coursekit.model import with_titles
from coursekit.movielens import read_movielens_df_item
from coursekit.ranking import item_popularity

setup()

# %% [markdown]
# ## 1. The model and the movie titles
#
# `load_or_train` loads the model lesson 04 saved, or trains one with the same recipe and seed
# (`coursekit.course.TUNED`, seed 22) and saves it. A saved model keeps the training matrix, so it still
# knows which movies each user has seen. The movie file gives us titles; its ids start at 1, the
# model's at 0, so Star Wars (1977), movie 50 in the file, is item 49.

# %%
train, validation = tutorial_split()
model = load_or_train(TUNED, seed=22, name="mf_tuned")
movies = read_movielens_df_item()
print(model)
print(movies.loc[movies["item_id"] == 50, ["item_id", "movie_title"]].to_string(index=False))

# %% [markdown]
# ## 2. Similar movies
#
# Two movies are similar, to this model, when their vectors point the same way: users who like
# one tend to like the other. We measure that with the **cosine similarity**, the cosine of the
# angle between the two vectors, $\frac{q_i \cdot q_j}{\lVert q_i \rVert \lVert q_j \rVert}$: 1 for the
# same direction, 0 for unrelated, -1 for opposite. The length of a vector (how strongly a movie
# expresses its tastes) and the biases (how popular it is) are left out: we ask what a movie is
# *like*, not how much it is liked.

# %% tags=["nbval-ignore-output"]
star_wars = with_titles(model.item_item_similarity(49).head(6), movies)
print(star_wars.to_string(float_format="{:.4f}".format))
assert star_wars.index[0] == 49
assert 180 in star_wars.index[1:6]  # Return of the Jedi

# %% [markdown]
# The model was never told that *Return of the Jedi* is a sequel; it found out from who liked
# what. The rest of the list is what the same audience loved: the other Star Wars film and the
# crowd-pleasers of the mid-nineties. Two more films, from quite different shelves:

# %% tags=["nbval-ignore-output"]
for item_id in (0, 126):  # Toy Story (1995), The Godfather (1972)
    print(
        with_titles(model.item_item_similarity(item_id).head(6), movies).to_string(float_format="{:.4f}".format),
        end="\n\n",
    )
godfather = model.item_item_similarity(126).head(6)
assert 186 in godfather.index  # The Godfather: Part II

# %% [markdown]
# You will notice a few very popular movies turning up in several lists. Popularity is not only in
# the biases: the most-liked movies also share a direction in the vectors, because almost every
# user likes some of them. Section 5 makes that visible.
#
# ## 3. Similar users
#
# Users have vectors in the same space, so the same measure finds users with similar taste. Is that
# real? Users whose vectors agree should have liked many of the same movies; we check with the
# *Jaccard* overlap of their training movies (shared movies / movies liked by either).

# %% tags=["nbval-ignore-output"]
user = 0
similar_users = model.user_user_similarity(user)
print(similar_users.head(6).to_string(float_format="{:.4f}".format))

liked = [set(row) for row in np.split(train.mat.indices, train.mat.indptr[1:-1])]


def jaccard(a, b):
    return len(liked[a] & liked[b]) / len(liked[a] | liked[b])


closest = similar_users.index[1:6]
farthest = similar_users.index[-5:]
overlap = pd.Series(
    {
        "5 most similar users": np.mean([jaccard(user, other) for other in closest]),
        "5 least similar users": np.mean([jaccard(user, other) for other in farthest]),
        "all other users": np.mean([jaccard(user, other) for other in range(train.num_users) if other != user]),
    },
    name="mean Jaccard overlap with user 0",
)
print(overlap.to_string(float_format="{:.4f}".format))
assert overlap["5 most similar users"] > 1.5 * overlap["all other users"] > overlap["5 least similar users"]

# %% [markdown]
# The users the model calls similar share far more movies with user 0 than an average user does,
# and the least similar share fewer. (The vectors were trained on these same training movies, so
# this shows the space is coherent, not that it predicts anything; lesson 03's metrics did that.)
#
# ## 4. Recommendations next to what a user liked
#
# `recommend` ranks every movie the user has *not* seen in train and returns the best `k`. To
# judge a list, put it next to what the user liked. We show user 0's ten training movies that
# the model itself scores highest (their most typical likes), the ten recommendations, and mark
# the recommendations that are among the user's held-out validation movies.

# %% tags=["nbval-ignore-output"]
recommended = with_titles(model.recommend(user, k=10, unseen_items_only=True), movies)
scores = model.get_item_predictions(user)
typical_likes = scores[scores.index.isin(list(liked[user]))].head(10)
held_out = set(validation.mat[user].indices)
side_by_side = pd.DataFrame(
    {
        "liked in train": with_titles(typical_likes, movies)["title"].to_numpy(),
        "recommended": recommended["title"].to_numpy(),
        "held out?": ["yes" if item in held_out else "" for item in recommended["item_id"]],
    },
    index=pd.RangeIndex(1, 11, name="rank"),
)
print(side_by_side.to_string())
assert not set(recommended["item_id"]) & liked[user]  # nothing the user already liked
assert (side_by_side["held out?"] == "yes").sum() >= 1

# %% [markdown]
# The recommendations share the flavour of what the user liked, and some of them are movies the
# user really did like but that we had hidden from the model. The others are not necessarily
# wrong: the user may never have seen them.
#
# ## 5. A map of the catalogue
#
# The tuned vectors have 64 dimensions; to look at them we project onto the two directions along which
# they vary most (principal component analysis, computed with an SVD by `plots.project_2d`). Each
# grey dot is a movie, larger for more popular movies; a few well-known titles are labelled.

# %%
# alt: Scatter of every movie's 64-dimensional vector projected onto two dimensions, dot size by
# alt: popularity, with about a dozen labelled titles: the popular movies spread along the first axis, and
# alt: old classics such as Casablanca and The Godfather: Part II sit at the other end of the second axis
# alt: from the 1996-97 releases.
popularity = item_popularity(train)  # training interactions per movie
labelled = [49, 171, 180, 0, 126, 186, 55, 312, 287, 293, 70, 94, 482]
titles = movies.set_index(movies["item_id"] - 1)["movie_title"]
fig, ax = plt.subplots(figsize=(9, 7))
plots.plot_item_embeddings(model, labels={i: titles[i] for i in labelled}, sizes=3 + popularity / 10, ax=ax)
plt.show()

# %% tags=["approx-embeddings"]
points = plots.project_2d(model.item_embeddings.weight)
first_axis_vs_popularity = pd.Series(points[:, 0]).corr(pd.Series(np.log1p(popularity)), method="spearman")
print(f"rank correlation of the first axis with popularity: {first_axis_vs_popularity:.4f}")
assert abs(first_axis_vs_popularity) > 0.5

# %% [markdown]
# The first axis is largely **popularity**: the big dots, the blockbusters, sit at one end,
# and obscure movies pile up near the other. That is the shared direction noticed in section 2,
# and why popular movies appear in many similarity lists. The second axis is about *time* as much
# as genre: old classics such as *Casablanca* and *The Godfather: Part II* sit at one end, the
# 1996-97 releases (*Scream*, *Liar Liar*, *Titanic*), new when the data was collected, at the
# other. Nobody told the model when a film came out; the audiences differ. Two dimensions show only
# a slice of the 64; movies close on the map can still be far apart in the full space, so trust the
# similarity lists over the picture.
#
# ## Exercise 1
#
# Similarity depends on the model. Lesson 03 saved a smaller model (10-dimensional vectors,
# trained with lesson 03's settings, the recipe `LESSON03` with seed 22) as `mf_lesson03`. Load it with
# `load_or_train` (which trains it if it is missing) and compare its five movies most similar to *Fargo* (item 99)
# with the tuned model's.

# %% tags=["solution", "nbval-ignore-output"]
# Solution
from coursekit.course.recipes import LESSON03

lesson03_model = load_or_train(LESSON03, seed=22, name="mf_lesson03")
columns = {}
for name, m in [("tuned (64 dims)", model), ("lesson 03 (10 dims)", lesson03_model)]:
    similar = with_titles(m.item_item_similarity(99).iloc[1:6], movies)
    columns[name] = similar["title"].to_numpy()
    columns[f"{name} similarity"] = similar["similarity"].round(4).to_numpy()
fargo = pd.DataFrame(columns, index=pd.RangeIndex(1, 6, name="rank"))
print(fargo.to_string())
assert lesson03_model.item_item_similarity(99).iloc[1:6].mean() > model.item_item_similarity(99).iloc[1:6].mean()

# %% tags=["check"]
# Check your answer (it tests what your variables hold, not the numbers above).
assert lesson03_model.hparams.embedding_dim == 10, "lesson03_model is lesson 03's 10-dimensional model"
assert fargo.shape[0] == 5 and 99 not in lesson03_model.item_item_similarity(99).iloc[1:6].index, (
    "five movies, Fargo left out"
)
print("all checks passed")

# %% [markdown] tags=["solution"]
# The lists overlap but are not the same, and the smaller model's similarities are higher: in 10
# dimensions there is less room, so more movies end up pointing the same way, and popularity takes a larger share of
# each vector. Neither list is "the" truth; each is one model's view of who liked what.

# %% [markdown]
# ## Exercise 2
#
# `item_item_similarity` is a few lines of linear algebra. Do them yourself: take the item vectors
# of the 13 labelled movies of section 5 (`labelled`, rows of `model.item_embeddings.weight`),
# scale each to length 1, and compute all their cosine similarities in one matrix product. Which two
# *different* movies are most alike? Guess before you compute. Store their item ids in `pair` (a
# tuple of two ids) and their similarity in `pair_similarity`.

# %% tags=["solution", "nbval-ignore-output"]
# Solution
vectors = model.item_embeddings.weight.detach()[labelled]
unit = vectors / vectors.norm(dim=1, keepdim=True)
similarity = (unit @ unit.T).numpy()
np.fill_diagonal(similarity, -np.inf)  # a movie is trivially most like itself
first, second = np.unravel_index(similarity.argmax(), similarity.shape)
pair, pair_similarity = (labelled[first], labelled[second]), float(similarity[first, second])
print(f"{titles[pair[0]]} and {titles[pair[1]]}: cosine similarity {pair_similarity:.4f}")

# %% tags=["check"]
# Check your answer (it tests what your variables hold, not the numbers above).
assert len(pair) == 2 and pair[0] != pair[1] and set(pair) <= set(labelled), "pair: two different labelled movies"
library = model.item_item_similarity(int(pair[0]))
assert abs(pair_similarity - library[int(pair[1])]) < 1e-4, (
    f"item_item_similarity gives {library[int(pair[1])]:.4f} for this pair, you computed {pair_similarity:.4f}"
)
best = max(model.item_item_similarity(a)[[b for b in labelled if b != a]].max() for a in labelled)
assert pair_similarity > best - 1e-4, f"another labelled pair is more alike (similarity {best:.4f})"
print("all checks passed")

# %% [markdown] tags=["solution"]
# Look back at the map of section 5: the pair you found should sit close together there too, though
# a 2-D map squeezes 64 dimensions and cannot keep every distance. Cosine similarity ignores the
# vectors' lengths, so it compares *what* a movie is liked for, not how much.
