"""coursekit.course.setup(): one printed line, nothing hidden wholesale, everything undoable."""

from __future__ import annotations

import logging
import os
import random
import warnings

import numpy as np
import pytest
import pytorch_lightning as pl
import torch

from coursekit.course import reset, session, setup
from coursekit.model.trainer import LIGHTNING_LOGGERS


@pytest.fixture
def clean_session(monkeypatch):
    """Whatever a test's setup() changes is undone, even when the test fails."""
    import matplotlib as mpl

    monkeypatch.delenv("DATA_PATH", raising=False)
    threads = torch.get_num_threads()
    with warnings.catch_warnings(), mpl.rc_context():
        yield
        reset()
    torch.set_num_threads(threads)


def test_setup_prints_one_line_saying_what_it_did(clean_session, tmp_path, capfd):
    line = setup(seed=5, threads=1, data_path=tmp_path)
    out, err = capfd.readouterr()
    assert out == line + "\n" and err == ""
    assert line.startswith("coursekit setup: seed 5, torch threads 1, device ")
    assert f"data in {tmp_path}" in line or "data in " in line
    assert "quiet Lightning logs" in line and "course plot style" in line and "reset()" in line


def test_setup_makes_a_quiet_reproducible_session(clean_session, tmp_path, capfd):
    import matplotlib as mpl

    setup(seed=5, threads=1, data_path=tmp_path)
    assert torch.get_num_threads() == 1 and os.environ["DATA_PATH"] == str(tmp_path)
    first = torch.rand(3)
    setup(seed=5, threads=1)
    assert torch.equal(torch.rand(3), first) and np.random.rand() == np.random.RandomState(5).rand()
    assert mpl.rcParams["axes.grid"] and mpl.rcParams["figure.figsize"] == [7, 4]
    capfd.readouterr()
    pl.Trainer(accelerator="cpu", logger=False, enable_progress_bar=False)  # hardware INFO lines stay hidden
    assert capfd.readouterr().err == ""
    with pytest.raises(ValueError, match="threads"):
        setup(threads=0)


def test_setup_threads_none_leaves_torchs_default(clean_session):
    torch.set_num_threads(2)
    line = setup(threads=None)
    assert torch.get_num_threads() == 2 and "torch threads 2 (default)" in line


def test_setup_hides_only_known_noise_not_the_gpu_warning_class(clean_session):
    from pytorch_lightning.utilities.warnings import PossibleUserWarning

    setup()
    with warnings.catch_warnings(record=True) as caught:
        # Filters added by setup() stay in force inside catch_warnings; "always" is not added.
        warnings.warn(
            "GPU available but not used. You can set it by doing `Trainer(accelerator='gpu')`.",
            PossibleUserWarning,
            stacklevel=1,
        )
        warnings.warn(
            "The 'train_dataloader' does not have many workers which may be a bottleneck.",
            PossibleUserWarning,
            stacklevel=1,
        )
    messages = [str(w.message) for w in caught]
    assert any("GPU available but not used" in m for m in messages)
    assert not any("does not have many workers" in m for m in messages)


def test_reset_undoes_everything_setup_changed(tmp_path, monkeypatch):
    import matplotlib as mpl

    reset()  # start from a session no earlier setup() changed
    monkeypatch.setenv("DATA_PATH", "before")
    threads = torch.get_num_threads()
    levels = [logging.getLogger(name).level for name in LIGHTNING_LOGGERS]
    filters = list(warnings.filters)
    rc = {key: mpl.rcParams[key] for key in session.PLOT_STYLE}
    random.seed(1), np.random.seed(1), torch.manual_seed(1)
    expected = (random.random(), np.random.rand(), torch.rand(1))
    random.seed(1), np.random.seed(1), torch.manual_seed(1)
    setup(seed=3, threads=1, data_path=tmp_path)
    setup(seed=4, threads=1)  # a second setup: reset still goes back to before the first
    reset()
    assert torch.get_num_threads() == threads and os.environ["DATA_PATH"] == "before"
    assert [logging.getLogger(name).level for name in LIGHTNING_LOGGERS] == levels
    assert list(warnings.filters) == filters
    assert {key: mpl.rcParams[key] for key in session.PLOT_STYLE} == rc
    assert (random.random(), np.random.rand()) == expected[:2] and torch.equal(torch.rand(1), expected[2])
    reset()  # nothing to undo: no error


def test_plot_style_applies_inside_a_block_only():
    import matplotlib as mpl

    before = mpl.rcParams["axes.grid"]
    with session.plot_style():
        assert mpl.rcParams["axes.grid"] is True and mpl.rcParams["font.size"] == 11
    assert mpl.rcParams["axes.grid"] == before
