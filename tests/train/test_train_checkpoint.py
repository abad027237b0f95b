"""Checkpoints: atomic writes, best-metric file, corrupt checkpoint kept apart, resume after SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
from _helpers import blobs2d  # noqa: E402

from medimg_kernel.errors import CheckpointError  # noqa: E402
from medimg_kernel.models import build_model  # noqa: E402
from medimg_kernel.train import CheckpointManager, Trainer, load_checkpoint, save_checkpoint  # noqa: E402

HERE = Path(__file__).parent
REPO = HERE.parent.parent


def test_atomic_save_keeps_old_file_on_failure(tmp_path, monkeypatch) -> None:
    path = tmp_path / "c.pt"
    save_checkpoint({"a": torch.ones(3)}, path)
    real_save = torch.save

    def broken_save(obj, fh, *a, **k):
        fh.write(b"partial")
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint({"a": torch.zeros(3)}, path)
    monkeypatch.setattr(torch, "save", real_save)
    assert torch.equal(load_checkpoint(path)["a"], torch.ones(3))
    assert [p.name for p in tmp_path.iterdir()] == ["c.pt"]  # no temporary file left


def test_load_checkpoint_errors(tmp_path) -> None:
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "none.pt")
    torch.save({"x": 1}, tmp_path / "plain.pt")
    with pytest.raises(CheckpointError, match="not a medimg training checkpoint"):
        load_checkpoint(tmp_path / "plain.pt")


def test_corrupt_last_checkpoint_error_and_previous_kept(tmp_path) -> None:
    x, y = blobs2d(32, 16)

    def trainer(epochs: int) -> Trainer:
        torch.manual_seed(0)
        return Trainer(build_model("simplecnn", 2, 1, 3, channels=(4,)), max_epochs=epochs, batch_size=16,
                       precision="fp32", checkpoint_dir=tmp_path, progress=False)

    trainer(2).fit((x, y), (x, y))
    mgr = CheckpointManager(tmp_path)
    assert mgr.last.is_file() and mgr.previous.is_file() and mgr.best.is_file()
    assert load_checkpoint(mgr.last)["epoch"] == 2 and load_checkpoint(mgr.previous)["epoch"] == 1
    good = mgr.previous.read_bytes()
    data = mgr.last.read_bytes()
    mgr.last.write_bytes(data[: len(data) // 2])  # truncated, as after a crash of a non-atomic writer
    with pytest.raises(CheckpointError) as err:
        trainer(3).fit((x, y), resume=True)
    msg = str(err.value)
    assert "last.pt is corrupt" in msg and "previous.pt" in msg and "resume=" in msg
    assert mgr.previous.read_bytes() == good  # the previous good checkpoint is untouched
    tr = trainer(3)
    hist = tr.fit((x, y), resume=str(mgr.previous))
    assert list(hist["epoch"]) == [1, 2, 3]
    with torch.no_grad():
        for prm in tr.model.parameters():
            prm.zero_()  # clobber the weights: load_best must bring back the best epoch's, not keep these
    tr.load_best()
    best = load_checkpoint(mgr.best)
    for name, value in tr.model.state_dict().items():
        torch.testing.assert_close(value, best["model"][name])
    assert best["epoch"] == tr.best_epoch and tr.evaluate((x, y))["accuracy"] == pytest.approx(
        hist.set_index("epoch").loc[tr.best_epoch, "val_accuracy"])


def test_resume_true_without_checkpoint_starts_fresh(tmp_path) -> None:
    x, y = blobs2d(16, 16)
    tr = Trainer(build_model("simplecnn", 2, 1, 3, channels=(4,)), max_epochs=1, batch_size=8,
                 precision="fp32", checkpoint_dir=tmp_path / "new", progress=False)
    assert len(tr.fit((x, y), resume=True)) == 1


def _run(args: list[str], **kw) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1", MEDIMG_DEVICE="cpu")
    return subprocess.Popen([sys.executable, str(HERE / "_resume_worker.py"), *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)


@pytest.mark.slow
def test_resume_after_sigkill_matches_uninterrupted_run(tmp_path) -> None:
    ref = tmp_path / "ref.pt"
    p = _run([str(tmp_path / "ck_ref"), str(ref), "0", "0"])
    out, _ = p.communicate(timeout=300)
    assert p.returncode == 0, out

    ck = tmp_path / "ck"
    victim = _run([str(ck), str(tmp_path / "never.pt"), "8", "0"])  # 6 steps per epoch: blocks in epoch 2
    held = Path(str(ck) + ".held")
    deadline = time.monotonic() + 240  # a hang guard only: the wait is on the worker's signal file
    try:
        while not held.is_file():
            assert victim.poll() is None, "worker ended before step 8:\n" + victim.stdout.read()
            assert time.monotonic() < deadline, "worker never reached step 8"
            time.sleep(0.05)
    finally:
        if victim.poll() is None:
            victim.send_signal(signal.SIGKILL)  # the worker blocks at step 8 until this kill
        victim.wait(timeout=30)
    last = ck / "last.pt"
    assert victim.returncode == -signal.SIGKILL
    killed_at = load_checkpoint(last)
    assert (killed_at["global_step"], killed_at["epoch"], killed_at["batch"]) == (8, 1, 2), "kill was not mid-epoch"
    assert not (tmp_path / "never.pt").exists()

    out_path = tmp_path / "resumed.pt"
    p = _run([str(ck), str(out_path), "0", "1"])
    out, _ = p.communicate(timeout=300)
    assert p.returncode == 0, out
    assert "steps 18" in out
    a, b = torch.load(ref), torch.load(out_path)
    for k in a:
        torch.testing.assert_close(a[k], b[k], atol=1e-5, rtol=1e-4)
