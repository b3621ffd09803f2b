"""A hybrid model: a trained matrix factorization's embeddings plus item (and user) metadata.

Collie's ``HybridPretrainedModel``, in the course's terms. Start from a trained
:class:`~coursekit.model.MatrixFactorizationModel`, copy its user and item vectors and biases,
and score a pair with a small network over everything known about it::

    m_i = towers(item metadata of i)              # e.g. 19 genre flags -> 8 numbers
    n_u = towers(user metadata of u)              # optional: age, gender, occupation -> 8 numbers
    h   = MLP([p_u, n_u, q_i, m_i])               # combined layers, leaky ReLU between them
    score(u, i) = h + b_u + b_i

The embeddings carry taste, learned from interactions; the metadata says what an item *is*,
which helps most where interactions are few. ``freeze_embeddings=True`` trains only the new
layers (and the biases, as Collie does) and keeps the copied vectors fixed; ``False`` fine-tunes
them too, usually at a lower learning rate, starting from a frozen hybrid (pass it as
``pretrained``).

Training reuses :class:`MatrixFactorizationModel`'s machinery unchanged (loaders, losses with the
hardest-negative shortcut, optimizer, schedules, logging): this class only changes how a pair is
scored. The first combined layer acts on a concatenation, so it splits into a user half and an item
half, ``W [p_u, n_u, q_i, m_i] = W_user [p_u, n_u] + W_item [q_i, m_i]``: scoring every item for a
batch of users computes each half once and adds them, instead of building a row per pair.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from coursekit._checks import check_fraction, check_int
from coursekit.metadata import Metadata, check_metadata
from coursekit.model.matrix_factorization import MatrixFactorizationModel, default_lr_scheduler
from coursekit.optim import RowSparseOptimizer

#: Slope of the leaky ReLU between layers (torch's default, as in Collie).
NEGATIVE_SLOPE = 0.01
#: Pair activations ``users x items x hidden`` computed at once by ``score_all_items`` (16 MB of float32).
SCORE_CHUNK_ELEMENTS = 2**22
#: Settings of ``MatrixFactorizationModel`` that a hybrid fixes (they belong to the embeddings' training).
_FIXED = {"dropout_p": 0.0, "sparse": False, "bias_optimizer": None}


class HybridModel(MatrixFactorizationModel):
    """A pretrained matrix factorization's embeddings and biases, combined with metadata by a small MLP.

    Parameters
    ----------
    train, val
        Training and validation data, as for ``MatrixFactorizationModel`` (``train`` may be left out
        to build a model for prediction only).
    pretrained
        A trained ``MatrixFactorizationModel``: its vectors and biases are copied (it is not changed).
        Or a trained ``HybridModel`` with the same layer sizes: everything is copied, its layers too,
        to continue training it, e.g. fine-tuning a frozen hybrid with ``freeze_embeddings=False``.
    item_metadata
        ``[num_items, features]`` finite numbers (a :class:`coursekit.metadata.Metadata`, an array,
        a DataFrame or a tensor); row ``i`` describes item ``i``.
    user_metadata
        Optional ``[num_users, features]``, likewise.
    metadata_layers_dims, user_metadata_layers_dims
        Sizes of the linear layers applied to the item (user) metadata alone, each followed by a
        leaky ReLU and dropout; ``()`` passes the raw metadata on. Collie's lesson uses ``(8,)``.
    combined_layers_dims
        Sizes of the hidden layers over the concatenation ``[p_u, n_u, q_i, m_i]``; a last linear
        layer maps to one score. ``()`` makes the score linear in the concatenation.
    dropout
        Dropout probability after every hidden layer while training.
    lr, lr_scheduler_func, weight_decay, loss, batch_size
        As for ``MatrixFactorizationModel``; one optimizer trains every trainable parameter at ``lr``
        (Collie's hybrid has no separate bias optimizer).
    optimizer
        A dense optimizer: a name (``'adam'``, ``'sgd'``, ``'adagrad'``) or a ``torch.optim`` class.
        The row-sparse ones would skip the dense layers.
    freeze_embeddings
        Keep the copied user and item vectors fixed (``True``, Collie's default) or train them too.
        The biases train either way.
    seed
        Seeds the new layers' initial weights and the loaders built here.
    """

    def __init__(
        self,
        train: Any = None,
        val: Any = None,
        pretrained: MatrixFactorizationModel | None = None,
        item_metadata: Any = None,
        user_metadata: Any = None,
        metadata_layers_dims: Sequence[int] = (8,),
        user_metadata_layers_dims: Sequence[int] = (8,),
        combined_layers_dims: Sequence[int] = (16,),
        dropout: float = 0.0,
        lr: float = 1e-2,
        lr_scheduler_func: Callable[[torch.optim.Optimizer], Any] | None = default_lr_scheduler,
        weight_decay: float = 0.0,
        optimizer: str | type[torch.optim.Optimizer] = "adam",
        freeze_embeddings: bool = True,
        loss: str | Callable[..., torch.Tensor] = "adaptive_hinge",
        batch_size: int = 1024,
        seed: int | None = None,
    ) -> None:
        if not isinstance(pretrained, MatrixFactorizationModel):
            raise TypeError(
                "pretrained must be a trained MatrixFactorizationModel (or HybridModel) whose embeddings the "
                f"hybrid starts from, got {type(pretrained).__name__}"
            )
        if item_metadata is None:
            raise ValueError("HybridModel needs item_metadata: [num_items, features], e.g. movielens_item_metadata()")
        if not isinstance(freeze_embeddings, (bool, np.bool_)):
            raise TypeError(f"freeze_embeddings must be True or False, got {freeze_embeddings!r}")
        dropout = check_fraction("dropout", dropout, allow_zero=True)
        item_dims = _layer_dims("metadata_layers_dims", metadata_layers_dims)
        user_dims = _layer_dims("user_metadata_layers_dims", user_metadata_layers_dims)
        combined_dims = _layer_dims("combined_layers_dims", combined_layers_dims)
        if isinstance(optimizer, str) and optimizer in ("sparse_adam", "lazy_adam", "row_sgd", "row_adagrad"):
            raise ValueError(
                f"optimizer={optimizer!r} updates only the embedding rows a batch used; a hybrid also trains "
                "dense layers: use 'adam', 'sgd' or 'adagrad'"
            )
        if isinstance(optimizer, type) and issubclass(optimizer, RowSparseOptimizer):
            raise ValueError(f"optimizer={optimizer.__name__} is row-sparse; a hybrid needs a dense optimizer")

        num_users, num_items = pretrained.num_users, pretrained.num_items
        items = check_metadata("item_metadata", _values(item_metadata), num_items)
        users = None if user_metadata is None else check_metadata("user_metadata", _values(user_metadata), num_users)
        # Lightning's save_hyperparameters (in super().__init__) compares this frame's arguments with ==,
        # which an array cannot answer: keep only the checked copies.
        item_metadata = user_metadata = None
        super().__init__(
            train,
            val,
            embedding_dim=pretrained.hparams.embedding_dim,
            lr=lr,
            bias_lr=lr,
            lr_scheduler_func=lr_scheduler_func,
            weight_decay=weight_decay,
            optimizer=optimizer,
            loss=loss,
            batch_size=batch_size,
            seed=seed,
            num_users=num_users,
            num_items=num_items,
            **_FIXED,
        )
        if (self.num_users, self.num_items) != (num_users, num_items):
            raise ValueError(
                f"pretrained has {num_users} users x {num_items} items but train has {self.num_users} x "
                f"{self.num_items}: train the matrix factorization on the same Interactions"
            )
        # Buffers: saved with the weights and moved to the model's device with them, never trained.
        self.register_buffer("item_metadata", torch.from_numpy(items))
        self.register_buffer("user_metadata", None if users is None else torch.from_numpy(users))

        self.hparams.update(
            {
                "metadata_layers_dims": item_dims,
                "user_metadata_layers_dims": user_dims if users is not None else [],
                "combined_layers_dims": combined_dims,
                "dropout": dropout,
                "freeze_embeddings": bool(freeze_embeddings),
                "num_item_features": items.shape[1],
                "num_user_features": None if users is None else users.shape[1],
            }
        )
        generator = torch.Generator().manual_seed(self.hparams.seed + 3)  # +1, +2: the loaders
        self.item_metadata_layers = _tower(items.shape[1], item_dims, dropout, generator)
        self.user_metadata_layers = None if users is None else _tower(users.shape[1], user_dims, dropout, generator)
        dim = self.hparams.embedding_dim
        self._user_width = dim + (0 if users is None else (user_dims[-1] if user_dims else users.shape[1]))
        item_width = dim + (item_dims[-1] if item_dims else items.shape[1])
        widths = [self._user_width + item_width, *combined_dims, 1]
        self.combined_layers = nn.ModuleList(_linear(a, b, generator) for a, b in zip(widths[:-1], widths[1:]))
        self.dropout_layer = nn.Dropout(dropout)

        if isinstance(pretrained, HybridModel):
            self._copy_hybrid(pretrained)
        else:
            self.factorization.load_state_dict(pretrained.factorization.state_dict())
        for table in (self.factorization.user_embeddings, self.factorization.item_embeddings):
            table.weight.requires_grad_(not freeze_embeddings)

    def _copy_hybrid(self, pretrained: HybridModel) -> None:
        """Every weight of ``pretrained`` (not its metadata: this model's own is kept)."""
        own = self.state_dict()
        state = {k: v for k, v in pretrained.state_dict().items() if not k.endswith("_metadata")}
        mismatched = [k for k in own if k in state and own[k].shape != state[k].shape]
        missing = sorted(set(own) - set(state) - {"item_metadata", "user_metadata"})
        unexpected = sorted(set(state) - set(own))  # e.g. its user-metadata layers, when this model has none
        if mismatched or missing or unexpected:
            raise ValueError(
                "pretrained is a HybridModel with other layer sizes or metadata widths "
                f"({', '.join(mismatched + missing + unexpected)} differ): pass the same metadata and "
                "*_layers_dims it was built with"
            )
        self.load_state_dict(state, strict=False)

    # -- scoring -------------------------------------------------------------------------------

    def _user_table(self) -> torch.Tensor:
        """``[p_u, n_u]`` for every user: ``[num_users, user width]``."""
        parts = [self.factorization.user_embeddings.weight]
        if self.user_metadata is not None:
            layers = self.user_metadata_layers
            parts.append(self.user_metadata if layers is None else layers(self.user_metadata))
        return torch.cat(parts, dim=1)

    def _item_table(self) -> torch.Tensor:
        """``[q_i, m_i]`` for every item: ``[num_items, item width]``."""
        layers = self.item_metadata_layers
        metadata = self.item_metadata if layers is None else layers(self.item_metadata)
        return torch.cat([self.factorization.item_embeddings.weight, metadata], dim=1)

    def _first_layer(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The first combined layer's user half for every user and item half for every item.

        ``W [p_u, n_u, q_i, m_i] + b = (W_user [p_u, n_u] + b) + W_item [q_i, m_i]``: ``[num_users, h]``
        and ``[num_items, h]``, added per pair. Whole tables, once per batch: cheaper than gathering and
        concatenating a row for each of a batch's 11,000 pairs (and metadata dropout then drops the
        same features of an item for the whole batch).
        """
        first, width = self.combined_layers[0], self._user_width
        user_part = F.linear(self._user_table(), first.weight[:, :width], first.bias)
        return user_part, F.linear(self._item_table(), first.weight[:, width:])

    def _rest(self, hidden: torch.Tensor) -> torch.Tensor:
        """From the first layer's output to one score per row (the last dimension is dropped)."""
        for layer in self.combined_layers[1:]:
            hidden = layer(self.dropout_layer(F.leaky_relu(hidden, NEGATIVE_SLOPE)))
        return hidden.squeeze(-1)

    def _scores(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """Scores of ``users`` and ``items`` broadcast together (valid ids, any shapes)."""
        user_part, item_part = self._first_layer()
        biases = self.factorization.user_biases.weight[users, 0] + self.factorization.item_biases.weight[items, 0]
        return self._rest(user_part[users] + item_part[items]) + biases

    def _pair_scores(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """Scores ``[B, M]`` of users ``[B]`` against items ``[B, M]`` (the training step's call)."""
        return self._scores(users.unsqueeze(1), items)

    def forward(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """Scores of paired ``users`` and ``items`` (broadcast together; output has their shape)."""
        users, items = self._check_pairs(users, items)
        return self._scores(users.to(self.device), items.to(self.device))

    @torch.no_grad()
    def score_all_items(self, user_ids: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
        """Scores ``[B, num_items]`` of every item for each user (no dropout, no gradients), into ``out`` if given.

        Each item's half of the first layer is computed once, each user's once; the pairs go
        through the remaining layers a chunk of users at a time.
        """
        users = self._check_user_tensor(user_ids).to(self.device)
        user_part, item_part = self._first_layer()
        user_part = user_part[users]
        item_bias = self.factorization.item_biases.weight[:, 0]
        user_bias = self.factorization.user_biases.weight[users, 0]
        if out is None:
            out = torch.empty(len(users), self.num_items, device=self.device)
        chunk = max(1, SCORE_CHUNK_ELEMENTS // (self.num_items * item_part.shape[-1]))
        for start in range(0, len(users), chunk):
            rows = slice(start, start + chunk)
            hidden = user_part[rows, None, :] + item_part[None, :, :]  # [chunk, num_items, hidden]
            out[rows] = self._rest(hidden) + item_bias + user_bias[rows, None]
        return out

    # -- training ------------------------------------------------------------------------------

    def _trains_hardest_only(self, negatives: torch.Tensor) -> bool:
        # Finding the hardest negative and then scoring it again draws new dropout masks.
        dropping = self.training and self.hparams.dropout > 0
        return super()._trains_hardest_only(negatives) and not dropping

    @property
    def embeddings_frozen(self) -> bool:
        """Whether the user and item vectors are kept fixed while training."""
        return not self.factorization.item_embeddings.weight.requires_grad

    # -- persistence ---------------------------------------------------------------------------

    @classmethod
    def _from_config(cls, config: dict[str, Any]) -> HybridModel:
        """An untrained hybrid of the saved sizes; ``load_model`` then loads weights and metadata."""
        users, items = config["num_users"], config["num_items"]
        placeholder = MatrixFactorizationModel(
            num_users=users, num_items=items, embedding_dim=config["embedding_dim"], seed=0
        )
        user_features = config["num_user_features"]
        keys = (
            "metadata_layers_dims",
            "user_metadata_layers_dims",
            "combined_layers_dims",
            "dropout",
            "lr",
            "weight_decay",
            "optimizer",
            "freeze_embeddings",
            "loss",
            "batch_size",
            "seed",
        )
        kwargs = {key: config[key] for key in keys}
        if "lr_scheduler_func" in config:  # present only when it was None
            kwargs["lr_scheduler_func"] = None
        return cls(
            pretrained=placeholder,
            item_metadata=np.zeros((items, config["num_item_features"]), dtype=np.float32),
            user_metadata=None if user_features is None else np.zeros((users, user_features), dtype=np.float32),
            **kwargs,
        )

    @classmethod
    def _state_shapes(cls, config: dict[str, Any]) -> dict[str, tuple[int, ...]]:
        shapes = super()._state_shapes(config)
        users, items, dim = config["num_users"], config["num_items"], config["embedding_dim"]
        item_features, user_features = config["num_item_features"], config["num_user_features"]
        shapes["item_metadata"] = (items, item_features)
        item_widths = [item_features, *config["metadata_layers_dims"]]
        shapes.update(_tower_shapes("item_metadata_layers", item_widths))
        user_width = dim
        if user_features is not None:
            shapes["user_metadata"] = (users, user_features)
            user_widths = [user_features, *config["user_metadata_layers_dims"]]
            shapes.update(_tower_shapes("user_metadata_layers", user_widths))
            user_width += user_widths[-1]
        widths = [user_width + dim + item_widths[-1], *config["combined_layers_dims"], 1]
        for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
            shapes[f"combined_layers.{i}.weight"] = (b, a)
            shapes[f"combined_layers.{i}.bias"] = (b,)
        return shapes

    def __repr__(self) -> str:
        hp = self.hparams
        users = "" if hp.num_user_features is None else f", {hp.num_user_features} user features"
        return (
            f"{type(self).__name__}({self.num_users} users, {self.num_items} items, embedding_dim={hp.embedding_dim}, "
            f"{hp.num_item_features} item features{users}, combined_layers_dims={list(hp.combined_layers_dims)}, "
            f"embeddings {'frozen' if self.embeddings_frozen else 'trained'})"
        )


def _values(metadata: Any) -> Any:
    return metadata.values if isinstance(metadata, Metadata) else metadata


def _layer_dims(name: str, dims: Any) -> list[int]:
    if isinstance(dims, (str, bytes)) or not isinstance(dims, Sequence):
        raise TypeError(f"{name} must be a sequence of layer sizes such as (8,) or (), got {dims!r}")
    return [check_int(f"{name}[{i}]", dim, minimum=1) for i, dim in enumerate(dims)]


def _linear(fan_in: int, fan_out: int, generator: torch.Generator) -> nn.Linear:
    # skip_init: nn.Linear's own init would draw from torch's global RNG. Xavier-normal weights and
    # zero biases, as in Collie.
    layer = torch.nn.utils.skip_init(nn.Linear, fan_in, fan_out)
    nn.init.xavier_normal_(layer.weight, generator=generator)
    nn.init.zeros_(layer.bias)
    return layer


def _tower(fan_in: int, dims: list[int], dropout: float, generator: torch.Generator) -> nn.Sequential | None:
    """Linear layers over metadata alone, each followed by a leaky ReLU and dropout (``None`` for no layers)."""
    if not dims:
        return None
    layers: list[nn.Module] = []
    for a, b in zip([fan_in, *dims[:-1]], dims):
        layers += [_linear(a, b, generator), nn.LeakyReLU(NEGATIVE_SLOPE), nn.Dropout(dropout)]
    return nn.Sequential(*layers)


def _tower_shapes(prefix: str, widths: list[int]) -> dict[str, tuple[int, ...]]:
    shapes: dict[str, tuple[int, ...]] = {}
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
        shapes[f"{prefix}.{3 * i}.weight"] = (b, a)
        shapes[f"{prefix}.{3 * i}.bias"] = (b,)
    return shapes
