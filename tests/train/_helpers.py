"""Synthetic data and small models shared by the training tests (also used by the worker scripts)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch


def blobs2d(n: int = 96, size: int = 16, classes: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Images whose bright square's position encodes the class (easy to learn)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    x = rng.normal(0, 0.3, (n, 1, size, size)).astype(np.float32)
    step = size // classes
    for i, c in enumerate(y):
        x[i, 0, c * step:(c + 1) * step, 2:6] += 2.0
    return x, y.astype(np.int64)


def spheres(n: int = 8, size: int = 16, dims: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Noisy bright balls and their masks, ``(N, 1, *spatial)`` float images and int labels."""
    rng = np.random.default_rng(seed)
    grid = np.indices((size,) * dims).astype(np.float32)
    xs, ys = [], []
    for _ in range(n):
        c = rng.uniform(size * 0.3, size * 0.7, dims).reshape((dims,) + (1,) * dims)
        mask = np.sqrt(((grid - c) ** 2).sum(0)) < size * rng.uniform(0.2, 0.3)
        xs.append(mask + rng.normal(0, 0.3, mask.shape))
        ys.append(mask)
    return np.stack(xs)[:, None].astype(np.float32), np.stack(ys)[:, None].astype(np.int64)


class HoldNet(torch.nn.Module):
    """Wraps a model; before training forward number ``hold_at + 1`` it writes ``signal_file`` and blocks.

    A test waits for that file (state, not time) and then kills the process: the kill lands exactly
    after ``hold_at`` optimisation steps, whatever the machine's speed. ``hold_at=0`` never blocks.
    """

    def __init__(self, inner: torch.nn.Module, hold_at: int = 0, signal_file: str | None = None) -> None:
        super().__init__()
        self.inner = inner
        self.hold_at = hold_at
        self.signal_file = signal_file
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training and self.hold_at:
            if self.calls == self.hold_at:
                Path(self.signal_file).write_text(str(self.calls))
                while True:  # blocked until the test kills the process
                    time.sleep(60)
            self.calls += 1
        return self.inner(x)


class OOMOnBigBatch(torch.nn.Module):
    """Raises a simulated CUDA out-of-memory error for batches larger than ``limit``."""

    def __init__(self, inner: torch.nn.Module, limit: int) -> None:
        super().__init__()
        self.inner = inner
        self.limit = limit
        self.ooms = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training and x.shape[0] > self.limit:
            self.ooms += 1
            raise torch.OutOfMemoryError(f"CUDA out of memory. Tried to allocate {x.shape[0]} samples (simulated)")
        return self.inner(x)


def majority_accuracy(y: np.ndarray) -> float:
    """Accuracy of always answering the most frequent class of ``y`` (a trivial classifier)."""
    y = np.asarray(y).reshape(-1)
    return float(np.bincount(y).max() / y.size)


def all_foreground_dice(y: np.ndarray) -> float:
    """Mean per-image foreground Dice of predicting every voxel as foreground (a trivial segmenter)."""
    y = np.asarray(y).reshape(len(y), -1).astype(bool)
    return float(np.mean(2 * y.sum(1) / (y.sum(1) + y.shape[1])))
