"""The fusion models train with mk.Trainer for classification and regression too (dict inputs)."""

from __future__ import annotations

import numpy as np
import torch

from medimg_kernel.fusion import FeatureFusion, LateFusion, TabularEncoder
from medimg_kernel.train import Trainer


def _data(n=160, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(n, 3)).astype(np.float32)
    b = rng.normal(size=(n, 4)).astype(np.float32)
    score = a[:, 0] + b[:, 1]
    return {"a": torch.from_numpy(a), "b": torch.from_numpy(b)}, score


def test_feature_fusion_classification_with_trainer():
    x, score = _data()
    y = torch.from_numpy((score > 0).astype(np.int64))
    torch.manual_seed(0)
    model = FeatureFusion(
        {"a": TabularEncoder(3, 4, hidden=()), "b": TabularEncoder(4, 4, hidden=())}, out_features=2
    )
    trainer = Trainer(model, task="classification", max_epochs=8, batch_size=80, lr=0.1, progress=False)
    trainer.fit((x, y))
    res = trainer.evaluate((x, y))
    majority = max(float(y.float().mean()), 1 - float(y.float().mean()))  # always answering one class
    assert res["accuracy"] >= majority + 0.3, (res, majority)
    late = LateFusion(
        {"a": torch.nn.Sequential(torch.nn.Linear(3, 2)), "b": torch.nn.Sequential(torch.nn.Linear(4, 2))}
    )
    assert late({"a": x["a"], "b": None}).shape == (160, 2)


def test_feature_fusion_regression_with_trainer():
    x, score = _data(seed=1)
    y = torch.from_numpy(score.astype(np.float32))[:, None]
    torch.manual_seed(0)
    model = FeatureFusion(
        {"a": TabularEncoder(3, 4, hidden=()), "b": TabularEncoder(4, 4, hidden=())}, fusion="attention"
    )
    trainer = Trainer(model, task="regression", max_epochs=20, batch_size=80, lr=0.1, progress=False)
    trainer.fit((x, y))
    constant = float((y - y.median()).abs().mean())  # the best constant prediction's MAE (about 1.1 here)
    assert trainer.evaluate((x, y))["mae"] <= constant - 0.5, constant
