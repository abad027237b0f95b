"""GPU checks (skipped without CUDA): device policy in the Trainer, a real OOM back-off, sliding window."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
from _helpers import blobs2d, spheres  # noqa: E402

from medimg_kernel.models import build_model  # noqa: E402
from medimg_kernel.train import Trainer  # noqa: E402

pytestmark = pytest.mark.gpu


def test_trainer_on_cuda_uses_policy_and_keeps_data_on_device() -> None:
    x, y = blobs2d(256, 32)
    model = build_model("densenet121", 2, 1, 3)
    tr = Trainer(model, max_epochs=2, batch_size=64, augment=True, progress=False)
    hist = tr.fit((x, y), (x, y))
    assert tr.device.type == "cuda" and tr.policy.precision in ("bf16", "fp16")
    assert next(model.parameters()).is_cuda
    assert model.features.conv0.weight.is_contiguous(memory_format=torch.channels_last)
    assert hist["train_loss"].iloc[-1] < hist["train_loss"].iloc[0]
    assert tr.predict(x[:8]).shape == (8, 3)


def test_real_cuda_oom_backoff() -> None:
    x = torch.randn(384, 1, 128, 128, 128)
    y = (x > 1).long()
    model = build_model("tinyunet", 3, 1, 2, channels=(32, 64, 128))
    tr = Trainer(model, task="segmentation", batch_size=384, max_steps=1, precision="fp32", progress=False,
                 cache=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tr.fit((x, y))
    assert tr._oom.events >= 1 and tr._oom.micro_batch < 384
    assert sum("micro-batch" in str(w.message) for w in caught) == 1
    assert tr.global_step == 1 and torch.isfinite(torch.tensor(tr.history["train_loss"].iloc[-1]))


def test_segmentation_3d_sliding_window_on_cuda() -> None:
    xs, ys = spheres(8, 32, dims=3)
    tr = Trainer(build_model("unet", 3, 1, 2), task="segmentation", max_epochs=2, batch_size=4, progress=False)
    tr.fit((xs, ys), (xs, ys))
    out = tr.predict(torch.randn(1, 1, 96, 96, 64), activation="softmax")
    assert out.shape == (1, 2, 96, 96, 64)
