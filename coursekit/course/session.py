"""``setup()``: the first code cell of every lesson, and ``reset()`` to undo it.

``setup()`` changes process-wide state, so it says what it changed in one printed line:

* **seed**: Python's, numpy's and torch's global generators (``pytorch_lightning.seed_everything``);
  every coursekit object built afterwards with ``seed=None`` draws its seed from torch's;
* **threads**: torch's CPU thread count (``threads=None`` leaves torch's default);
* **data path**: the ``DATA_PATH`` environment variable coursekit reads;
* **logs**: Lightning's INFO messages (hardware announcements) hidden, and the warnings listed in
  ``coursekit.model.trainer.NOISY_WARNINGS`` ignored; every other warning, including Lightning's
  "GPU available but not used", still shows;
* **plots**: :data:`PLOT_STYLE` applied to matplotlib's ``rcParams``.

``reset()`` puts all of it back as it was before the first ``setup()`` (the random generators'
states included). For plots only, ``with plot_style(): ...`` applies the style inside a block.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from coursekit._checks import check_int

#: The course's matplotlib style (``rcParams`` keys): what ``setup()`` applies and ``reset()`` undoes.
PLOT_STYLE: dict[str, Any] = {
    "figure.figsize": (7, 4),
    "figure.dpi": 100,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "font.size": 11,
}

# What the first setup() found, so reset() can restore it; None while nothing is changed.
_saved: dict[str, Any] | None = None


def setup(
    seed: int = 22,
    threads: int | None = 1,
    data_path: str | os.PathLike | None = None,
    quiet: bool = True,
    plots: bool = True,
) -> str:
    """Prepare a notebook session so every run prints and computes the same thing; print what was done.

    Parameters
    ----------
    seed
        Seeds Python, numpy and torch (``pytorch_lightning.seed_everything``), and so every
        coursekit object built afterwards with ``seed=None``.
    threads
        torch CPU threads. One thread makes results repeat exactly and is fast enough for
        MovieLens 100K; ``None`` leaves torch's default.
    data_path
        Where MovieLens is cached; sets the ``DATA_PATH`` environment variable coursekit reads.
        By default an existing ``DATA_PATH`` is kept; a lesson opened from a clone's ``tutorials/``
        uses the clone's ``data/`` cache rather than starting a second one beside the notebooks.
    quiet
        Hide Lightning's INFO messages and the known-noise warnings (``NOISY_WARNINGS``), so stderr
        stays empty; other warnings still show.
    plots
        Apply :data:`PLOT_STYLE` to matplotlib (and show plots inline in a notebook kernel).

    Returns
    -------
    str
        The line it printed.
    """
    import pytorch_lightning as pl
    import torch

    seed = check_int("seed", seed, minimum=0)
    if threads is not None:
        threads = check_int("threads", threads, minimum=1)
    _save_state_once()
    if threads is not None:
        torch.set_num_threads(threads)
    if data_path is None and "DATA_PATH" not in os.environ:
        data_path = _checkout_data_folder()
    if data_path is not None:
        os.environ["DATA_PATH"] = os.fspath(data_path)
    if quiet:
        from coursekit.model.trainer import LIGHTNING_LOGGERS, ignore_noisy_warnings

        for name in LIGHTNING_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)
        ignore_noisy_warnings()  # only these messages: e.g. "GPU available but not used" still shows
    # workers=True also seeds DataLoader worker processes, should a lesson use any.
    pl.seed_everything(seed, workers=True, verbose=False)
    styled = plots and _apply_plot_style()
    line = (
        f"coursekit setup: seed {seed}, torch threads {torch.get_num_threads()}"
        f"{'' if threads is not None else ' (default)'}, device {_device()}, data in {_shown_data_path()}"
        f"{', quiet Lightning logs' if quiet else ''}{', course plot style' if styled else ''}"
        " (undo: coursekit.course.reset())"
    )
    print(line)
    return line


def reset() -> None:
    """Undo every ``setup()`` of this session: threads, seeds, data path, log levels, warnings, plots."""
    global _saved
    if _saved is None:
        return
    import numpy as np
    import torch

    state, _saved = _saved, None
    torch.set_num_threads(state["threads"])
    random.setstate(state["python_rng"])
    np.random.set_state(state["numpy_rng"])
    torch.set_rng_state(state["torch_rng"])
    if state["data_path"] is None:
        os.environ.pop("DATA_PATH", None)
    else:
        os.environ["DATA_PATH"] = state["data_path"]
    for name, value in state["pl_environment"].items():  # what seed_everything sets for worker processes
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    for name, level in state["log_levels"].items():
        logging.getLogger(name).setLevel(level)
    warnings.filters[:] = state["warning_filters"]
    if state["rc"] is not None:
        import matplotlib as mpl

        mpl.rcParams.update(state["rc"])


@contextlib.contextmanager
def plot_style() -> Iterator[None]:
    """Apply :data:`PLOT_STYLE` inside a ``with`` block only (``matplotlib.style.context``)."""
    import matplotlib.style

    with matplotlib.style.context(PLOT_STYLE):
        yield


def _save_state_once() -> None:
    global _saved
    if _saved is not None:
        return  # a second setup() must not overwrite what reset() restores
    import numpy as np
    import torch

    from coursekit.model.trainer import LIGHTNING_LOGGERS

    try:
        import matplotlib as mpl

        rc = {key: mpl.rcParams[key] for key in PLOT_STYLE}
    except ImportError:
        rc = None
    _saved = {
        "threads": torch.get_num_threads(),
        "python_rng": random.getstate(),
        "numpy_rng": np.random.get_state(),
        "torch_rng": torch.get_rng_state(),
        "data_path": os.environ.get("DATA_PATH"),
        "pl_environment": {name: os.environ.get(name) for name in ("PL_GLOBAL_SEED", "PL_SEED_WORKERS")},
        "log_levels": {name: logging.getLogger(name).level for name in LIGHTNING_LOGGERS},
        "warning_filters": list(warnings.filters),
        "rc": rc,
    }


def _device() -> str:
    """What torch can use: CUDA when a GPU is visible, else the CPU (the trainer decides what it uses)."""
    import torch

    if torch.cuda.is_available():
        return f"cuda available ({torch.cuda.get_device_name(0)})"
    return "cpu (no CUDA GPU)"


def _shown_data_path() -> str:
    """``DATA_PATH`` relative to the working folder when it is nearby (``../data``), so outputs match across clones."""
    from coursekit.movielens import get_data_path

    path = Path(get_data_path())
    try:
        relative = os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return str(path)
    return relative if not relative.startswith(os.pardir + os.sep + os.pardir) else str(path)


def _checkout_data_folder() -> Path | None:
    """``../data`` when running in a coursekit clone's ``tutorials/`` folder, else ``None``."""
    here = Path.cwd()
    cache = here.parent / "data"
    if here.name == "tutorials" and (cache / "README.md").exists() and (here.parent / "coursekit").is_dir():
        return cache
    return None


def _apply_plot_style() -> bool:
    try:
        import matplotlib as mpl
    except ImportError:  # plots are optional
        return False
    if _in_notebook_kernel():
        # Show plots inline even where MPLBACKEND names a non-interactive backend (e.g. Agg on CI),
        # so a lesson's stored outputs are the same wherever it runs.
        mpl.use("module://matplotlib_inline.backend_inline")
    mpl.rcParams.update(PLOT_STYLE)
    return True


def _in_notebook_kernel() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and hasattr(shell, "kernel")
