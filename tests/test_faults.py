"""Faults: what happens when downloads, training, saving or processes fail half way.

Already covered elsewhere, not repeated: a truncated download and a connection closed early
(tests/test_movielens.py), a corrupted or changed cache caught by its checksum (same file),
Ctrl-C from a callback at the end of a batch and resuming from a checkpoint (tests/test_trainer.py),
an exception inside ``torch.save`` keeping the old model file and loading weights of another
embedding size (tests/test_model.py).
"""

from __future__ import annotations

import http.server
import os
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest
import torch

from coursekit import movielens
from coursekit.interactions import Interactions
from coursekit.model import CourseTrainer, MatrixFactorizationModel, load_model
from tests.contracts import ROOT_DIR
from tests.test_movielens import FAKE_CHECKSUMS, FAKE_FILES, FAKE_MD5, FAKE_ZIP

# -- downloads ------------------------------------------------------------------------------------


class _StallingHandler(http.server.BaseHTTPRequestHandler):
    """Sends the headers and half the zip, then goes silent (a dead connection, not a closed one)."""

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", str(len(FAKE_ZIP)))
        self.end_headers()
        if self.server.stall:
            self.wfile.write(FAKE_ZIP[: len(FAKE_ZIP) // 2])
            self.wfile.flush()
            self.server.release.wait(10)  # until the test is done with this request
        else:
            self.wfile.write(FAKE_ZIP)

    def log_message(self, *args):
        pass


@pytest.fixture
def stalling_server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _StallingHandler)
    httpd.daemon_threads = True
    httpd.stall, httpd.release = True, threading.Event()
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}/ml-100k.zip"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    yield httpd
    httpd.release.set()
    httpd.shutdown()
    httpd.server_close()


def _ensure(root, url, timeout=5.0):
    return movielens.ensure_movielens(root, url=url, md5=FAKE_MD5, checksums=FAKE_CHECKSUMS, timeout=timeout)


def test_download_that_stalls_mid_stream_times_out_leaves_nothing_and_recovers(stalling_server, tmp_path):
    start = time.perf_counter()
    with pytest.raises(movielens.DownloadError, match="timed out"):
        _ensure(tmp_path, stalling_server.url, timeout=0.5)
    assert time.perf_counter() - start < 15  # bounded by the 0.5 s timeout, far below the 30 s default: no hang
    assert os.listdir(tmp_path) == []  # no .part file, no half-unpacked folder
    stalling_server.stall = False
    assert (_ensure(tmp_path, stalling_server.url) / "u.data").read_text() == FAKE_FILES["u.data"]


def test_ctrl_c_during_download_leaves_nothing_and_the_next_call_recovers(stalling_server, tmp_path, monkeypatch):
    real_tqdm = movielens.tqdm

    class InterruptedBar(real_tqdm):
        def update(self, n=1):
            super().update(n)
            raise KeyboardInterrupt  # the user presses Ctrl-C after the first chunk arrived

    stalling_server.stall = False
    monkeypatch.setattr(movielens, "tqdm", InterruptedBar)
    with pytest.raises(KeyboardInterrupt):
        _ensure(tmp_path, stalling_server.url)
    assert os.listdir(tmp_path) == []
    monkeypatch.setattr(movielens, "tqdm", real_tqdm)
    assert (_ensure(tmp_path, stalling_server.url) / "u.data").read_text() == FAKE_FILES["u.data"]


# -- training interrupted from inside the loss ------------------------------------------------------


def planted(seed: int = 0, num_users: int = 60, num_items: int = 30, per_user: int = 6) -> tuple:
    """Even users like items 0..14, odd users 15..29: (train, held-out) with 5 + 1 items per user."""
    rng = np.random.default_rng(seed)
    half = num_items // 2
    chosen = np.stack([rng.choice(half, per_user, replace=False) + half * (u % 2) for u in range(num_users)])
    users = np.repeat(np.arange(num_users), per_user - 1)

    def build(users, items):
        return Interactions(
            users=users,
            items=items,
            num_users=num_users,
            num_items=num_items,
            allow_missing_ids=True,
            num_negative_samples=3,
        )

    return build(users, chosen[:, :-1].ravel()), build(np.arange(num_users), chosen[:, -1])


class InterruptingLoss:
    """The hinge loss, but Ctrl-C arrives while computing the loss of batch ``at`` (before backward)."""

    __name__ = "interrupting_hinge"

    def __init__(self, at: int) -> None:
        self.at, self.calls = at, 0

    def __call__(self, positive, negative, num_items=None):
        self.calls += 1
        if self.calls == self.at + 1:
            raise KeyboardInterrupt
        return torch.clamp(1.0 - positive[:, None] + negative, min=0).mean()


def test_ctrl_c_inside_the_loss_mid_epoch_leaves_a_usable_model():
    train, _ = planted()
    loss = InterruptingLoss(at=2)
    model = MatrixFactorizationModel(train, embedding_dim=4, lr=5e-2, batch_size=32, loss=loss, seed=0)
    assert len(model.train_dataloader()) > 3
    before = {k: v.clone() for k, v in model.state_dict().items()}
    trainer = CourseTrainer(model, max_epochs=3, enable_progress_bar=False)
    with pytest.warns(UserWarning, match="interrupted .* in epoch 0"):
        trainer.fit(model)
    assert trainer.interrupted and loss.calls == 3
    # Two optimizer steps happened, none half-applied: every weight is finite, and some changed.
    assert all(torch.isfinite(v).all() for v in model.state_dict().values())
    assert not torch.equal(before["factorization.item_embeddings.weight"], model.item_embeddings.weight)
    model.eval()
    assert torch.isfinite(model.score_all_items(torch.arange(train.num_users))).all()
    assert len(model.recommend(0, k=3, unseen_items_only=True)) == 3
    more = CourseTrainer(model, max_epochs=2, enable_progress_bar=False)  # and training goes on
    more.fit(model)
    assert not more.interrupted and len(more.history) == 2 and more.history.train_loss.notna().all()


# -- save_model when the process dies mid-write ----------------------------------------------------

DIE_MID_SAVE = """
import os, sys, torch
from coursekit.model import load_model

model = load_model(sys.argv[1])
with torch.no_grad():
    model.item_biases.weight.add_(5.0)
real_save = torch.save

def save_then_die(obj, f, *args, **kwargs):
    real_save(obj, f, *args, **kwargs)
    f.flush()
    f.truncate(f.tell() // 2)   # half of the new file is on disk...
    os._exit(9)                 # ...when the process is killed: no except/finally clause runs

torch.save = save_then_die
model.save_model(sys.argv[1])
"""


@pytest.mark.slow
def test_a_process_killed_while_saving_leaves_the_previous_model_intact(tmp_path):
    train, _ = planted()
    model = MatrixFactorizationModel(train, embedding_dim=4, seed=0)
    path = model.save_model(tmp_path / "model.pt")
    before = path.read_bytes()
    script = tmp_path / "die_mid_save.py"
    script.write_text(DIE_MID_SAVE)
    env = {**os.environ, "PYTHONPATH": str(ROOT_DIR)}
    run = subprocess.run([sys.executable, str(script), str(path)], env=env, capture_output=True, text=True)
    assert run.returncode == 9, run.stderr
    assert path.read_bytes() == before  # readers still see the complete old file
    users = torch.arange(train.num_users)
    torch.testing.assert_close(load_model(path).score_all_items(users), model.score_all_items(users))
    # Only a hidden temporary file may be left behind by a killed process; never a truncated model.pt.
    left = [name for name in os.listdir(tmp_path) if name not in ("model.pt", script.name)]
    assert all(name.startswith(".model.pt.") for name in left), left


# -- DDP with real processes, launched the way Lightning's `ddp` strategy expects -------------------

DDP_SCRIPT = """
import os, warnings
import torch
from coursekit.course import setup
from coursekit.metrics import auc, evaluate_in_batches
from coursekit.model import CourseTrainer, MatrixFactorizationModel
from tests.test_faults import planted

setup(seed=0, threads=1)
warnings.simplefilter("ignore")
train, held_out = planted()
model = MatrixFactorizationModel(train, embedding_dim=4, lr=5e-2, batch_size=32, seed=0, lr_scheduler_func=None)
trainer = CourseTrainer(
    model, max_epochs=8, accelerator="cpu", devices=2, strategy="ddp", enable_progress_bar=False
)
trainer.fit(model)
model.eval()
(score,) = evaluate_in_batches([auc], held_out, model, train_interactions=train, progress=False)
# One file per rank: both processes share stdout, where their lines could interleave.
with open(f"rank{trainer.global_rank}.txt", "w") as out:
    out.write(f"rank={trainer.global_rank} world={trainer.world_size} "
              f"batches={len(model.train_dataloader())} auc={score:.4f}")
"""


@pytest.mark.slow
def test_ddp_on_two_cpu_processes_trains_a_usable_model(tmp_path):
    script = tmp_path / "train_ddp.py"
    script.write_text(textwrap.dedent(DDP_SCRIPT))
    env = {**os.environ, "PYTHONPATH": str(ROOT_DIR), "PL_DISABLE_FORK": "1", "MASTER_PORT": str(_free_port())}
    # A generous bound, not a timing assertion: it only stops a hung process group (a loaded CI machine
    # took 65 s where a quiet one takes 20).
    run = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-4000:]
    assert sorted(p.name for p in tmp_path.glob("rank*.txt")) == ["rank0.txt", "rank1.txt"], run.stdout
    lines = [(tmp_path / f"rank{rank}.txt").read_text() for rank in (0, 1)]
    assert [line.split()[:2] for line in lines] == [["rank=0", "world=2"], ["rank=1", "world=2"]]
    # Each rank sees half of the 300 interactions: ceil(150 / 32) = 5 batches per epoch.
    # (AUC of a model that knows only the tastes: (15 + 9 / 2) / 24 = 0.81; chance is 0.5.)
    assert all("batches=5" in line for line in lines)
    scores = [float(line.split("auc=")[1]) for line in lines]
    assert scores[0] == scores[1]  # DDP keeps both replicas identical
    assert scores[0] > 0.7  # held-out items of the user's own taste rank above the other taste


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
