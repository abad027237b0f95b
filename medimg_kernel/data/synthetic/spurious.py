"""2D lesion images with a planted spurious cue: a model can be accurate for the wrong reason.

At one site (scanner) a bright marker in the image corner comes with the label (a department that stamps
its urgent cases, say), and that site's scanner shows lesions with low contrast. A model trained there
learns the marker; saliency maps point at the corner instead of the lesion, and once the marker stops
agreeing with the label (``cue_strength=0.5``) the site's sensitivity and AUC fall — a subgroup gap.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ...errors import ConfigError
from . import register_generator

__all__ = ["spurious_cue"]


@register_generator("spurious_cue")
def spurious_cue(
    n: int,
    *,
    seed: int = 0,
    size: int = 64,
    prevalence: float = 0.5,
    sites: Sequence[str] = ("A", "B", "C"),
    cue_site: str = "B",
    cue_strength: float = 0.95,
    contrast: float = 0.3,
    cue_site_contrast: float = 0.08,
    marker_size: int | None = None,
    noise: float = 0.05,
    radius: tuple[float, float] = (0.05, 0.11),
) -> dict[str, Any]:
    """Generate ``n`` lesion/no-lesion images from several sites, with a label-correlated marker at one.

    Parameters
    ----------
    n, seed, size : int
        Number of images, random seed, image height/width in pixels.
    prevalence : float
        Fraction of images with a lesion (per site).
    sites : sequence of str
        Site names; images are split evenly between them.
    cue_site : str
        The site where the marker is planted.
    cue_strength : float
        Probability that the marker agrees with the label at ``cue_site`` (present on lesion images, absent
        otherwise). 0.5 makes the marker uninformative (a deployment where the shortcut breaks).
    contrast, cue_site_contrast : float
        Lesion contrast at the other sites and at ``cue_site`` (low, so the marker is the easier signal).
    marker_size : int, optional
        Side of the square marker in pixels (default ``size // 8``), drawn in the top-left corner.
    noise : float
        Standard deviation of the Gaussian noise.
    radius : (float, float)
        Range of lesion radii as a fraction of ``size`` (as in ``lesions2d``).

    Returns
    -------
    dict
        ``images`` float32 (N, 1, H, W) in [0, 1]; ``labels`` int64 (N,); ``masks`` uint8 (N, 1, H, W) lesion
        truth; ``cue_masks`` uint8 (N, 1, H, W) where the marker is; ``has_cue`` bool (N,); ``metadata``
        pandas DataFrame with ``sex`` ("F"/"M"), ``age`` (years), ``site``; ``class_names``.
    """
    import pandas as pd

    from .images2d import lesions2d

    if cue_site not in sites:
        raise ConfigError(f"cue_site {cue_site!r} is not one of the sites {list(sites)}: pick one of them")
    if not 0.0 <= cue_strength <= 1.0:
        raise ConfigError(f"cue_strength must be a probability in [0, 1], got {cue_strength}")
    rng = np.random.default_rng(seed)
    ms = marker_size or max(2, size // 8)
    counts = np.full(len(sites), n // len(sites))
    counts[: n - counts.sum()] += 1
    parts: list[dict[str, Any]] = []
    site_col: list[str] = []
    for k, (site, cnt) in enumerate(zip(sites, counts)):
        if cnt == 0:
            continue
        c = cue_site_contrast if site == cue_site else contrast
        parts.append(
            lesions2d(
                int(cnt), seed=seed * 1000 + k, size=size, prevalence=prevalence, contrast=c, noise=noise
            )
        )
        site_col += [site] * int(cnt)
    images = np.concatenate([p["images"] for p in parts])
    labels = np.concatenate([p["labels"] for p in parts])
    masks = np.concatenate([p["masks"] for p in parts])
    site_arr = np.asarray(site_col)
    at_cue = site_arr == cue_site
    agree = rng.random(n) < cue_strength
    has_cue = at_cue & np.where(agree, labels == 1, labels == 0)
    cue_masks = np.zeros_like(masks)
    off = max(1, size // 32)
    cue_masks[:, 0, off : off + ms, off : off + ms] = 1
    cue_masks[~has_cue] = 0
    images = np.where(cue_masks.astype(bool), np.float32(0.95), images).astype(np.float32)
    order = rng.permutation(n)
    meta = (
        pd.DataFrame(
            {
                "sex": rng.choice(["F", "M"], size=n),
                "age": np.clip(rng.normal(55, 15, size=n), 18, 90).round().astype(int),
                "site": site_arr,
            }
        )
        .iloc[order]
        .reset_index(drop=True)
    )
    return {
        "images": images[order],
        "labels": labels[order].astype(np.int64),
        "masks": masks[order],
        "cue_masks": cue_masks[order],
        "has_cue": has_cue[order],
        "metadata": meta,
        "class_names": ["no lesion", "lesion"],
    }
