"""2D synthetic images with ground truth: a MedNIST-like six-class set and lesion present/absent images.

Both generators are deterministic given ``seed`` and draw every random number from one
``numpy.random.Generator``, so the same call always returns the same arrays. Shapes are drawn in a
canonical frame and then posed with a random rotation, scale and shift, then textured and noised, so
a small CNN learns them in a few dozen steps without reaching 100 % at once.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import ndimage

from ...errors import ConfigError
from . import register_generator
from .lesions import lesion_images

__all__ = ["mednist_like", "lesions2d", "patient_images", "growth_series", "MEDNIST_CLASSES"]

MEDNIST_CLASSES = ["AbdomenCT", "BreastMRI", "CXR", "ChestCT", "Hand", "HeadCT"]


def _ellipse(x: np.ndarray, y: np.ndarray, cx: float, cy: float, rx: float, ry: float) -> np.ndarray:
    return ((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 <= 1.0


def _soft(mask: np.ndarray, sigma: float = 0.8) -> np.ndarray:
    return ndimage.gaussian_filter(mask.astype(np.float32), sigma)


def _abdomen(x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    img = 0.45 * _ellipse(x, y, 0, 0, 0.85, 0.6)
    img = img + 0.25 * _ellipse(x, y, -0.35, -0.1, 0.3, 0.25)  # liver
    img = img + 0.15 * _ellipse(x, y, 0.3, 0.1, 0.15, 0.12)  # kidney
    img = img + 0.15 * _ellipse(x, y, -0.3, 0.15, 0.15, 0.12)
    img = img + 0.45 * _ellipse(x, y, 0, 0.4, 0.1, 0.09)  # vertebra
    return img


def _breast(x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    left = _ellipse(x, y, -0.4, 0.35, 0.35, 0.45) & (y < 0.35)
    right = _ellipse(x, y, 0.4, 0.35, 0.35, 0.45) & (y < 0.35)
    chest = (y > 0.3) & (y < 0.55) & (np.abs(x) < 0.9)
    return 0.7 * (left | right) + 0.3 * chest


def _cxr(x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    torso = (np.abs(x) < 0.8) & (np.abs(y) < 0.85)
    lungs = _ellipse(x, y, -0.35, 0.0, 0.28, 0.6) | _ellipse(x, y, 0.35, 0.0, 0.28, 0.6)
    ribs = (np.sin(y * 14.0) > 0.6) & lungs
    img = 0.75 * torso - 0.5 * lungs + 0.15 * ribs
    img = img + 0.2 * _ellipse(x, y, 0.1, 0.3, 0.2, 0.25)  # heart
    return np.clip(img, 0, 1)


def _chest_ct(x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    body = _ellipse(x, y, 0, 0, 0.85, 0.6)
    lungs = _ellipse(x, y, -0.38, -0.05, 0.28, 0.42) | _ellipse(x, y, 0.38, -0.05, 0.28, 0.42)
    img = 0.5 * body - 0.42 * lungs
    img = img + 0.3 * _ellipse(x, y, 0.0, 0.05, 0.14, 0.18)  # mediastinum
    img = img + 0.45 * _ellipse(x, y, 0, 0.45, 0.09, 0.08)  # spine
    return img


def _hand(x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    palm = _ellipse(x, y, 0, 0.35, 0.42, 0.4)
    fingers = np.zeros_like(palm)
    for k, (fx, length) in enumerate(zip((-0.36, -0.16, 0.04, 0.24), (0.55, 0.65, 0.6, 0.5))):
        bend = 0.05 * rng.standard_normal()
        fingers |= (np.abs(x - fx - bend * (0.2 - y)) < 0.07) & (y < 0.1) & (y > 0.1 - length)
        del k
    thumb = np.abs((x - 0.45) * 0.8 + (y - 0.2) * 0.6) < 0.08
    thumb &= _ellipse(x, y, 0.55, 0.05, 0.3, 0.35)
    bones = (fingers | palm | thumb).astype(np.float32)
    return 0.55 * bones + 0.25 * (fingers & (np.sin(y * 20) > 0.0))


def _head_ct(x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    outer = _ellipse(x, y, 0, 0, 0.7, 0.85)
    inner = _ellipse(x, y, 0, 0, 0.6, 0.75)
    ventricles = _ellipse(x, y, -0.12, -0.05, 0.07, 0.22) | _ellipse(x, y, 0.12, -0.05, 0.07, 0.22)
    return 0.95 * (outer & ~inner) + 0.4 * inner - 0.2 * ventricles


_SHAPES: list[Callable[[np.ndarray, np.ndarray, np.random.Generator], np.ndarray]] = [
    _abdomen,
    _breast,
    _cxr,
    _chest_ct,
    _hand,
    _head_ct,
]


def _posed_grid(
    size: int, rng: np.random.Generator, *, rot_deg: float, scale: tuple[float, float], shift: float
) -> tuple[np.ndarray, np.ndarray]:
    """Canonical coordinates (x, y) in [-1, 1] seen through a random rotation, scale and shift."""
    lin = np.linspace(-1.0, 1.0, size, dtype=np.float32)
    yy, xx = np.meshgrid(lin, lin, indexing="ij")
    theta = np.deg2rad(rng.uniform(-rot_deg, rot_deg))
    s = rng.uniform(*scale)
    tx, ty = rng.uniform(-shift, shift, size=2)
    c, sn = np.cos(theta), np.sin(theta)
    u, v = (xx - tx) / s, (yy - ty) / s
    return c * u + sn * v, -sn * u + c * v


def _texture(size: int, rng: np.random.Generator, sigma: float, amp: float) -> np.ndarray:
    field = ndimage.gaussian_filter(rng.standard_normal((size, size)).astype(np.float32), sigma)
    return amp * field / (field.std() + 1e-6)


@register_generator("mednist_like")
def mednist_like(
    n: int, *, seed: int = 0, size: int = 64, n_classes: int = 6, noise: float = 0.08, rot_deg: float = 25.0,
    shift: float = 0.12, scale: tuple[float, float] = (0.8, 1.15),
) -> dict[str, object]:
    """Generate ``n`` MedNIST-like 2D images of up to six visually distinct classes.

    Parameters
    ----------
    n : int
        Number of images; classes are balanced (``i % n_classes``) and then shuffled.
    seed : int
        Seed of the random generator; equal seeds give equal arrays.
    size : int
        Image height and width in pixels.
    n_classes : int
        Number of classes used, 2–6, in the order of :data:`MEDNIST_CLASSES`.
    noise, rot_deg : float
        Standard deviation of the Gaussian noise and the maximum rotation in degrees.
    shift, scale : float, (float, float)
        Maximum shift (in half-widths) and the range of scale factors of the random pose. Larger poses
        make the classes harder to separate pixel by pixel (a linear model on pixels), not for a CNN.

    Returns
    -------
    dict
        ``images`` float32 (N, 1, H, W) in [0, 1]; ``labels`` int64 (N,); ``class_names`` list[str].
    """
    if not 2 <= n_classes <= len(_SHAPES):
        raise ConfigError(f"n_classes must be between 2 and {len(_SHAPES)}, got {n_classes}: pick how many of "
                          f"{MEDNIST_CLASSES} to draw")
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(n) % n_classes).astype(np.int64)
    images = np.empty((n, 1, size, size), dtype=np.float32)
    for i, lab in enumerate(labels):
        x, y = _posed_grid(size, rng, rot_deg=rot_deg, scale=tuple(scale), shift=shift)
        img = _soft(_SHAPES[lab](x, y, rng), sigma=size / 80)
        img = img * rng.uniform(0.75, 1.15) + _texture(size, rng, size / 16, 0.05) * (img > 0.05)
        img = img + noise * rng.standard_normal((size, size)).astype(np.float32)
        images[i, 0] = np.clip(img, 0.0, 1.0)
    return {"images": images, "labels": labels, "class_names": MEDNIST_CLASSES[:n_classes]}


def _anatomy_background(size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A body-like ellipse with smooth organ texture; returns (image, body mask)."""
    x, y = _posed_grid(size, rng, rot_deg=15.0, scale=(0.9, 1.1), shift=0.05)
    body = _ellipse(x, y, 0, 0, 0.85, 0.7)
    organs = _ellipse(x, y, -0.35, 0.0, 0.3, 0.35) * 0.12 + _ellipse(x, y, 0.35, 0.05, 0.25, 0.3) * 0.08
    img = _soft(body, size / 64) * 0.45 + _soft(organs, size / 32)
    img = img + _texture(size, rng, size / 12, 0.05) * body + _texture(size, rng, size / 40, 0.03) * body
    return img.astype(np.float32), body


@register_generator("lesions2d")
def lesions2d(
    n: int,
    *,
    seed: int = 0,
    size: int = 64,
    prevalence: float = 0.5,
    max_lesions: int = 1,
    radius: tuple[float, float] = (0.07, 0.14),
    contrast: float = 0.45,
    polarity: str = "bright",
    noise: float = 0.05,
) -> dict[str, object]:
    """Generate ``n`` textured 2D anatomy images, a ``prevalence`` fraction of them with blob lesions.

    Parameters
    ----------
    n, seed, size : int
        Number of images, random seed, image height/width in pixels.
    prevalence : float
        Fraction of images that carry lesions (exactly ``round(prevalence * n)`` of them).
    max_lesions : int
        Each positive image has between 1 and ``max_lesions`` lesions.
    radius : (float, float)
        Range of lesion radii as a fraction of ``size``.
    contrast : float
        Lesion intensity offset relative to the background.
    polarity : {"bright", "dark", "mixed"}
        Whether lesions are brighter, darker, or either (random per lesion).
    noise : float
        Standard deviation of additive Gaussian noise.

    Returns
    -------
    dict
        ``images`` float32 (N, 1, H, W) in [0, 1]; ``labels`` int64 (N,) 0/1; ``masks`` uint8
        (N, 1, H, W), the lesion truth; ``centers`` list of (k, 2) float arrays (row, col);
        ``radii`` list of (k,) float arrays in pixels; ``class_names`` ["no lesion", "lesion"].
    """
    return lesion_images(n, lambda size_, rng, _grid: _anatomy_background(size_, rng), ndim=2, seed=seed, size=size,
                         prevalence=prevalence, max_lesions=max_lesions, radius=radius, contrast=contrast,
                         polarity=polarity, noise=noise)


@register_generator("patient_images")
def patient_images(
    n: int, *, seed: int = 0, size: int = 32, per_patient: int = 6, signal: float = 0.35, fingerprint: float = 1.0,
    noise: float = 0.25,
) -> dict[str, object]:
    """Generate ``n`` 2D images grouped by patient, to show what an image-level split leaks.

    Each patient has one label (finding present / absent) and an idiosyncratic anatomy, a smooth random field
    of strength ``fingerprint`` shared by all of their images. A finding is a faint blob (``signal``) at a
    random place. Split by image, a model can recognise the patient and recall their label; split by patient,
    only the finding itself helps. Returns ``images`` float32 (N, 1, H, W), ``labels`` int64 (N,) and
    ``patients`` int64 (N,): the patient id of each image.
    """
    if per_patient < 1 or n < 2 * per_patient:
        raise ConfigError(f"patient_images needs per_patient >= 1 and n >= 2 * per_patient; got n={n}, "
                          f"per_patient={per_patient}")
    rng = np.random.default_rng(seed)
    n_patients = int(np.ceil(n / per_patient))
    labels_p = rng.permutation(np.arange(n_patients) % 2)
    anatomy = [_texture(size, rng, sigma=size / 10, amp=fingerprint) for _ in range(n_patients)]
    lin = np.linspace(-1.0, 1.0, size, dtype=np.float32)
    yy, xx = np.meshgrid(lin, lin, indexing="ij")
    images, labels, patients = [], [], []
    for i in range(n):
        p = i // per_patient
        img = anatomy[p] + rng.normal(0.0, noise, (size, size)).astype(np.float32)
        if labels_p[p]:
            cy, cx = rng.uniform(-0.6, 0.6, 2)
            img = img + signal * 4 * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * 0.12**2))
        images.append(img)
        labels.append(labels_p[p])
        patients.append(p)
    x = np.stack(images).astype(np.float32)[:, None]
    x = (x - x.min()) / (x.max() - x.min() + 1e-6)
    return {"images": x, "labels": np.array(labels, np.int64), "patients": np.array(patients, np.int64)}


@register_generator("growth_series")
def growth_series(
    n: int, *, seed: int = 0, size: int = 24, frames: int = 6, radius: tuple[float, float] = (0.08, 0.3),
    contrast: float = 0.5, noise: float = 0.08,
) -> dict[str, object]:
    """Generate ``n`` follow-up series of one lesion over ``frames`` visits: growing (label 1) or shrinking (0).

    A shrinking series is a growing one played backwards, so the *set* of frames carries no information about
    the label: only the order does. An order-free model (pooling over visits) is at chance by construction.
    Returns ``images`` float32 (N, 1, frames, H, W) in [0, 1] and ``labels`` int64 (N,).
    """
    if frames < 2:
        raise ConfigError(f"growth_series needs at least 2 frames (visits), got {frames}")
    rng = np.random.default_rng(seed)
    lin = np.linspace(-1.0, 1.0, size, dtype=np.float32)
    yy, xx = np.meshgrid(lin, lin, indexing="ij")
    labels = rng.permutation(np.arange(n) % 2).astype(np.int64)
    out = np.empty((n, 1, frames, size, size), np.float32)
    for i in range(n):
        anatomy = 0.3 + _texture(size, rng, sigma=size / 8, amp=0.08)
        cy, cx = rng.uniform(-0.4, 0.4, 2)
        r0, r1 = np.sort(rng.uniform(*radius, 2))
        if r1 - r0 < 0.08:
            r1 = min(r0 + 0.08, radius[1] + 0.08)
        radii = np.linspace(r0, r1, frames)
        if not labels[i]:
            radii = radii[::-1]
        for t, r in enumerate(radii):
            blob = _soft(((yy - cy) ** 2 + (xx - cx) ** 2 <= r**2).astype(np.float32))
            out[i, 0, t] = anatomy + contrast * blob + rng.normal(0.0, noise, (size, size))
    return {"images": np.clip(out, 0.0, 1.0), "labels": labels}
