"""How far a number printed by a lesson may move between machines: the one place the course states it.

A code cell opts in with a tag naming its kind, e.g. ``# %% tags=["approx-metrics"]``; every other
cell is compared exactly (after ``tutorials/sanitize.cfg``). Only decimal numbers move: text and
integers (counts, sizes, ids) never do. Each tolerance is a small factor above the largest
difference measured between the configurations the course is tested under (default kernels,
``ATEN_CPU_CAPABILITY=default`` and ``avx2``, ``OMP_NUM_THREADS=1`` and ``2``, ``MKL_CBWR=COMPATIBLE``):
see ``python tools/spread.py`` and the README section "Numbers that move between machines".
"""

from __future__ import annotations

from outputs import Tolerance

TAG_PREFIX = "approx-"

#: kind -> tolerance. The comments give the largest difference measured across the configurations.
TOLERANCES: dict[str, Tolerance] = {
    # MAP@k, MRR, AUC, NDCG, recall, shares of recommendations, rank correlations: values in [0, 1]
    # computed from a trained model.
    "metrics": Tolerance(abs=0.02),
    # training and validation losses, learning rates and other per-epoch training figures.
    "training": Tolerance(abs=0.02, rel=0.05),
    # cosine similarities, biases, norms and 2-D coordinates of trained embeddings.
    "embeddings": Tolerance(abs=0.05, rel=0.05),
}


def tolerance_of(tags: list[str]) -> Tolerance | None:
    """The tolerance a cell's tags ask for, or ``None`` (exact comparison)."""
    kinds = [tag[len(TAG_PREFIX):] for tag in tags if tag.startswith(TAG_PREFIX)]
    unknown = [kind for kind in kinds if kind not in TOLERANCES]
    if unknown:
        raise ValueError(f"unknown tolerance tag {TAG_PREFIX}{unknown[0]}: use one of "
                         + ", ".join(TAG_PREFIX + k for k in TOLERANCES))
    if not kinds:
        return None
    # A cell printing several kinds gets the loosest of them.
    chosen = [TOLERANCES[kind] for kind in kinds]
    return Tolerance(abs=max(t.abs for t in chosen), rel=max(t.rel for t in chosen))
