"""Trainer on small synthetic data: classification and segmentation in 2D and 3D, data forms, history."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
from _helpers import all_foreground_dice, blobs2d, majority_accuracy, spheres  # noqa: E402

from medimg_kernel.models import build_model  # noqa: E402
from medimg_kernel.train import Trainer  # noqa: E402


def test_classification_2d_learns_and_reports() -> None:
    x, y = blobs2d(96, 16)
    torch.manual_seed(0)
    model = build_model("simplecnn", 2, 1, 3, channels=(8, 16))
    tr = Trainer(model, max_epochs=4, batch_size=16, lr=3e-3, progress=True, augment="flip", precision="fp32")
    hist = tr.fit((x, y), (x, y))
    assert isinstance(hist, pd.DataFrame)
    assert {"epoch", "step", "train_loss", "val_loss", "val_accuracy", "val_auc", "lr", "samples_per_s"} <= set(hist)
    assert len(hist) == 4 and hist["step"].iloc[-1] == 4 * 6
    assert hist["train_loss"].iloc[-1] < hist["train_loss"].iloc[0]
    res = tr.evaluate((x, y))
    # beat the trivial classifiers of the same data by a margin: the majority class (0.36 here) and a
    # constant score (AUC 0.5)
    assert res["accuracy"] >= majority_accuracy(y) + 0.3, res
    assert res["auc"] >= 0.5 + 0.3, res
    logits = tr.predict(x)
    assert logits.shape == (96, 3) and logits.dtype == torch.float32
    probs = tr.predict(x[:5], activation="softmax")
    torch.testing.assert_close(probs.sum(1), torch.ones(5))
    # the dict form a MONAI pipeline produces works for prediction too, with or without labels
    torch.testing.assert_close(tr.predict({"image": x[:5]}), logits[:5])
    torch.testing.assert_close(tr.predict({"image": x[:5], "label": y[:5]}), logits[:5])
    assert tr.policy is not None and tr.best_value == hist["val_accuracy"].max()


def test_classification_3d_and_channel_axis_added() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 24)
    x = rng.normal(0, 0.3, (24, 8, 8, 8)).astype(np.float32)  # no channel axis: the Trainer adds it
    x[y == 1, :4] += 1.5
    torch.manual_seed(0)
    model = build_model("simplecnn", 3, 1, 2, channels=(4, 8))
    tr = Trainer(model, max_epochs=3, batch_size=8, lr=5e-3, precision="fp32", progress=False)
    hist = tr.fit((x, y), (x, y))
    # two thirds of these labels are one class: always answering it scores 0.667, so learning means more
    assert hist["val_accuracy"].iloc[-1] >= majority_accuracy(y) + 0.25, hist
    assert tr.predict(x).shape == (24, 2)


def test_segmentation_2d_dice_and_hausdorff() -> None:
    x, y = spheres(16, 16, dims=2)
    torch.manual_seed(0)
    model = build_model("tinyunet", 2, 1, 2)
    tr = Trainer(model, task="segmentation", max_epochs=6, batch_size=4, lr=1e-2, precision="fp32",
                 metrics=["dice", "hausdorff"], augment=True, progress=False)
    hist = tr.fit((x, y[:, 0]), (x, y))  # (N, H, W) labels get a channel axis
    assert {"val_dice", "val_hausdorff", "val_loss"} <= set(hist)
    assert hist["train_loss"].iloc[-1] < hist["train_loss"].iloc[0]
    # an all-foreground prediction scores 0.31 on these images: a model that learned must beat it well
    assert hist["val_dice"].iloc[-1] >= all_foreground_dice(y) + 0.4, hist


def test_segmentation_3d_sliding_window_predict() -> None:
    x, y = spheres(6, 16, dims=3)
    model = build_model("tinyunet", 3, 1, 2)
    tr = Trainer(model, task="segmentation", max_epochs=1, batch_size=2, progress=False)  # policy precision
    tr.fit((x, y))
    assert tr.patch_size == (16, 16, 16)
    big = np.random.default_rng(1).normal(size=(1, 1, 40, 24, 32)).astype(np.float32)
    out = tr.predict(big, activation="softmax")  # larger than the patch -> sliding window
    assert out.shape == (1, 2, 40, 24, 32)
    torch.testing.assert_close(out.sum(1), torch.ones(1, 40, 24, 32), atol=1e-2, rtol=1e-2)
    out2 = tr.predict(x[:1], roi_size=(8, 8, 8))
    assert out2.shape == (1, 2, 16, 16, 16)


def test_dataset_of_dicts_and_dataloader_streaming() -> None:
    x, y = blobs2d(48, 16)
    items = [{"image": torch.from_numpy(x[i]), "label": int(y[i])} for i in range(48)]
    model = build_model("simplecnn", 2, 1, 3, channels=(4, 8))
    tr = Trainer(model, max_epochs=1, batch_size=16, precision="fp32", progress=False)
    tr.fit(items, items)  # a list-like dataset of dicts, cached on the device
    loader = torch.utils.data.DataLoader(items, batch_size=16)
    tr2 = Trainer(model, max_epochs=1, batch_size=16, precision="fp32", progress=False, cache=False)
    hist = tr2.fit(loader, loader)  # streamed
    assert hist["step"].iloc[-1] == 3
    assert set(tr2.evaluate(items)) == {"loss", "accuracy", "auc"}


class FusionNet(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.img = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 4))
        self.tab = torch.nn.Linear(3, 4)
        self.out = torch.nn.Linear(8, 1)

    def forward(self, x: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.out(torch.cat([self.img(x["image"]), self.tab(x["clinical"])], 1))


def test_custom_task_dict_inputs_survival_targets() -> None:
    rng = np.random.default_rng(0)
    n = 40
    data = {"image": rng.normal(size=(n, 1, 8, 8)).astype(np.float32),
            "clinical": rng.normal(size=(n, 3)).astype(np.float32)}
    target = torch.stack([torch.rand(n) * 10, (torch.rand(n) > 0.3).float()], 1)  # (time, event)

    def cox_loss(risk: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        risk = risk.reshape(-1)
        order = torch.argsort(t[:, 0], descending=True)
        r, e = risk[order], t[order, 1]
        return -((r - torch.logcumsumexp(r, 0)) * e).sum() / e.sum().clamp(min=1)

    def c_index(out: torch.Tensor, t: torch.Tensor) -> float:
        from lifelines.utils import concordance_index

        return concordance_index(t[:, 0].numpy(), -out.reshape(-1).numpy(), t[:, 1].numpy())

    tr = Trainer(FusionNet(), task="custom", loss=cox_loss, metrics={"c_index": c_index}, max_epochs=2,
                 batch_size=10, precision="fp32", progress=False)
    hist = tr.fit((data, target), (data, target))
    # the custom metric saw the model's outputs and the targets, in order: recompute it from predict()
    from lifelines.utils import concordance_index

    expect = concordance_index(target[:, 0].numpy(), -tr.predict(data).reshape(-1).numpy(), target[:, 1].numpy())
    assert hist["val_c_index"].iloc[-1] == pytest.approx(expect, abs=1e-6)
    assert tr.monitor is None and tr.predict(data).shape == (n, 1)


def test_regression_early_stopping_and_scheduler() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 1, 8, 8)).astype(np.float32)
    y = x.mean(axis=(1, 2, 3))
    model = build_model("simplecnn", 2, 1, 1, channels=(4,), norm=None)
    tr = Trainer(model, task="regression", max_epochs=30, batch_size=8, lr=0.0, precision="fp32",
                 scheduler="cosine", early_stopping={"patience": 2, "monitor": "val_loss"}, progress=False)
    hist = tr.fit((x, y), (x, y))  # lr=0: no improvement -> stops after 1 + patience epochs
    assert tr.stopped_early and len(hist) == 3
    assert {"val_mae", "val_loss"} <= set(hist)


def test_seeded_runs_are_identical_and_deterministic_flag() -> None:
    x, y = blobs2d(32, 16)
    weights = []
    for _ in range(2):
        torch.manual_seed(0)
        model = build_model("simplecnn", 2, 1, 3, channels=(4, 8), dropout=0.2)
        Trainer(model, max_epochs=2, batch_size=8, precision="fp32", augment=True, seed=5, deterministic=True,
                progress=False).fit((x, y))
        weights.append(model.head.weight.detach().clone())
    torch.use_deterministic_algorithms(False)
    assert torch.equal(weights[0], weights[1])


def test_max_steps_and_class_weights() -> None:
    x, y = blobs2d(64, 16)
    model = build_model("simplecnn", 2, 1, 3, channels=(4,))
    tr = Trainer(model, max_epochs=5, max_steps=5, batch_size=16, class_weights=[1.0, 2.0, 1.0],
                 precision="fp32", progress=False)
    hist = tr.fit((x, y))
    assert tr.global_step == 5 and len(hist) == 2 and not math.isnan(hist["train_loss"].iloc[-1])
