"""Lesions in N dimensions: blob lesions placed inside a body mask, with their exact truth.

``lesions2d`` (textured 2D anatomy) and ``lesions3d`` (textured 3D organ) differ only in the background
they draw; both call :func:`lesion_images`, which decides which images carry lesions, places 1 to
``max_lesions`` Gaussian blobs well inside the body and returns the masks, centres and radii.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import ndimage

from ...errors import ConfigError

__all__ = ["lesion_images", "POLARITIES"]

POLARITIES = ("bright", "dark", "mixed")

#: ``background(size, rng, grid) -> (image float32, body mask bool)``
Background = Callable[[int, np.random.Generator, np.ndarray], tuple[np.ndarray, np.ndarray]]


def lesion_images(
    n: int,
    background: Background,
    *,
    ndim: int,
    seed: int = 0,
    size: int = 64,
    prevalence: float = 0.5,
    max_lesions: int = 1,
    radius: tuple[float, float] = (0.07, 0.14),
    contrast: float = 0.45,
    polarity: str = "bright",
    noise: float = 0.05,
) -> dict[str, object]:
    """Generate ``n`` images of edge ``size`` in ``ndim`` dimensions, ``prevalence`` of them with lesions.

    Returns ``images`` float32 (N, 1, *spatial) in [0, 1], ``labels`` int64 (N,) 0/1, ``masks`` uint8
    (N, 1, *spatial), ``centers`` (list of (k, ndim) arrays, voxel indices), ``radii`` (list of (k,)
    arrays, in voxels) and ``class_names``.
    """
    if polarity not in POLARITIES:
        raise ConfigError(f"polarity must be one of {', '.join(POLARITIES)}, got {polarity!r}")
    if not 0.0 <= prevalence <= 1.0:
        raise ConfigError(f"prevalence must be a fraction between 0 and 1, got {prevalence!r}")
    rng = np.random.default_rng(seed)
    n_pos = int(round(prevalence * n))
    labels = rng.permutation(np.r_[np.ones(n_pos), np.zeros(n - n_pos)]).astype(np.int64)
    shape = (size,) * ndim
    grid = np.mgrid[tuple(slice(0, size) for _ in range(ndim))].astype(np.float32)
    expand = (slice(None),) + (None,) * ndim
    images = np.empty((n, 1, *shape), dtype=np.float32)
    masks = np.zeros((n, 1, *shape), dtype=np.uint8)
    centers: list[np.ndarray] = []
    radii: list[np.ndarray] = []
    for i, lab in enumerate(labels):
        img, body = background(size, rng, grid)
        k = int(rng.integers(1, max_lesions + 1)) if lab else 0
        inside = np.argwhere(ndimage.binary_erosion(body, iterations=max(1, int(size * radius[1]))))
        if len(inside) == 0:
            inside = np.argwhere(body)
        c = np.zeros((k, ndim), dtype=np.float32)
        r = np.zeros(k, dtype=np.float32)
        for j in range(k):
            c[j] = inside[rng.integers(len(inside))] + rng.uniform(-0.5, 0.5, size=ndim)
            r[j] = rng.uniform(*radius) * size
            dist2 = ((grid - c[j][expand]) ** 2).sum(axis=0)
            sign = 1.0 if polarity == "bright" else -1.0 if polarity == "dark" else rng.choice([-1.0, 1.0])
            img = img + sign * contrast * rng.uniform(0.8, 1.2) * np.exp(-dist2 / (2 * (0.6 * r[j]) ** 2))
            masks[i, 0] |= (dist2 <= r[j] ** 2).astype(np.uint8)
        img = img + noise * rng.standard_normal(shape).astype(np.float32)
        images[i, 0] = np.clip(img, 0.0, 1.0)
        centers.append(c)
        radii.append(r)
    return {"images": images, "labels": labels, "masks": masks, "centers": centers, "radii": radii,
            "class_names": ["no lesion", "lesion"]}
