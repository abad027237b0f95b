"""Shared test helpers: a tiny CNN trained in seconds on synthetic lesion data with known masks."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


def small_cnn(
    spatial_dims: int = 2, in_channels: int = 1, out_channels: int = 2, width: int = 8
) -> nn.Module:
    """conv-relu-pool x2, conv-relu, global max pool, linear: a lesion detector that trains in seconds."""
    conv = nn.Conv2d if spatial_dims == 2 else nn.Conv3d
    pool = nn.MaxPool2d if spatial_dims == 2 else nn.MaxPool3d
    gap = nn.AdaptiveMaxPool2d(1) if spatial_dims == 2 else nn.AdaptiveMaxPool3d(1)
    return nn.Sequential(
        conv(in_channels, width, 3, padding=1),
        nn.ReLU(),
        pool(2),
        conv(width, 2 * width, 3, padding=1),
        nn.ReLU(),
        pool(2),
        conv(2 * width, 2 * width, 3, padding=1),
        nn.ReLU(),
        gap,
        nn.Flatten(),
        nn.Linear(2 * width, out_channels),
    )


def train(
    model: nn.Module,
    x: np.ndarray,
    y: np.ndarray,
    *,
    epochs: int = 12,
    lr: float = 5e-3,
    batch: int = 32,
    seed: int = 0,
) -> nn.Module:
    """Plain Adam + cross-entropy training (deterministic given ``seed``)."""
    torch.manual_seed(seed)
    xt, yt = torch.as_tensor(x), torch.as_tensor(y).long()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    g = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(epochs):
        perm = torch.randperm(len(xt), generator=g)
        for i in range(0, len(xt), batch):
            idx = perm[i : i + batch]
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
    model.eval()
    return model


def accuracy(model: nn.Module, x: np.ndarray, y: np.ndarray) -> float:
    with torch.no_grad():
        return float((model(torch.as_tensor(x)).argmax(1).numpy() == y).mean())
