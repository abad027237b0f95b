"""Domain shift and its remedies: simulate another scanner, normalise intensities, adapt batch-norm statistics.

:func:`scanner_shift` turns images from one "site" into what another scanner might produce (gain/offset,
gamma/contrast, blur from a coarser resolution, noise); :func:`normalize_intensity` and
:func:`match_histograms` are the classic input-side remedies; :func:`adapt_batchnorm` is test-time
batch-norm adaptation (AdaBN, Li et al. 2016): re-estimate the BN statistics on unlabelled target images.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from ..errors import ConfigError

__all__ = ["scanner_shift", "normalize_intensity", "match_histograms", "adapt_batchnorm"]

log = logging.getLogger(__name__)


def scanner_shift(
    images: np.ndarray,
    *,
    gain: float = 1.0,
    offset: float = 0.0,
    gamma: float = 1.0,
    blur: float = 0.0,
    downsample: int = 1,
    noise: float = 0.0,
    seed: int = 0,
) -> np.ndarray:
    """Simulate another scanner on a batch of images ``(N, C, *spatial)`` (values nominally in [0, 1]).

    Applied in order: ``downsample`` (block average then nearest upsampling: a coarser acquisition),
    ``blur`` (Gaussian sigma in pixels, a softer reconstruction kernel), ``gamma`` (contrast curve on
    the [0, 1] range), ``gain``/``offset`` (a different intensity calibration) and additive Gaussian
    ``noise`` (standard deviation). Returns a new float32 array; the input is not modified.
    """
    from scipy import ndimage

    x = np.asarray(images, dtype=np.float32).copy()
    if x.ndim < 4:
        raise ConfigError(f"scanner_shift needs images shaped (N, C, *spatial); got {x.shape}")
    spatial = x.ndim - 2
    if downsample > 1:
        f = int(downsample)
        n, c, *sp = x.shape
        if any(s % f for s in sp):
            raise ConfigError(f"downsample={f} must divide the spatial size {tuple(sp)}")
        shp = [n, c] + [v for s in sp for v in (s // f, f)]
        x = x.reshape(shp).mean(axis=tuple(3 + 2 * i for i in range(spatial)))
        for ax in range(2, 2 + spatial):
            x = np.repeat(x, f, axis=ax)
    if blur > 0:
        x = ndimage.gaussian_filter(x, sigma=(0, 0) + (float(blur),) * spatial)
    if gamma != 1.0:
        x = np.clip(x, 0.0, None) ** float(gamma)
    x = x * float(gain) + float(offset)
    if noise > 0:
        x = x + np.random.default_rng(seed).normal(0.0, float(noise), size=x.shape).astype(np.float32)
    return x.astype(np.float32)


def normalize_intensity(
    images: np.ndarray, method: str = "zscore", *, percentiles: tuple[float, float] = (1, 99)
) -> np.ndarray:
    """Normalise each image (each item and channel) on its own: ``"zscore"``, ``"minmax"`` or ``"percentile"``.

    ``zscore`` gives zero mean and unit variance; ``minmax`` maps to [0, 1]; ``percentile`` maps the given
    percentiles to 0 and 1 (robust to outliers) without clipping.
    """
    x = np.asarray(images, dtype=np.float32)
    axes = tuple(range(2, x.ndim))
    if method == "zscore":
        mu, sd = x.mean(axis=axes, keepdims=True), x.std(axis=axes, keepdims=True)
        return ((x - mu) / (sd + 1e-6)).astype(np.float32)
    if method == "minmax":
        lo, hi = x.min(axis=axes, keepdims=True), x.max(axis=axes, keepdims=True)
    elif method == "percentile":
        lo = np.percentile(x, percentiles[0], axis=axes, keepdims=True)
        hi = np.percentile(x, percentiles[1], axis=axes, keepdims=True)
    else:
        raise ConfigError(f"unknown normalisation {method!r}: choose 'zscore', 'minmax' or 'percentile'")
    return ((x - lo) / (hi - lo + 1e-6)).astype(np.float32)


def match_histograms(images: np.ndarray, reference: np.ndarray, *, n_quantiles: int = 256) -> np.ndarray:
    """Map each image's intensity distribution onto the pooled distribution of ``reference`` images.

    Quantile mapping per image and channel: the value at quantile ``q`` of an image becomes the value at
    quantile ``q`` of all reference pixels of that channel. Only the intensity curve changes; the
    geometry (blur, noise pattern) stays.
    """
    x = np.asarray(images, dtype=np.float32)
    ref = np.asarray(reference, dtype=np.float32)
    if x.ndim != ref.ndim or x.shape[1] != ref.shape[1]:
        raise ConfigError(f"images {x.shape} and reference {ref.shape} need the same layout (N, C, *spatial)")
    q = np.linspace(0.0, 1.0, n_quantiles)
    out = np.empty_like(x)
    for c in range(x.shape[1]):
        ref_q = np.quantile(ref[:, c].ravel(), q)
        for i in range(x.shape[0]):
            img = x[i, c]
            src_q = np.quantile(img.ravel(), q)
            # strictly increasing source quantiles so interp is well defined on plateaus
            src_q = src_q + np.arange(n_quantiles) * 1e-7
            out[i, c] = np.interp(img, src_q, ref_q).astype(np.float32)
    return out


def adapt_batchnorm(
    model: Any, data: Any, *, batch_size: int = 64, passes: int = 1, device: Any = None
) -> Any:
    """Re-estimate every BatchNorm layer's running mean/variance on (unlabelled) target ``data``.

    ``data`` is an array/tensor ``(N, C, *spatial)``. The statistics are reset and then averaged
    over all batches (cumulative average, ``momentum=None``); the weights are not changed. Returns the
    model in eval mode. This is AdaBN: no labels, one forward pass over the target domain.
    """
    import torch
    from torch import nn

    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not bns:
        raise ConfigError(
            f"{type(model).__name__} has no BatchNorm layers: test-time BN adaptation does not apply"
        )
    if device is None:
        device = next(model.parameters()).device
    x = (
        torch.as_tensor(np.asarray(data, dtype=np.float32))
        if not isinstance(data, torch.Tensor)
        else data.float()
    )
    saved = [(m.momentum, m.training) for m in bns]
    was_training = model.training
    model.eval()
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average over all batches seen
        m.train()
    with torch.no_grad():
        for _ in range(int(passes)):
            for i in range(0, len(x), int(batch_size)):
                model(x[i : i + int(batch_size)].to(device))
    for m, (mom, _) in zip(bns, saved):
        m.momentum = mom
    model.train(was_training)
    model.eval()
    log.info("adapted %d BatchNorm layers on %d target images", len(bns), len(x))
    return model
