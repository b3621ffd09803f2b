# %% [markdown]
# # 03 · Matrix factorization: a first recommender
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/coursekit/coursekit/blob/main/tutorials/03_matrix_factorization.ipynb) [![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/coursekit/coursekit/main?labpath=tutorials/03_matrix_factorization.ipynb)
#
# This is where the course starts to recommend. You will meet the model behind most
# collaborative recommenders, matrix factorization: every user and every movie becomes a short
# vector of "tastes", and a user's score for a movie is how well the two vectors agree. Implicit
# feedback only says what users liked, so you will see how a model learns from *pairs* (a liked
# movie against one the user did not touch), which pairwise losses do that, and where the
# untouched movies, the *negative samples*, come from. Then you train the model, evaluate it
# honestly, and check it against the simplest baseline there is: recommending what is popular.
# The lesson uses the train/validation split saved by lesson 02 (rebuilt if you start here) and
# saves the trained model for lesson 05.

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
import torch

from coursekit.course import compare_models, fit_timed, plots, save_trained_model, seed_study, setup, tutorial_split
from coursekit.course.compare import PairedComparison
from coursekit.course.recipes import LESSON03
from coursekit.interactions import InteractionsDataLoader
from coursekit.losses import adaptive_hinge, bpr, hinge
from coursekit.metrics import auc, evaluate_in_batches, mapk, mrr
from coursekit.model import CourseTrainer, MatrixFactorizationModel, PopularityModel
from coursekit.model.factorization import MatrixFactorization
from coursekit.sampling import is_positive

setup()

# %% [markdown]
# ## 1. The data
#
# The tutorial split of lesson 02: for every user, 90 % of the movies they rated 4 stars or more
# to learn from, and 10 % held out to check the model on.

# %%
train, validation = tutorial_split()
print(f"train: {len(train):,} interactions   validation: {len(validation):,} interactions")
print(f"{train.num_users} users x {train.num_items:,} movies")
assert (len(train), len(validation)) == (49_426, 5_949)

# %% [markdown]
# ## 2. The model: taste vectors and a dot product
#
# Matrix factorization gives every user $u$ a vector $p_u$ and every movie $i$ a vector $q_i$, both
# of the same short length $d$ (the *embedding dimension*), plus one number each, the biases
# $b_u$ and $b_i$. The score of movie $i$ for user $u$ is
#
# $$\text{score}(u, i) = p_u \cdot q_i + b_u + b_i .$$
#
# Think of each of the $d$ coordinates as a taste: "how much science fiction", "how much
# romance". Nobody names them; the model finds whatever directions best explain who liked what.
# The dot product is large when user and movie point the same way. The item bias $b_i$ is how
# much *everybody* likes movie $i$: it soaks up popularity, so the vectors are left to explain
# taste. (The user bias shifts all of one user's scores equally, so it never changes their ranking.
# With the pairwise losses of this course it does not change the loss either: every loss compares a
# positive and a negative *of the same user*, and $b_u$ cancels out of
# $\text{score}(u, i) - \text{score}(u, j)$. It never receives a gradient and stays at 0, as section 5
# checks; it is there for models that predict star ratings, where it matters.)
#
# A hand-made example with $d = 2$, tastes (science fiction, romance):

# %%
user = np.array([2.0, -0.5])  # loves science fiction, not romance
movies = {
    "space opera": np.array([1.5, 0.0]),
    "romantic comedy": np.array([-0.2, 1.8]),
    "space romance": np.array([1.0, 1.0]),
}
for title, vector in movies.items():
    print(f"{title:<16} score {user @ vector:+.2f}")

# %% [markdown]
# Stacking all user vectors as the rows of a matrix $P$ (943 x $d$) and all movie vectors as the
# rows of $Q$ (1,674 x $d$), the scores of every user for every movie are $P Q^\top$: a 943 x 1,674
# matrix described by only $(943 + 1674) \cdot d$ numbers. That is the *factorization*.
#
# The library's model is exactly this formula. Before training the vectors are small random
# numbers and the biases are 0, so we can check the formula by hand:

# %%
untrained = MatrixFactorizationModel(train=train, embedding_dim=10, seed=0)
u, i = 0, 49
by_hand = (
    untrained.user_embeddings.weight[u] @ untrained.item_embeddings.weight[i]
    + untrained.user_biases.weight[u, 0]
    + untrained.item_biases.weight[i, 0]
)
print(
    f"model(user 0, item 49) = {untrained(torch.tensor(u), torch.tensor(i)).item():.6f}   by hand: {by_hand.item():.6f}"
)
assert torch.isclose(untrained(torch.tensor(u), torch.tensor(i)), by_hand)

# %% [markdown]
# ## 3. Learning from pairs
#
# With ratings, we could ask the model to predict the number of stars. Implicit data has no such
# number: it only says *user 0 liked movie 49*. What we want from the model is an **order**: a
# movie the user liked should score higher than a movie they did not touch. So the model is
# trained on pairs. For a liked (positive) movie and an untouched (negative) one, the *margin*
# is `score(positive) - score(negative)`, and a **pairwise loss** is a decreasing function of it:
#
# * **BPR** (Bayesian Personalised Ranking), $-\log \sigma(\text{margin})$: the negative
#   log-probability that the user prefers the positive. Never exactly zero, so every pair keeps
#   pushing a little, and pairs in the wrong order push hardest.
# * **Hinge**, $\max(0,\ 1 - \text{margin})$: zero as soon as the positive wins by at least 1. Pairs
#   that are already ordered well stop mattering, and all effort goes to the others.

# %%
# alt: Loss against the score margin, positive minus negative, for BPR and the hinge: BPR falls smoothly
# alt: and never reaches zero, the hinge falls in a straight line to zero at a margin of 1 and stays there.
plots.plot_pairwise_losses(["bpr", "hinge"])
plt.show()

# %% [markdown]
# Each training row comes with **several** negatives (10 here). The *adaptive* losses use only
# the hardest of them: the negative the model currently scores highest. If one of ten random
# movies already beats the positive, that is the one worth learning from; the average over all
# ten would be dominated by easy pairs that are already right. With several negatives, the names
# `'hinge'` and `'bpr'` switch to their adaptive form automatically (`'hinge'` is the default).
# One positive scored 2.0 against three negatives:

# %%
positive = torch.tensor([2.0])
negatives = torch.tensor([[-1.0, 0.5, 1.8]])
for name, loss in [
    ("bpr (mean of 3 pairs)", bpr),
    ("hinge (mean of 3 pairs)", hinge),
    ("adaptive hinge", adaptive_hinge),
]:
    print(f"{name:<24} {loss(positive, negatives).item():.4f}")

# %% [markdown]
# The mean hinge is diluted by the two easy negatives; the adaptive hinge looks only at the 1.8
# that nearly beats the positive (margin 0.2, loss 0.8).
#
# ## 4. Negative sampling
#
# Where do negatives come from? A user has liked about 52 of 1,674 movies; every other movie is a
# candidate. Comparing each positive with *all* of them would mean 49,426 x ~1,620 = 80 million
# pairs per epoch, almost all of them easy. Instead, every time a positive is used, the loader
# draws a few negatives at random: a cheap, noisy but unbiased view of the full comparison, and a
# fresh one every epoch.
#
# `InteractionsDataLoader` samples **exact** negatives: uniformly among the movies that user has
# *not* interacted with in train, so a "negative" is never secretly a positive. A batch holds the
# users, their positive movies, and 10 negatives per row:

# %%
loader = InteractionsDataLoader(train, batch_size=1024, shuffle=True, seed=0)
(users, positives), negatives = next(iter(loader))
print(f"users {tuple(users.shape)}, positives {tuple(positives.shape)}, negatives {tuple(negatives.shape)}")
collisions = is_positive(train.mat, users.numpy()[:, None], negatives.numpy()).sum()
print(f"negatives that are in fact positives: {collisions}")
assert collisions == 0

# %% [markdown]
# Exactness costs a little time per batch. Lesson 04 shows the cheaper *approximate* sampling and
# when its occasional mistakes do not matter.
#
# ## 5. Training
#
# ### One epoch by hand
#
# The model's math is a plain PyTorch module, `MatrixFactorization`: the four tables of section 2
# and a `forward` that returns $p_u \cdot q_i + b_u + b_i$. Training it is the loop every PyTorch
# model uses: score a batch, compute the loss, backpropagate, step the optimizer. One pass over the
# training data, written out (the positive goes first among each row's items, the 10 negatives after):

# %% tags=["approx-training"]
net = MatrixFactorization(train.num_users, train.num_items, embedding_dim=10, seed=0)
optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
losses = []
for (users, positives), negatives in InteractionsDataLoader(train, batch_size=1024, shuffle=True, seed=0):
    scores = net(users[:, None], torch.cat([positives[:, None], negatives], dim=1))  # [B, 1 + 10]
    loss = adaptive_hinge(scores[:, 0], scores[:, 1:])  # the positive against its hardest negative
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    losses.append(loss.item())
print(f"{len(losses)} batches: loss {losses[0]:.4f} on the first, {np.mean(losses[-10:]):.4f} on the last ten")

# %% [markdown]
# ### The trainer
#
# That loop is all there is to it; a course trainer adds what a real run needs around it: a
# separate optimizer for the biases (lesson 04), a learning-rate schedule, a validation loss each
# epoch, a progress line and a history. `MatrixFactorizationModel` wraps the train and validation interactions in loaders with exact
# negatives. We use 10-dimensional vectors and a learning rate of 0.01 (Adam for the vectors; the
# biases get their own optimizer, which lesson 04 explains). `CourseTrainer` is a PyTorch Lightning
# `Trainer` with quiet, reproducible defaults and one progress line that moves once per epoch and
# shows the latest losses. Training takes a few seconds.

# %%
model = MatrixFactorizationModel(train=train, val=validation, embedding_dim=10, lr=1e-2, seed=22)
trainer = CourseTrainer(model, max_epochs=10)

# %% tags=["nbval-ignore-output"]
trainer.fit(model)
model.eval()  # scoring mode: no dropout (we use none, but it is the habit)

# %% [markdown]
# The trainer kept one row per epoch: the mean training and validation loss, and each
# optimizer's learning rate.

# %% tags=["approx-training"]
print(trainer.history.to_string(float_format="{:.4f}".format))

# %%
# alt: Training and validation loss per epoch: the training loss falls over the ten epochs and flattens
# alt: once the learning rate is cut, while the validation loss stays roughly flat around 1.
trainer.plot_history()
plt.show()

# %% [markdown]
# Section 2 claimed the user biases cannot learn anything from a pairwise loss. After ten epochs:

# %%
print(f"user biases that moved away from 0: {int((model.user_biases.weight != 0).sum())} of {model.num_users}")

# %% [markdown]
# The training loss falls. The validation loss does not, and that is not overfitting
# here: the validation loss is computed with negatives sampled against the *validation*
# interactions only, so a user's training movies count as negatives there. The better the model
# learns what each user liked in train, the more of those "negatives" it ranks above the held-out
# positives, and the higher that loss. Losses are a training signal; to judge a recommender we
# measure its rankings.
#
# The learning-rate columns show a side effect: the default schedule (`ReduceLROnPlateau` with
# `patience=1`) divides the learning rate by 10 once the monitored validation loss has failed to
# improve on its best for more than one epoch. In the history above, six epochs (0 to 5) run at 0.01;
# after that the rates are 0.001 and then 0.0001, the model barely moves and the training loss flattens. Lesson 04 looks at learning-rate schedules.
#
# ## 6. Evaluation
#
# For every user with held-out movies, the model scores all 1,674 movies and we ask where the
# held-out ones land:
#
# * **MAP@10**: mean average precision of the top 10: rewards held-out movies in the first ten
#   places, the higher the better.
# * **MRR**: mean reciprocal rank of the first held-out movie (1 if it is first, 1/2 if second...).
# * **AUC**: the probability that a random held-out movie outranks a random movie the user never
#   interacted with (0.5 is chance).

# %% tags=["approx-metrics"]
mapk_score, mrr_score, auc_score = evaluate_in_batches([mapk, mrr, auc], validation, model)
print(f"unmasked   MAP@10 {mapk_score:.4f}   MRR {mrr_score:.4f}   AUC {auc_score:.4f}")
masked_map, masked_mrr, masked_auc = evaluate_in_batches([mapk, mrr, auc], validation, model, train_interactions=train)
print(f"masked     MAP@10 {masked_map:.4f}   MRR {masked_mrr:.4f}   AUC {masked_auc:.4f}")
assert 0.85 < auc_score < 1 and 0.85 < masked_auc < 1
assert masked_map > 2 * mapk_score and masked_mrr > mrr_score

# %% [markdown]
# The two lines differ because of the movies each user liked in **train**. Unmasked, they stay in
# the ranking: the model has learnt them, so it puts them at the top, where they push the held-out
# movies down, and they count as "negatives" although the user liked them. *Masked*
# (`train_interactions=train`), they are removed from the ranking before the metrics look at it.
# That is what a real recommender does (nobody wants to be recommended what they already watched),
# so the **masked** numbers are the honest ones. They are much higher for the top-of-list metrics,
# MAP@10 and MRR; AUC, which looks at the whole list, moves less.
#
# ## 7. Is it any good? The popularity baseline
#
# A number means little without a baseline. `PopularityModel` recommends to everybody the movies
# most users liked in train. It is surprisingly hard to beat, because the long tail of lesson 01
# means most of anyone's likes are popular movies. `compare_models` evaluates several models both
# ways into one table.

# %% tags=["approx-metrics"]
popularity = PopularityModel(train=train)
table = compare_models(validation, {"popularity": popularity, "matrix factorization": model}, train)
print(table.to_string(float_format="{:.4f}".format))
assert table.loc["matrix factorization", ("masked", "MAP@10")] > 1.5 * table.loc["popularity", ("masked", "MAP@10")]
assert table.loc["matrix factorization", ("masked", "AUC")] > table.loc["popularity", ("masked", "AUC")]

# %% [markdown]
# Popularity already ranks a held-out movie above a random one 87 % of the time: popular movies
# are liked a lot. Matrix factorization beats it everywhere, and most clearly at the top of the
# list, where personal taste matters: masked, its MAP@10 is more than twice popularity's.
#
# ## 8. Saving the model
#
# Lesson 05 explores what this model has learnt. `save_trained_model` writes its weights,
# settings and the training matrix (so it still knows what each user has seen) next to the
# data cache.

# %%
path = save_trained_model(model, "mf_lesson03")
print(f"saved {path.name}")

# %% [markdown]
# ## Exercise 1
#
# The model above used the default loss, the adaptive hinge. Train the same model with
# `loss="adaptive_bpr"` (BPR on the hardest of the 10 negatives) and compare the two in one table.
# Which loss ranks better at the top of the list here?

# %% tags=["solution", "approx-metrics"]
# Solution
bpr_model = MatrixFactorizationModel(
    train=train, val=validation, embedding_dim=10, lr=1e-2, loss="adaptive_bpr", seed=22
)
fit_timed(bpr_model, max_epochs=10)
exercise = compare_models(validation, {"hinge (adaptive)": model, "bpr (adaptive)": bpr_model}, train)
print(exercise.to_string(float_format="{:.4f}".format))
assert 0.85 < exercise.loc["bpr (adaptive)", ("masked", "AUC")] < 1
assert exercise.loc["hinge (adaptive)", ("masked", "MAP@10")] > exercise.loc["bpr (adaptive)", ("masked", "MAP@10")]

# %% tags=["check"]
# Check your answer (it tests what your variables hold, not the numbers above).
assert bpr_model.loss_name == "adaptive_bpr", (
    f"bpr_model should train loss='adaptive_bpr', it trains {bpr_model.loss_name}"
)
assert bpr_model.hparams.embedding_dim == 10 and bpr_model.hparams.lr == 1e-2, "keep the other settings of model"
assert list(exercise.index) == ["hinge (adaptive)", "bpr (adaptive)"] and ("masked", "MAP@10") in exercise.columns
print("all checks passed")

# %% [markdown]
# With this seed the adaptive hinge is ahead at the top of the list. The hinge stops pushing a pair
# as soon as the positive leads by 1, so all its effort goes to the pairs still in the wrong order;
# BPR keeps pushing pairs that are already right. But one seed is one draw. The same two recipes
# over three seeds, compared seed by seed (lesson 04 does this for every claim it makes):

# %% tags=["approx-metrics"]
bpr_recipe = LESSON03.replace(name="lesson03_bpr", loss="adaptive_bpr")
losses_compared = PairedComparison(
    seed_study(validation, LESSON03, train, seeds=3, val=validation),
    seed_study(validation, bpr_recipe, train, seeds=3, val=validation),
)
print("adaptive BPR - adaptive hinge, masked, over seeds 0-2 (mean ± standard deviation):")
for metric in ("MAP@10", "MRR", "AUC"):
    differences = losses_compared.differences[("masked", metric)]
    print(f"  {metric:<7} {differences.mean():+.4f} ± {differences.std():.4f}")

# %% [markdown]
# The difference on MAP@10 and MRR is several times its spread over seeds: here, the hinge really
# is better at the top of the list. Do not turn this into a rule: which loss wins depends on the
# data, the number of negatives and the learning rate.

# %% [markdown]
# ## Exercise 2
#
# Write a metric of your own. **Hit rate@10** is the share of users who find *at least one* of
# their held-out movies in their top 10. Write `hit_rate(scores, targets, k=10)` with the signature
# every coursekit metric has (`scores` a float tensor `[users, items]`, `targets` a bool tensor of
# the same shape marking held-out movies; return one value per user), then pass it to
# `evaluate_in_batches` with `precision` and `recall` for the model above, masked. Predict first:
# can the hit rate ever be below precision@10 or recall@10? Store the three results in
# `hit_rate_value`, `precision_value` and `recall_value`. (Hint: `scores.topk(k, dim=1).indices`
# and `targets.gather`.)

# %% tags=["solution", "approx-metrics"]
# Solution
from coursekit.metrics import precision, recall


def hit_rate(scores, targets, k=10):
    """1 for a user with a held-out movie among their k highest scores, else 0."""
    top = scores.topk(k, dim=1).indices
    return targets.gather(1, top).any(dim=1).double()


hit_rate_value, precision_value, recall_value = evaluate_in_batches(
    [hit_rate, precision, recall], validation, model, train_interactions=train
)
print(f"hit rate@10 {hit_rate_value:.4f}   precision@10 {precision_value:.4f}   recall@10 {recall_value:.4f}")

# %% tags=["check"]
# Check your answer (it tests what your variables hold, not the numbers above).
toy_scores = torch.tensor([[0.9, 0.8, 0.7, 0.1], [0.1, 0.2, 0.3, 0.4]])
toy_targets = torch.tensor([[False, False, True, False], [True, False, False, False]])
toy = torch.as_tensor(hit_rate(toy_scores, toy_targets, k=2)).double()
assert toy.shape == (2,), f"hit_rate should return one value per user (shape (2,)), got shape {tuple(toy.shape)}"
assert toy.tolist() == [0.0, 0.0], "with k=2 neither toy user has a held-out movie among their 2 highest scores"
assert torch.as_tensor(hit_rate(toy_scores, toy_targets, k=3)).double().tolist() == [1.0, 0.0], (
    "with k=3 the first toy user's third movie is a hit"
)
assert 0 <= hit_rate_value <= 1, "hit_rate_value is a share of users"
assert hit_rate_value >= max(precision_value, recall_value) - 1e-9, (
    "a user without a hit has precision and recall 0, so the averages cannot exceed the hit rate"
)
print("all checks passed")

# %% [markdown] tags=["solution"]
# Never: a user with no hit scores 0 on all three, and a user with a hit scores 1 on the hit rate
# but at most 1 on the others. So the hit rate is the most generous of the three, which is why it is
# popular in papers; about two users in three find a liked movie in their top 10 here, yet on
# average fewer than two of the ten slots are hits (precision). Which one to report depends on the
# product: one good suggestion per screen (hit rate), or a whole list worth scrolling (precision).
