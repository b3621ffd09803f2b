"""``setup()``: the first code cell of every lesson: threads, seeds, quiet output, data path, plots."""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path

from coursekit._checks import check_int


def setup(seed: int = 22, threads: int = 1, data_path: str | os.PathLike | None = None, quiet: bool = True) -> None:
    """Prepare a notebook session so every run prints and computes the same thing.

    Parameters
    ----------
    seed
        Passed to ``pytorch_lightning.seed_everything``: seeds Python, numpy and torch, and so every
        coursekit object built afterwards with ``seed=None``.
    threads
        torch CPU threads. One thread makes results repeat exactly and is fast enough for MovieLens 100K.
    data_path
        Where MovieLens is cached; sets the ``DATA_PATH`` environment variable coursekit reads.
        By default an existing ``DATA_PATH`` is kept; a lesson opened from a clone's ``tutorials/``
        uses the clone's ``data/`` cache rather than starting a second one beside the notebooks.
    quiet
        Silence Lightning's INFO messages and warnings that are noise in lessons, so stderr stays empty.
    """
    import pytorch_lightning as pl
    import torch

    seed = check_int("seed", seed, minimum=0)
    torch.set_num_threads(check_int("threads", threads, minimum=1))
    if data_path is None and "DATA_PATH" not in os.environ:
        data_path = _checkout_data_folder()
    if data_path is not None:
        os.environ["DATA_PATH"] = os.fspath(data_path)
    if quiet:
        from pytorch_lightning.utilities.warnings import PossibleUserWarning

        from coursekit.model.trainer import LIGHTNING_LOGGERS, ignore_noisy_warnings

        for name in LIGHTNING_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)
        ignore_noisy_warnings()
        warnings.filterwarnings("ignore", category=PossibleUserWarning)
    # workers=True also seeds DataLoader worker processes, should a lesson use any.
    pl.seed_everything(seed, workers=True, verbose=not quiet)
    _matplotlib_defaults()


def _checkout_data_folder() -> Path | None:
    """``../data`` when running in a coursekit clone's ``tutorials/`` folder, else ``None``."""
    here = Path.cwd()
    cache = here.parent / "data"
    if here.name == "tutorials" and (cache / "README.md").exists() and (here.parent / "coursekit").is_dir():
        return cache
    return None


def _matplotlib_defaults() -> None:
    try:
        import matplotlib as mpl
    except ImportError:  # plots are optional
        return
    if _in_notebook_kernel():
        # Show plots inline even where MPLBACKEND names a non-interactive backend (e.g. Agg on CI),
        # so a lesson's stored outputs are the same wherever it runs.
        mpl.use("module://matplotlib_inline.backend_inline")
    mpl.rcParams.update(
        {
            "figure.figsize": (7, 4),
            "figure.dpi": 100,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "font.size": 11,
        }
    )


def _in_notebook_kernel() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and hasattr(shell, "kernel")
