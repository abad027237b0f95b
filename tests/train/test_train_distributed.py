"""DDP: two gloo processes under torchrun reach the single-process weights."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

HERE = Path(__file__).parent
REPO = HERE.parent.parent


@pytest.mark.slow
def test_ddp_two_gloo_processes_match_single_process(tmp_path) -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO), MEDIMG_DEVICE="cpu", OMP_NUM_THREADS="1")
    env.pop("WORLD_SIZE", None)
    single = subprocess.run([sys.executable, str(HERE / "_ddp_worker.py"), str(tmp_path / "single.pt"),
                             str(tmp_path / "ck1")], env=env, capture_output=True, text=True, timeout=300)
    assert single.returncode == 0, single.stderr[-3000:]
    ddp = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                          str(HERE / "_ddp_worker.py"), str(tmp_path / "ddp.pt"), str(tmp_path / "ck2")],
                         env=env, capture_output=True, text=True, timeout=300)
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    info1 = json.loads((tmp_path / "single.pt.json").read_text())
    info2 = json.loads((tmp_path / "ddp.pt.json").read_text())
    assert info1["world"] == 1 and info2["world"] == 2
    assert info1["steps"] == info2["steps"] == 8  # 64 samples / global batch 16 x 2 epochs
    assert info2["loss"] == pytest.approx(info1["loss"], rel=1e-4)  # epoch loss reduced over both ranks
    a, b = torch.load(tmp_path / "single.pt"), torch.load(tmp_path / "ddp.pt")
    for k in a:
        torch.testing.assert_close(a[k], b[k], atol=1e-5, rtol=1e-4)
    # rank 0 alone wrote the checkpoints
    assert sorted(p.name for p in (tmp_path / "ck2").iterdir()) == ["best.pt", "last.pt", "previous.pt"]


@pytest.mark.slow
def test_medimg_train_command_under_torchrun(tmp_path) -> None:
    """`torchrun -m medimg_kernel train CONFIG.yaml`: the CLI itself runs DDP, rank 0 reports and writes."""
    import numpy as np

    sys.path.insert(0, str(HERE))
    from _helpers import blobs2d

    x, y = blobs2d(64, 16)
    np.savez(tmp_path / "d.npz", images=x, labels=y)
    cfg = tmp_path / "run.yaml"
    cfg.write_text(f"""
model: {{name: simplecnn, spatial_dims: 2, in_channels: 1, out_channels: 3, kwargs: {{channels: [4, 8]}}}}
data: {{npz: {tmp_path / 'd.npz'}, val_fraction: 0.25}}
trainer: {{max_epochs: 2, batch_size: 16, precision: fp32, seed: 0, checkpoint_dir: {tmp_path / 'ck'}}}
output: {{weights: {tmp_path / 'out' / 'w.pt'}, history: {tmp_path / 'out' / 'h.csv'}}}
""")
    env = dict(os.environ, PYTHONPATH=str(REPO), MEDIMG_DEVICE="cpu", OMP_NUM_THREADS="1")
    env.pop("WORLD_SIZE", None)
    res = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                          "-m", "medimg_kernel", "train", str(cfg), "--json"],
                         env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    reports = [json.loads(line) for line in res.stdout.splitlines() if line.startswith("{")]
    assert len(reports) == 1, res.stdout  # rank 0 alone reports
    rep = reports[0]
    # 48 training images, a global batch of 16 split over 2 ranks: 3 steps per epoch, as in one process
    assert rep["world_size"] == 2 and rep["steps"] == 6 and rep["last"]["epoch"] == 2
    state = torch.load(tmp_path / "out" / "w.pt")
    assert "head.weight" in state and not any(k.startswith("module.") for k in state)  # unwrapped DDP weights
    assert sorted(p.name for p in (tmp_path / "ck").iterdir()) == ["best.pt", "last.pt", "previous.pt"]
