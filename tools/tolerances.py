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

#: kind -> tolerance. Measured on the course's machine kind (torch 2.13.0 CPU): ``OMP_NUM_THREADS=1``
#: and ``2``, ``MKL_CBWR=COMPATIBLE`` and ``ATEN_CPU_CAPABILITY=avx2`` print exactly what the default
#: prints; ``ATEN_CPU_CAPABILITY=default`` moves every trained number, by at most the figure in each
#: comment. Ten epochs of Adam amplify a difference of 1e-7 in one matrix product into the third
#: decimal: these are not errors, and they are about as large as the change from another seed.
TOLERANCES: dict[str, Tolerance] = {
    # MAP@k, MRR, AUC, NDCG, recall, shares of recommendations: values in [0, 1] from a trained model.
    # Largest move 0.0071 (MRR of the approximate-negatives model); 0.0037 elsewhere.
    "metrics": Tolerance(abs=0.02),
    # Per-epoch training and validation losses and learning rates. Largest move 0.17 % (a validation
    # loss); learning rates never moved. Relative, so a schedule cutting the rate one epoch
    # earlier or later is still caught; the absolute part covers rounding to 4 decimals.
    "training": Tolerance(abs=1e-4, rel=0.01),
    # Cosine similarities, bias spreads, rank correlations and projections of trained embeddings.
    # Largest move 0.0070 (a rank correlation); similarities 0.0033.
    "embeddings": Tolerance(abs=0.02),
}


def tolerance_of(tags: list[str]) -> Tolerance | None:
    """The tolerance a cell's tags ask for, or ``None`` (exact comparison)."""
    kinds = [tag[len(TAG_PREFIX) :] for tag in tags if tag.startswith(TAG_PREFIX)]
    unknown = [kind for kind in kinds if kind not in TOLERANCES]
    if unknown:
        raise ValueError(
            f"unknown tolerance tag {TAG_PREFIX}{unknown[0]}: use one of "
            + ", ".join(TAG_PREFIX + k for k in TOLERANCES)
        )
    if not kinds:
        return None
    # A cell printing several kinds gets the loosest of them.
    chosen = [TOLERANCES[kind] for kind in kinds]
    return Tolerance(abs=max(t.abs for t in chosen), rel=max(t.rel for t in chosen))
