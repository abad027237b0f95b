"""Seeded training is reproducible: two fresh processes with the same seed give the same weights on CPU.

Tolerance: on CPU, with the same torch build and thread count, the weights are bitwise identical
(``torch.equal``); that is what is asserted. A different seed must give different weights (the test can
fail). On a GPU, cuDNN/cuBLAS may pick non-deterministic kernels: pass ``deterministic=True`` there.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
from _helpers import blobs2d  # noqa: E402

MEDIMG = str(Path(sys.executable).with_name("medimg"))
ENV = {**os.environ, "MEDIMG_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MEDIMG_DEVICE": "cpu"}


def _config(tmp: Path, seed: int, tag: str) -> Path:
    cfg = tmp / f"{tag}.yaml"
    cfg.write_text(f"""
model: {{name: simplecnn, spatial_dims: 2, in_channels: 1, out_channels: 3, kwargs: {{channels: [4, 8]}}}}
data: {{npz: {tmp / 'd.npz'}, val_fraction: 0.25}}
trainer: {{max_epochs: 2, batch_size: 8, precision: fp32, seed: {seed}, progress: false, augment: true}}
output: {{weights: {tmp / tag / 'w.pt'}}}
""")
    return cfg


def _weights(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, map_location="cpu", weights_only=True)


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.slow
def test_medimg_train_twice_same_seed_same_weights(tmp_path):
    x, y = blobs2d(40, 16)
    np.savez(tmp_path / "d.npz", images=x, labels=y)
    runs = {}
    for tag, seed in (("a", 7), ("b", 7), ("c", 8)):
        res = subprocess.run([MEDIMG, "train", str(_config(tmp_path, seed, tag)), "--json"], capture_output=True,
                             text=True, env=ENV, timeout=300)
        assert res.returncode == 0, res.stderr
        runs[tag] = _weights(tmp_path / tag / "w.pt")
    assert _same(runs["a"], runs["b"])  # bitwise identical on CPU
    assert not _same(runs["a"], runs["c"])  # another seed: other initial weights and batches


SCRIPT = """
import sys, numpy as np, torch
import medimg_kernel as mk
d = np.load(sys.argv[1])
factory = lambda: mk.build_model("simplecnn", 2, 1, 3, channels=[4, 8])
trainer = mk.Trainer(factory, max_epochs=2, batch_size=8, precision="fp32", seed=int(sys.argv[3]),
                     progress=False, augment=True)
trainer.fit((d["images"], d["labels"]))
torch.save(trainer.model.state_dict(), sys.argv[2])
"""


@pytest.mark.slow
def test_trainer_fit_in_fresh_processes_seeds_before_building(tmp_path):
    """``Trainer(model_factory, seed=...)`` seeds, then builds the model: no seed_everything needed first."""
    x, y = blobs2d(40, 16)
    np.savez(tmp_path / "d.npz", images=x, labels=y)
    out = {}
    for tag, seed in (("a", 3), ("b", 3), ("c", 4)):
        res = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "d.npz"), str(tmp_path / f"{tag}.pt"),
                              str(seed)], capture_output=True, text=True, env=ENV, timeout=300)
        assert res.returncode == 0, res.stderr
        out[tag] = _weights(tmp_path / f"{tag}.pt")
    assert _same(out["a"], out["b"]) and not _same(out["a"], out["c"])


def test_factory_that_is_not_a_model_is_refused():
    import medimg_kernel as mk
    from medimg_kernel.errors import ConfigError

    with pytest.raises(ConfigError, match="nn.Module"):
        mk.Trainer(lambda: "not a model")
