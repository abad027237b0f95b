"""Quality checks for saliency maps: are they faithful to the model, and do they point at the lesion?

* :func:`randomization_check` — Adebayo et al. (2018) cascading model-parameter randomisation: re-initialise
  layers from the top down and compare maps with Spearman rank correlation and SSIM. A map that does not
  change when the model is destroyed explains the image, not the model.
* :func:`deletion_insertion` — RISE (Petsiuk 2018): remove (or add back) pixels in saliency order and record
  the class probability; lower deletion AUC and higher insertion AUC are better.
* :func:`pointing_game` (Zhang 2018) and :func:`localization` (IoU, hit rate and relevance mass against
  ground-truth masks, Saporta 2022), each reported next to the chance level.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import ConfigError, ShapeMismatchError

__all__ = [
    "PointingGameResult",
    "pointing_game",
    "localization",
    "CurveResult",
    "deletion_insertion",
    "curve_auc",
    "RandomizationResult",
    "randomization_check",
    "randomizable_layers",
    "map_similarity",
    "random_maps",
]

log = logging.getLogger(__name__)


def _as_maps(saliency: Any, masks: Any | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """Return maps as (N, *spatial) float arrays and masks as (N, *spatial) bool arrays."""
    s = np.asarray(saliency, dtype=np.float64)
    if masks is None:
        return s, None
    m = np.asarray(masks).astype(bool)
    if m.ndim == s.ndim + 1 and m.shape[1] == 1:  # (N, 1, *spatial)
        m = m[:, 0]
    if m.ndim == s.ndim - 1:
        m = m[None]
        s = s if s.ndim > m.ndim - 1 else s[None]
    if s.ndim == m.ndim - 1:
        s = s[None]
    if s.shape != m.shape:
        raise ShapeMismatchError(
            f"saliency maps {s.shape} and masks {m.shape} must have the same (N, *spatial) shape; squeeze the "
            "channel axis of (N, 1, *spatial) masks or pass one map per mask"
        )
    return s, m


@dataclass
class PointingGameResult:
    """Pointing-game outcome: hits among images with a lesion, accuracy, and the chance accuracy."""

    hits: np.ndarray
    accuracy: float
    chance: float
    n: int

    @property
    def lift(self) -> float:
        """Accuracy divided by chance (1.0 = no better than a random point)."""
        return self.accuracy / self.chance if self.chance > 0 else float("nan")

    def __repr__(self) -> str:
        return (
            f"PointingGameResult(accuracy={self.accuracy:.3f}, chance={self.chance:.3f}, "
            f"lift={self.lift:.1f}x, n={self.n})"
        )


def _dilate(m: np.ndarray, tolerance: int) -> np.ndarray:
    if tolerance <= 0:
        return m
    from scipy import ndimage

    sd = m.ndim - 1
    grid = np.indices((2 * tolerance + 1,) * sd) - tolerance
    ball = (grid**2).sum(0) <= tolerance**2
    return np.stack([ndimage.binary_dilation(mi, structure=ball) for mi in m])


def pointing_game(saliency: Any, masks: Any, tolerance: int = 0) -> PointingGameResult:
    """Pointing game: is each map's maximum inside the ground-truth mask (dilated by ``tolerance`` pixels)?

    Only images whose mask is non-empty count. ``chance`` is the mean (dilated) mask area fraction: the
    accuracy of a point drawn uniformly at random. A tied maximum (e.g. a constant map) points at its first
    pixel in C order, as ``numpy.argmax`` does.
    """
    s, m = _as_maps(saliency, masks)
    keep = m.reshape(len(m), -1).any(1)
    if not keep.any():
        raise ConfigError("pointing_game needs at least one image with a non-empty mask")
    s, m = s[keep], _dilate(m[keep], int(tolerance))
    flat = s.reshape(len(s), -1)
    idx = flat.argmax(1)
    hits = m.reshape(len(m), -1)[np.arange(len(m)), idx]
    chance = float(m.reshape(len(m), -1).mean(1).mean())
    return PointingGameResult(hits=hits, accuracy=float(hits.mean()), chance=chance, n=int(len(hits)))


def _threshold(mp: np.ndarray, threshold: str | float) -> float:
    if isinstance(threshold, str):
        if threshold != "otsu":
            raise ConfigError(
                f"threshold must be 'otsu' or a fraction of the map's maximum, got {threshold!r}"
            )
        from skimage.filters import threshold_otsu

        return float(threshold_otsu(mp)) if np.ptp(mp) > 0 else float(mp.max())
    return float(threshold) * float(mp.max())


def localization(
    saliency: Any, masks: Any, threshold: str | float = "otsu", hit_iou: float = 0.1
) -> dict[str, float]:
    """IoU, hit rate and relevance mass of binarised saliency maps against ground-truth masks.

    Each (non-negative) map is thresholded (Otsu, or a fraction of its maximum), compared with its mask.
    Returns mean ``iou``, ``hit_rate`` (share of images with IoU >= ``hit_iou``), ``mass_in_mask`` (share
    of total saliency inside the mask) and the chance level of the mass (``mask_fraction``).
    """
    s, m = _as_maps(saliency, masks)
    keep = m.reshape(len(m), -1).any(1)
    if not keep.any():
        raise ConfigError("localization needs at least one image with a non-empty mask")
    s, m = np.clip(s[keep], 0, None), m[keep]
    ious, mass = [], []
    for mp, mk_ in zip(s, m):
        binm = mp > _threshold(mp, threshold) if mp.max() > 0 else np.zeros_like(mk_)
        inter = np.logical_and(binm, mk_).sum()
        union = np.logical_or(binm, mk_).sum()
        ious.append(inter / union if union else 0.0)
        total = mp.sum()
        mass.append(mp[mk_].sum() / total if total > 0 else 0.0)
    ious_a = np.asarray(ious)
    return {
        "iou": float(ious_a.mean()),
        "hit_rate": float((ious_a >= hit_iou).mean()),
        "mass_in_mask": float(np.mean(mass)),
        "mask_fraction": float(m.reshape(len(m), -1).mean()),
        "n": float(len(ious_a)),
    }


def random_maps(shape: Sequence[int], seed: int = 0, smooth: float = 2.0) -> np.ndarray:
    """Smoothed random maps of ``shape`` (N, *spatial): the chance baseline for curves and localisation."""
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    r = rng.random(tuple(shape))
    sig = (0,) + (smooth,) * (len(shape) - 1)
    return ndimage.gaussian_filter(r, sigma=sig).astype(np.float32)


def curve_auc(curve: Any) -> float:
    """Area under a curve sampled at equal steps on [0, 1]: ``(sum - a0/2 - an/2) / (n - 1)`` (trapezoid)."""
    c = np.asarray(curve, dtype=np.float64)
    if c.shape[-1] < 2:
        raise ConfigError("a curve needs at least two points")
    return float(((c.sum(-1) - c[..., 0] / 2 - c[..., -1] / 2) / (c.shape[-1] - 1)).mean())


@dataclass
class CurveResult:
    """Deletion/insertion curves: fractions of pixels changed, mean probabilities, their AUCs, and per image
    the AUCs (``per_image``) and curves (``per_image_curves``, arrays ``(N, steps + 1)``)."""

    fractions: np.ndarray
    deletion: np.ndarray
    insertion: np.ndarray
    deletion_auc: float
    insertion_auc: float
    per_image: dict[str, np.ndarray] = field(default_factory=dict)
    per_image_curves: dict[str, np.ndarray] = field(default_factory=dict)

    def __repr__(self) -> str:
        return (
            f"CurveResult(deletion_auc={self.deletion_auc:.3f}, insertion_auc={self.insertion_auc:.3f}, "
            f"steps={len(self.fractions) - 1})"
        )


def _probabilities(model: nn.Module, x: torch.Tensor, target: torch.Tensor, batch: int) -> torch.Tensor:
    outs = []
    with torch.no_grad():
        for i in range(0, x.shape[0], batch):
            o = model(x[i : i + batch])
            p = (
                torch.sigmoid(o[:, 0])
                if o.shape[1] == 1
                else o.softmax(1)[torch.arange(o.shape[0]), target[i : i + batch]]
            )
            outs.append(p)
    return torch.cat(outs)


def deletion_insertion(
    model: nn.Module,
    images: Any,
    saliency: Any,
    target: int | Any | None = None,
    *,
    steps: int = 20,
    substrate: str | float = "blur",
    blur_sigma: float | None = None,
    batch_size: int = 64,
) -> CurveResult:
    """Deletion and insertion curves (Petsiuk et al. 2018) for ``saliency`` maps of ``images``.

    Pixels are ranked by saliency; at each of ``steps`` steps another ``1/steps`` of them is replaced by the
    substrate (deletion) or restored from the original image onto the substrate (insertion), and the
    probability of ``target`` (default: the predicted class) is recorded. ``substrate``: ``"blur"`` (a
    Gaussian-blurred copy; less out-of-distribution than a constant), ``"mean"`` or a constant value.
    Images ``(N, C, *spatial)``; maps ``(N, *spatial)``.
    """
    from scipy import ndimage

    x = torch.as_tensor(np.asarray(images), dtype=torch.float32)
    s = np.asarray(saliency, dtype=np.float64)
    if x.ndim == s.ndim:  # (N, *spatial) images without a channel axis
        x = x[:, None]
    if tuple(x.shape[2:]) != s.shape[1:] or x.shape[0] != s.shape[0]:
        raise ShapeMismatchError(
            f"images {tuple(x.shape)} and maps {s.shape} must be (N, C, *spatial) and (N, *spatial)"
        )
    dev = next(model.parameters()).device
    was = model.training
    model.eval()
    n, spatial = x.shape[0], tuple(x.shape[2:])
    npix = int(np.prod(spatial))
    xs = x.numpy()
    if substrate == "blur":
        sig = blur_sigma if blur_sigma is not None else max(1.0, min(spatial) / 8)
        base = ndimage.gaussian_filter(xs, sigma=(0, 0) + (sig,) * len(spatial))
    elif substrate == "mean":
        base = np.broadcast_to(
            xs.reshape(n, x.shape[1], -1).mean(-1).reshape(n, x.shape[1], *([1] * len(spatial))), xs.shape
        ).copy()
    elif isinstance(substrate, (int, float)):
        base = np.full_like(xs, float(substrate))
    else:
        raise ConfigError(f"substrate must be 'blur', 'mean' or a number, got {substrate!r}")
    base_t = torch.as_tensor(base, dtype=torch.float32)
    try:
        if target is None:
            with torch.no_grad():
                o = torch.cat([model(x[i : i + batch_size].to(dev)) for i in range(0, n, batch_size)])
            tgt = o.argmax(1) if o.shape[1] > 1 else torch.zeros(n, dtype=torch.long)
        else:
            tgt = (
                torch.as_tensor(target).long().reshape(-1).expand(n)
                if np.ndim(target) == 0
                else torch.as_tensor(np.asarray(target)).long()
            )
        tgt = tgt.to(dev)
        order = np.argsort(-s.reshape(n, -1), axis=1, kind="stable")  # most salient first
        counts = np.round(np.linspace(0, npix, steps + 1)).astype(int)
        dele = np.zeros((n, steps + 1))
        ins = np.zeros((n, steps + 1))
        xf = x.reshape(n, x.shape[1], -1)
        bf = base_t.reshape(n, x.shape[1], -1)
        # rank of every pixel in its image's saliency order; pixel j is changed at step k if rank < counts[k]
        rank = np.empty_like(order)
        np.put_along_axis(rank, order, np.arange(npix)[None].repeat(n, 0), axis=1)
        rank_t = torch.as_tensor(rank)[:, None, :]
        # several steps per forward pass (bounded so one group holds at most ~8 batches of images)
        per_group = max(1, (8 * batch_size) // max(1, 2 * n))
        for g0 in range(0, steps + 1, per_group):
            ks = list(range(g0, min(steps + 1, g0 + per_group)))
            sel = torch.stack([rank_t < int(counts[k]) for k in ks])  # (K, n, 1, npix)
            deleted = torch.where(sel, bf, xf).reshape(len(ks) * n, *x.shape[1:])
            inserted = torch.where(sel, xf, bf).reshape(len(ks) * n, *x.shape[1:])
            both = torch.cat([deleted, inserted]).to(dev)
            p = _probabilities(model, both, tgt.repeat(2 * len(ks)), batch_size).cpu().numpy()
            p = p.reshape(2, len(ks), n)
            dele[:, ks] = p[0].T
            ins[:, ks] = p[1].T
    finally:
        model.train(was)
    fr = counts / npix
    d_auc = np.array([curve_auc(r) for r in dele])
    i_auc = np.array([curve_auc(r) for r in ins])
    return CurveResult(
        fr,
        dele.mean(0),
        ins.mean(0),
        float(d_auc.mean()),
        float(i_auc.mean()),
        {"deletion_auc": d_auc, "insertion_auc": i_auc},
        {"deletion": dele, "insertion": ins},
    )


def map_similarity(a: Any, b: Any) -> dict[str, float]:
    """Mean Spearman rank correlation (of absolute values) and SSIM (maps scaled to [0, 1]) between map sets."""
    from scipy.stats import spearmanr
    from skimage.metrics import structural_similarity

    a = np.abs(np.asarray(a, dtype=np.float64))
    b = np.abs(np.asarray(b, dtype=np.float64))
    if a.shape != b.shape:
        raise ShapeMismatchError(f"map sets differ in shape: {a.shape} vs {b.shape}")
    rhos, ssims = [], []
    for u, v in zip(a, b):
        # a constant map (e.g. an all-zero Grad-CAM) has no ranking: count it as uncorrelated
        r = spearmanr(u.ravel(), v.ravel()).statistic if np.ptp(u) > 0 and np.ptp(v) > 0 else 0.0
        rhos.append(0.0 if not np.isfinite(r) else float(r))
        un = (u - u.min()) / (np.ptp(u) or 1.0)
        vn = (v - v.min()) / (np.ptp(v) or 1.0)
        win = min(7, *[d if d % 2 else d - 1 for d in u.shape])
        ssims.append(float(structural_similarity(un, vn, data_range=1.0, win_size=max(win, 3))))
    return {"spearman": float(np.mean(rhos)), "ssim": float(np.mean(ssims))}


def randomizable_layers(model: nn.Module) -> list[str]:
    """Names of modules that own parameters, from the output end to the input end (cascading order)."""
    names = [n for n, m in model.named_modules() if n and any(True for _ in m.parameters(recurse=False))]
    return names[::-1]


def _reinit(module: nn.Module, gen: torch.Generator) -> None:
    with torch.no_grad():
        for name, p in module.named_parameters(recurse=False):
            if p.ndim >= 2:
                fan_in = int(np.prod(p.shape[1:]))
                p.copy_(torch.randn(p.shape, generator=gen) * (1.0 / np.sqrt(fan_in)))
            elif "weight" in name:
                p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=gen))
            else:
                p.copy_(0.1 * torch.randn(p.shape, generator=gen))


@dataclass
class RandomizationResult:
    """Similarity between the trained model's maps and maps after randomising layers top-down."""

    method: str
    layers: list[str]
    spearman: list[float]
    ssim: list[float]

    @property
    def final_spearman(self) -> float:
        """Spearman rank correlation once every listed layer is randomised."""
        return self.spearman[-1]

    @property
    def final_ssim(self) -> float:
        """SSIM once every listed layer is randomised."""
        return self.ssim[-1]

    def passed(self, max_spearman: float = 0.5) -> bool:
        """True if randomising the model changed the maps: final Spearman correlation below ``max_spearman``."""
        return self.final_spearman < max_spearman

    def to_frame(self) -> Any:
        """The cascade as a pandas DataFrame (one row per randomised-up-to layer)."""
        import pandas as pd

        return pd.DataFrame({"randomized_through": self.layers, "spearman": self.spearman, "ssim": self.ssim})

    def __repr__(self) -> str:
        return (
            f"RandomizationResult({self.method!r}, final spearman={self.final_spearman:.3f}, "
            f"final ssim={self.final_ssim:.3f}, steps={len(self.layers)})"
        )


def randomization_check(
    model: nn.Module,
    images: Any,
    method: str = "gradient",
    target: int | Any | None = None,
    *,
    layers: Sequence[str] | None = None,
    cascading: bool = True,
    seed: int = 0,
    **explain_kwargs: Any,
) -> RandomizationResult:
    """Model-parameter randomisation test (Adebayo et al. 2018).

    Layers (default: every module owning parameters, output end first) are re-initialised one after the
    other, cumulatively if ``cascading`` else one at a time, on a copy of ``model``. After each step the
    maps of ``images`` for the *same* targets (the trained model's predictions by default) are compared
    with the trained model's maps. A faithful method's similarity drops towards zero.
    """
    from .api import explain

    layers = list(layers) if layers is not None else randomizable_layers(model)
    mods = dict(model.named_modules())
    unknown = [n for n in layers if n not in mods]
    if unknown:
        raise ConfigError(f"unknown layers {unknown}; choose from {randomizable_layers(model)}")
    x = torch.as_tensor(np.asarray(images) if not isinstance(images, torch.Tensor) else images).float()
    if target is None:
        with torch.no_grad():
            was = model.training
            model.eval()
            o = model(x.to(next(model.parameters()).device))
            model.train(was)
        target = o.argmax(1).cpu() if o.ndim == 2 else None
    kw = {"normalize": True, **explain_kwargs}
    original = explain(model, x, method=method, target=target, **kw)
    gen = torch.Generator().manual_seed(seed)
    work = copy.deepcopy(model)
    rhos, ssims = [], []
    for name in layers:
        if not cascading:
            work = copy.deepcopy(model)
        _reinit(dict(work.named_modules())[name], gen)
        maps = explain(work, x, method=method, target=target, **kw)
        sim = map_similarity(original, maps)
        rhos.append(sim["spearman"])
        ssims.append(sim["ssim"])
        log.debug("randomised through %s: %s", name, sim)
    return RandomizationResult(method=method, layers=layers, spearman=rhos, ssim=ssims)
