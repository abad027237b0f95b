"""mk.infer and strict-device mode: the GPU-only "host tensor into a placed model" bug fails on a CPU too."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import medimg_kernel as mk
from medimg_kernel.errors import StrictDeviceError


def _fitted() -> tuple[mk.Trainer, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 1, 8, 8)).astype(np.float32)
    y = (x.mean((1, 2, 3)) > 0).astype(np.int64)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                          nn.Linear(4, 2))
    t = mk.Trainer(model, task="classification", max_epochs=1, batch_size=8, precision="fp32", seed=0,
                   progress=False)
    t.fit((x, y))
    return t, x, y


# What lessons 07 and 08 did (a direct call on host tensors), compiled as a notebook cell would be.
LESSON_CELL = compile("def risk_of(model, x):\n    with torch.no_grad():\n        return model.eval()(x)\n",
                      "/tmp/ipykernel_4242/1234567.py", "exec")


def _lesson_fn():
    ns = {"torch": torch}
    exec(LESSON_CELL, ns)
    return ns["risk_of"]


def test_strict_mode_refuses_a_direct_call_from_lesson_code(monkeypatch):
    t, x, _ = _fitted()
    risk_of = _lesson_fn()
    monkeypatch.delenv("MEDIMG_STRICT_DEVICE", raising=False)
    assert risk_of(t.model, torch.from_numpy(x)).shape == (32, 2)  # passes on a CPU: the bug ships
    monkeypatch.setenv("MEDIMG_STRICT_DEVICE", "1")
    with pytest.raises(StrictDeviceError, match=r"mk\.infer\(model, x\)"):
        risk_of(t.model, torch.from_numpy(x))
    # the package's own paths stay allowed
    assert t.predict((x, np.zeros(32, np.int64))).shape == (32, 2)
    assert t.evaluate((x, np.zeros(32, np.int64)))["loss"] >= 0


def test_infer_matches_predict_in_batches_and_containers(monkeypatch):
    monkeypatch.setenv("MEDIMG_STRICT_DEVICE", "1")
    t, x, y = _fitted()
    p = t.predict((x, y), activation="softmax")
    q = mk.infer(t.model, x, batch_size=5, activation="softmax")
    assert q.device.type == "cpu" and q.dtype == torch.float32
    assert torch.allclose(p, q, atol=1e-6)
    t.model.train()
    mk.infer(t.model, torch.from_numpy(x))
    assert t.model.training

    class Two(nn.Module):
        def forward(self, d):
            return {"s": d["a"] + d["b"]}

    out = mk.infer(Two(), {"a": np.ones((7, 2)), "b": torch.ones(7, 2)}, batch_size=3)
    assert out["s"].shape == (7, 2) and float(out["s"].sum()) == 28.0


def test_infer_bad_input_is_one_clear_error():
    model = nn.Linear(2, 1)
    with pytest.raises(mk.MedimgKernelError, match="batch_size"):
        mk.infer(model, np.ones((3, 2), np.float32), batch_size=0)
    with pytest.raises(mk.MedimgKernelError, match="same first dimension"):
        mk.infer(nn.Identity(), {"a": np.ones((3, 2)), "b": np.ones((4, 2))})
    with pytest.raises(mk.MedimgKernelError, match="torch.nn.Module"):
        mk.infer(lambda v: v, np.ones(2))
    with pytest.raises(mk.MedimgKernelError, match="precision"):
        mk.infer(model, np.ones((3, 2), np.float32), precision="int4")
