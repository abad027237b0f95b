"""Bad input and failure: shape/channel mismatch, label range, NaN loss, simulated OOM back-off."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
from _helpers import OOMOnBigBatch, blobs2d, spheres  # noqa: E402

from medimg_kernel.errors import ConfigError, ShapeMismatchError, TrainingError  # noqa: E402
from medimg_kernel.models import build_model  # noqa: E402
from medimg_kernel.train import OOMBackoff, Trainer  # noqa: E402


def _weights(model: torch.nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in model.parameters()]


def test_wrong_channel_count_names_both_shapes_before_training() -> None:
    x, y = blobs2d(16, 16)
    model = build_model("simplecnn", 2, 3, 3, channels=(4,))
    before = _weights(model)
    tr = Trainer(model, max_epochs=1, batch_size=8, precision="fp32", progress=False)
    with pytest.raises(ShapeMismatchError) as err:
        tr.fit((x, y))
    msg = str(err.value)
    assert "(2, 1, 16, 16)" in msg and "3 channel(s)" in msg and "(N, 3, H, W)" in msg
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))
    assert tr.global_step == 0


class _GreyToRGB(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.repeat(1, 3, 1, 1)


def test_model_whose_first_conv_is_not_the_input_layer_trains() -> None:
    # the first convolution expects 3 channels but the model itself takes 1: only a real failure may stop it
    x, y = blobs2d(16, 16)
    model = torch.nn.Sequential(_GreyToRGB(), build_model("simplecnn", 2, 3, 3, channels=(4,)))
    tr = Trainer(model, max_epochs=1, batch_size=8, precision="fp32", progress=False)
    tr.fit((x, y))
    assert tr.global_step == 2


def test_wrong_spatial_dims() -> None:
    x, y = spheres(4, 8, dims=3)
    tr = Trainer(build_model("tinyunet", 2, 1, 2), task="segmentation", precision="fp32", progress=False)
    with pytest.raises(ShapeMismatchError, match=r"2D inputs.*\(2, 1, 8, 8, 8\)|\(2, 1, 8, 8, 8\).*2D"):
        tr.fit((x, y))


def test_unet_incompatible_size_and_label_shape() -> None:
    x, y = spheres(4, 16, dims=2)
    tr = Trainer(build_model("tinyunet", 2, 1, 2), task="segmentation", precision="fp32", progress=False)
    with pytest.raises(ShapeMismatchError, match="label shape"):
        tr.fit((x, y[:, :, :8, :8]))


def test_labels_out_of_range() -> None:
    x, y = blobs2d(16, 16)
    y[3] = 7
    tr = Trainer(build_model("simplecnn", 2, 1, 3, channels=(4,)), precision="fp32", progress=False)
    with pytest.raises(TrainingError, match=r"labels must be integers 0\.\.2, found values from 0 to 7"):
        tr.fit((x, y))
    with pytest.raises(TrainingError, match="not all integers"):
        tr.fit((x, np.full(16, 0.5)))
    xs, ys = spheres(4, 16, dims=2)
    ys[0, 0, 0, 0] = 5
    seg = Trainer(build_model("tinyunet", 2, 1, 2), task="segmentation", precision="fp32", progress=False)
    with pytest.raises(TrainingError, match="0..1"):
        seg.fit((xs, ys))


def test_config_errors_list_choices() -> None:
    model = build_model("simplecnn", 2, 1, 2, channels=(4,))
    with pytest.raises(ConfigError, match="classification, segmentation"):
        Trainer(model, task="detection")
    with pytest.raises(ConfigError, match="loss="):
        Trainer(model, task="custom")
    with pytest.raises(ConfigError, match="adamw"):
        Trainer(model, optimizer="lbfgs2", progress=False, precision="fp32").fit(blobs2d(8, 16, classes=2))
    with pytest.raises(ConfigError, match="accuracy"):
        Trainer(model, metrics=["dice"], progress=False, precision="fp32").fit(blobs2d(8, 16, classes=2))


def test_nan_loss_stops_with_step_and_keeps_checkpoint(tmp_path) -> None:
    x, y = blobs2d(32, 16)
    calls = {"n": 0}

    def flaky_loss(out: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        calls["n"] += 1
        loss = torch.nn.functional.cross_entropy(out, t)
        return loss * float("nan") if calls["n"] == 6 else loss

    model = build_model("simplecnn", 2, 1, 3, channels=(4,))
    tr = Trainer(model, task="custom", loss=flaky_loss, max_epochs=3, batch_size=8, precision="fp32",
                 checkpoint_dir=tmp_path, checkpoint_every=1, progress=False)
    with pytest.raises(TrainingError) as err:
        tr.fit((x, y))
    msg = str(err.value)
    assert "step 6" in msg and "learning rate" in msg and "precision" in msg and "last.pt" in msg
    from medimg_kernel.train import load_checkpoint

    state = load_checkpoint(tmp_path / "last.pt")
    assert state["global_step"] == 5
    assert all(torch.isfinite(v).all() for v in state["model"].values() if v.is_floating_point())


def test_oom_backoff_halves_batch_keeps_effective_batch() -> None:
    x, y = blobs2d(64, 16)
    results = []
    for limit in (None, 8):
        torch.manual_seed(0)
        inner = build_model("simplecnn", 2, 1, 3, channels=(4, 8), norm=None)
        model = OOMOnBigBatch(inner, limit) if limit else inner
        tr = Trainer(model, max_epochs=2, batch_size=32, precision="fp32", progress=False)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            tr.fit((x, y))
        results.append((inner, tr, [w for w in caught if "micro-batch" in str(w.message)]))
    (ref, _, none), (oom_model, tr, warned) = results
    assert not none
    assert len(warned) == 1 and "effective batch 32 kept" in str(warned[0].message)  # warned once
    assert tr._oom.micro_batch == 8 and tr._oom.accumulation_steps == 4 and tr._oom.events == 2
    assert tr.global_step == 4
    for a, b in zip(ref.parameters(), oom_model.parameters()):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)


def test_oom_backoff_unit_and_gives_up() -> None:
    b = OOMBackoff(10)
    assert b.split(10) == [slice(0, 10)]
    b.on_oom(torch.OutOfMemoryError("x"), 1)
    assert b.split(10) == [slice(0, 5), slice(5, 10)]
    b.micro_batch = 1
    with pytest.raises(TrainingError, match="micro-batch of 1"):
        b.on_oom(RuntimeError("CUDA out of memory"), 7)
