"""3D synthetic volumes with ground truth: a brain-tissue cohort from the MNI152 template and 3D lesions.

``brain_tissue`` warps nilearn's MNI152 template and its CSF/GM/WM maps with one random affine plus a
smooth elastic field per subject (all subjects in one batched ``grid_sample``), multiplies a smooth
bias field and adds Rician-like noise; labels are the argmax of the warped tissue maps, so image and
truth stay exactly co-registered. ``lesions3d`` puts spherical blobs in a textured ellipsoid organ.
Both are deterministic given ``seed``.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from . import register_generator
from .lesions import lesion_images

__all__ = ["brain_tissue", "lesions3d", "TISSUE_CLASSES"]

TISSUE_CLASSES = ["background", "CSF", "GM", "WM"]


def _template_stack(resolution: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """(5, D, H, W) float32 stack [t1, csf, gm, wm, mask] cropped to a cube around the brain, and its affine."""
    from ..samples import load_mni152

    m = load_mni152(resolution)
    idx = np.argwhere(m.mask)
    lo, hi = idx.min(axis=0), idx.max(axis=0) + 1
    side = int((hi - lo).max()) + 4
    centre = (lo + hi) // 2
    start = centre - side // 2
    stack = np.stack([m.t1, m.csf, m.gm, m.wm, m.mask.astype(np.float32)])
    out = np.zeros((5, side, side, side), dtype=np.float32)
    src_lo = np.maximum(start, 0)
    src_hi = np.minimum(start + side, m.t1.shape)
    dst_lo = src_lo - start
    dst_hi = dst_lo + (src_hi - src_lo)
    out[:, dst_lo[0] : dst_hi[0], dst_lo[1] : dst_hi[1], dst_lo[2] : dst_hi[2]] = stack[
        :, src_lo[0] : src_hi[0], src_lo[1] : src_hi[1], src_lo[2] : src_hi[2]
    ]
    affine = m.affine.copy()
    affine[:3, 3] = m.affine[:3, :3] @ start + m.affine[:3, 3]
    return out, affine


def _rotation(rng: np.random.Generator, max_deg: float) -> np.ndarray:
    ax, ay, az = np.deg2rad(rng.uniform(-max_deg, max_deg, size=3))
    rx = np.array([[1, 0, 0], [0, np.cos(ax), -np.sin(ax)], [0, np.sin(ax), np.cos(ax)]])
    ry = np.array([[np.cos(ay), 0, np.sin(ay)], [0, 1, 0], [-np.sin(ay), 0, np.cos(ay)]])
    rz = np.array([[np.cos(az), -np.sin(az), 0], [np.sin(az), np.cos(az), 0], [0, 0, 1]])
    return rx @ ry @ rz


def _smooth_field(rng: np.random.Generator, shape: tuple[int, ...], coarse: int, size: int) -> np.ndarray:
    """Smooth random field(s): Gaussian noise on a ``coarse``³ grid, trilinearly upsampled to ``size``³."""
    import torch
    import torch.nn.functional as F

    field = rng.standard_normal((int(np.prod(shape)), 1, coarse, coarse, coarse)).astype(np.float32)
    with torch.no_grad():
        up = F.interpolate(
            torch.from_numpy(field), size=(size, size, size), mode="trilinear", align_corners=True
        )
    return up.numpy().reshape(*shape, size, size, size)


@register_generator("brain_tissue")
def brain_tissue(
    n: int,
    *,
    seed: int = 0,
    size: int = 32,
    rot_deg: float = 10.0,
    scale: tuple[float, float] = (0.9, 1.1),
    elastic: float = 0.03,
    bias: float = 0.25,
    noise: float = 0.03,
    resolution: int = 2,
) -> dict[str, object]:
    """Generate ``n`` T1-like brain volumes of ``size``³ voxels with CSF/GM/WM labels.

    Parameters
    ----------
    n, seed, size : int
        Number of subjects, random seed, edge length of the output cube in voxels.
    rot_deg : float
        Maximum rotation about each axis, degrees.
    scale : (float, float)
        Range of the isotropic scale factor.
    elastic : float
        Amplitude of the elastic displacement, as a fraction of the field of view.
    bias : float
        Strength of the multiplicative bias field (log amplitude).
    noise : float
        Standard deviation of the Rician-like noise.
    resolution : int
        Resolution of the template used (mm), 2 by default.

    Returns
    -------
    dict
        ``images`` float32 (N, 1, S, S, S) in [0, 1]; ``labels`` int64 (N, 1, S, S, S) with
        0=background, 1=CSF, 2=GM, 3=WM; ``affine`` (4, 4) of the undeformed output grid (mm);
        ``class_names`` :data:`TISSUE_CLASSES`.
    """
    import torch
    import torch.nn.functional as F

    stack, affine = _template_stack(resolution)
    rng = np.random.default_rng(seed)
    theta = np.zeros((n, 3, 4), dtype=np.float32)
    for i in range(n):
        theta[i, :, :3] = _rotation(rng, rot_deg) / rng.uniform(*scale)
        theta[i, :, 3] = rng.uniform(-0.05, 0.05, size=3)
    coarse = 4
    disp = _smooth_field(rng, (n, 3), coarse, size) * (2.0 * elastic)  # grid units are [-1, 1]
    log_bias = _smooth_field(rng, (n,), 3, size) * bias
    noise_re = rng.standard_normal((n, size, size, size)).astype(np.float32) * noise
    noise_im = rng.standard_normal((n, size, size, size)).astype(np.float32) * noise
    gains = rng.uniform(0.85, 1.1, size=n).astype(np.float32)

    with torch.no_grad():
        grid = F.affine_grid(torch.from_numpy(theta), [n, 5, size, size, size], align_corners=False)
        # grid's last axis is (x, y, z) = (W, H, D) of the source; displacement per axis
        grid = grid + torch.from_numpy(np.ascontiguousarray(np.moveaxis(disp, 1, -1)))
        src = torch.from_numpy(stack)[None].expand(n, -1, -1, -1, -1)
        warped = F.grid_sample(src, grid, mode="bilinear", padding_mode="zeros", align_corners=False).numpy()
    t1, tissues, mask = warped[:, 0], warped[:, 1:4], warped[:, 4]
    labels = tissues.argmax(axis=1) + 1
    labels[(mask < 0.5) | (tissues.max(axis=1) < 0.05)] = 0
    img = t1 * gains[:, None, None, None] * np.exp(log_bias)
    img = np.sqrt((img + noise_re) ** 2 + noise_im**2)
    images = np.clip(img, 0.0, 1.0).astype(np.float32)[:, None]
    out_affine = affine.copy()
    step = stack.shape[1] / size
    out_affine[:3, :3] = affine[:3, :3] * step
    out_affine[:3, 3] = affine[:3, :3] @ np.full(3, (step - 1) / 2.0) + affine[:3, 3]
    return {
        "images": images,
        "labels": labels[:, None].astype(np.int64),
        "affine": out_affine,
        "class_names": list(TISSUE_CLASSES),
    }


@register_generator("lesions3d")
def lesions3d(
    n: int,
    *,
    seed: int = 0,
    size: int = 32,
    prevalence: float = 0.5,
    max_lesions: int = 1,
    radius: tuple[float, float] = (0.08, 0.14),
    contrast: float = 0.4,
    noise: float = 0.05,
) -> dict[str, object]:
    """Generate ``n`` textured 3D organ volumes, a ``prevalence`` fraction of them with spherical lesions.

    Parameters
    ----------
    n, seed, size : int
        Number of volumes, random seed, cube edge in voxels.
    prevalence : float
        Fraction of volumes with lesions (exactly ``round(prevalence * n)``).
    max_lesions : int
        Each positive volume has 1 to ``max_lesions`` lesions.
    radius : (float, float)
        Lesion radius range as a fraction of ``size``.
    contrast, noise : float
        Lesion brightness offset and Gaussian noise standard deviation.

    Returns
    -------
    dict
        ``images`` float32 (N, 1, S, S, S) in [0, 1]; ``labels`` int64 (N,) 0/1; ``masks`` uint8
        (N, 1, S, S, S); ``centers`` list of (k, 3) float arrays (voxel indices); ``radii`` list of (k,)
        arrays in voxels; ``class_names`` ["no lesion", "lesion"].
    """
    return lesion_images(n, _organ_background, ndim=3, seed=seed, size=size, prevalence=prevalence,
                         max_lesions=max_lesions, radius=radius, contrast=contrast, polarity="bright", noise=noise)


def _organ_background(size: int, rng: np.random.Generator, grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A textured ellipsoid organ at a random size and offset; returns (image, organ mask)."""
    half = (size - 1) / 2.0
    semi = rng.uniform(0.7, 0.9, size=3) * half
    off = rng.uniform(-0.05, 0.05, size=3) * size
    rel = (grid - (half + off)[:, None, None, None]) / semi[:, None, None, None]
    organ = (rel**2).sum(axis=0) <= 1.0
    tex = ndimage.gaussian_filter(rng.standard_normal((size, size, size)).astype(np.float32), size / 10)
    tex /= tex.std() + 1e-6
    img = ndimage.gaussian_filter(organ.astype(np.float32), 0.8) * 0.45 + 0.05 * tex * organ
    return img, organ
