"""Scanner shift simulation, intensity normalisation, histogram matching and BN adaptation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from medimg_kernel.errors import ConfigError
from medimg_kernel.lessons.domain import adapt_batchnorm, match_histograms, normalize_intensity, scanner_shift


def _imgs(n=6, size=16, seed=0):
    return np.random.default_rng(seed).uniform(0, 1, size=(n, 1, size, size)).astype(np.float32)


def test_scanner_shift_changes_intensity_and_resolution():
    x = _imgs()
    y = scanner_shift(x, gain=0.5, offset=0.1)
    np.testing.assert_allclose(y, x * 0.5 + 0.1, rtol=1e-6, atol=1e-6)
    d = scanner_shift(x, downsample=2)
    assert d.shape == x.shape and np.allclose(d[:, :, 0, 0], d[:, :, 1, 1])
    assert scanner_shift(x, blur=1.0).std() < x.std()
    n1, n2 = scanner_shift(x, noise=0.1, seed=1), scanner_shift(x, noise=0.1, seed=1)
    assert np.array_equal(n1, n2) and not np.array_equal(n1, x)
    assert np.array_equal(x, _imgs())  # input untouched
    with pytest.raises(ConfigError):
        scanner_shift(x, downsample=3)


def test_normalize_intensity_methods():
    x = _imgs() * 3 + 2
    z = normalize_intensity(x, "zscore")
    np.testing.assert_allclose(z.mean(axis=(2, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(z.std(axis=(2, 3)), 1, atol=1e-3)
    m = normalize_intensity(x, "minmax")
    assert m.min() >= 0 and m.max() <= 1 + 1e-6
    with pytest.raises(ConfigError):
        normalize_intensity(x, "nope")


def test_match_histograms_recovers_reference_distribution():
    ref = _imgs(seed=1)
    shifted = scanner_shift(ref, gamma=2.0, gain=0.4, offset=0.3)
    back = match_histograms(shifted, ref)
    # monotone maps are undone by quantile matching (up to each image's sampling noise vs the pooled reference)
    assert np.abs(back - ref).mean() < 0.02 and np.abs(back - ref).max() < 0.1
    assert np.abs(shifted - ref).mean() > 0.1


def test_adapt_batchnorm_sets_target_statistics_without_touching_weights():
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(4, 2),
    )
    w_before = net[0].weight.detach().clone()
    target = torch.as_tensor(_imgs(n=32) * 5 + 3)
    adapt_batchnorm(net, target, batch_size=8)
    with torch.no_grad():
        feats = net[0](target)
    np.testing.assert_allclose(
        net[1].running_mean.numpy(), feats.mean(dim=(0, 2, 3)).numpy(), rtol=1e-4, atol=1e-4
    )
    assert torch.equal(net[0].weight, w_before) and not net.training
    assert net[1].momentum == 0.1
    with pytest.raises(ConfigError):
        adapt_batchnorm(nn.Linear(2, 2), target)
