"""Random augmentation of whole batches on the training device (no per-sample Python work).

One ``grid_sample`` call applies a random rotation/scale/flip to every image of a batch (2D or 3D);
segmentation labels get the same geometric transform with nearest-neighbour sampling. Randomness comes
from a generator seeded by (seed, epoch, batch), so a resumed run sees the same augmentations.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from ..errors import ConfigError

__all__ = ["BatchAugment", "MonaiAugment", "make_augment"]


@dataclass
class BatchAugment:
    """Batched random augmentation: flips, rotation, scaling, intensity scale/shift and noise.

    Parameters
    ----------
    flip_axes
        Spatial axes (0 = first spatial axis) flipped with probability ``flip_prob`` each.
    rotate_deg
        Maximum rotation in degrees (in-plane for 2D; about each axis for 3D).
    scale
        Maximum relative zoom (0.1 = 0.9–1.1).
    intensity
        Maximum relative intensity scale and shift.
    noise_std
        Standard deviation of added Gaussian noise (relative to the batch's std).
    """

    flip_axes: tuple[int, ...] = (-1,)
    flip_prob: float = 0.5
    rotate_deg: float = 10.0
    scale: float = 0.1
    intensity: float = 0.1
    noise_std: float = 0.0

    def __call__(self, x: torch.Tensor, y: torch.Tensor | None, generator: torch.Generator,
                 segmentation: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Return an augmented copy of the batch ``x`` (and ``y`` for segmentation)."""
        if not isinstance(x, torch.Tensor) or x.ndim not in (4, 5):
            return x, y
        n, dims, dev = x.shape[0], x.ndim - 2, x.device

        def rand(*shape: int) -> torch.Tensor:
            return torch.rand(*shape, generator=generator, device=generator.device).to(dev)

        if self.rotate_deg or self.scale or self.flip_axes:
            theta = torch.eye(dims, device=dev).repeat(n, 1, 1)
            if self.rotate_deg:
                angles = (rand(n, 1 if dims == 2 else 3) * 2 - 1) * math.radians(self.rotate_deg)
                theta = _rotation(angles, dims) @ theta
            if self.scale:
                s = 1 + (rand(n) * 2 - 1) * self.scale
                theta = theta * s.view(n, 1, 1)
            for ax in self.flip_axes:
                a = ax % dims
                # grid axes are reversed (x = last spatial axis)
                g = dims - 1 - a
                sign = torch.where(rand(n) < self.flip_prob, -1.0, 1.0)
                theta[:, :, g] = theta[:, :, g] * sign.view(n, 1)
            affine = torch.cat([theta, torch.zeros(n, dims, 1, device=dev)], dim=2)
            grid = F.affine_grid(affine.to(torch.float32), list(x.shape), align_corners=False)
            x = F.grid_sample(x.float(), grid.to(x.device), mode="bilinear", padding_mode="border",
                              align_corners=False).to(memory_format=_fmt(x))
            if segmentation and isinstance(y, torch.Tensor) and y.ndim == x.ndim:
                y = F.grid_sample(y.float(), grid, mode="nearest", padding_mode="border",
                                  align_corners=False).to(y.dtype)
        if self.intensity:
            shape = (n,) + (1,) * (x.ndim - 1)
            x = x * (1 + (rand(*shape) * 2 - 1) * self.intensity) + (rand(*shape) * 2 - 1) * self.intensity
        if self.noise_std:
            noise = torch.randn(x.shape, generator=generator, device=generator.device).to(dev)
            x = x + noise * self.noise_std * x.std()
        return x, y


def _fmt(x: torch.Tensor) -> torch.memory_format:
    if x.ndim == 4 and x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous():
        return torch.channels_last
    if x.ndim == 5 and x.is_contiguous(memory_format=torch.channels_last_3d) and not x.is_contiguous():
        return torch.channels_last_3d
    return torch.contiguous_format


def _rotation(angles: torch.Tensor, dims: int) -> torch.Tensor:
    c, s = torch.cos(angles), torch.sin(angles)
    n = angles.shape[0]
    if dims == 2:
        r = torch.stack([c[:, 0], -s[:, 0], s[:, 0], c[:, 0]], dim=1).view(n, 2, 2)
        return r
    one, zero = torch.ones_like(c[:, 0]), torch.zeros_like(c[:, 0])
    rx = torch.stack([one, zero, zero, zero, c[:, 0], -s[:, 0], zero, s[:, 0], c[:, 0]], 1).view(n, 3, 3)
    ry = torch.stack([c[:, 1], zero, s[:, 1], zero, one, zero, -s[:, 1], zero, c[:, 1]], 1).view(n, 3, 3)
    rz = torch.stack([c[:, 2], -s[:, 2], zero, s[:, 2], c[:, 2], zero, zero, zero, one], 1).view(n, 3, 3)
    return rz @ ry @ rx


class MonaiAugment:
    """Apply a MONAI random transform to every sample of a batch, reseeded from the Trainer's generator.

    ``transform`` is an array transform (``RandFlip``, ``RandRotate``, a ``Compose`` of them) applied to each
    channel-first image, or a dictionary transform (``RandFlipd(keys=["image", "label"])`` ...) applied to
    ``{"image": x_i, "label": y_i}`` so segmentation labels move with their image. The transform's random
    state is reset from the per-(epoch, batch) generator, so a resumed run sees the same augmentations.
    """

    def __init__(self, transform: Any) -> None:
        self.transform = transform
        self.dictionary = _is_dictionary_transform(transform)

    def __call__(self, x: torch.Tensor, y: torch.Tensor | None, generator: torch.Generator,
                 segmentation: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Return the transformed batch (labels transformed too for dictionary transforms in segmentation)."""
        if not isinstance(x, torch.Tensor):
            return x, y
        seed = int(torch.randint(0, 2**31 - 1, (1,), generator=generator))
        if hasattr(self.transform, "set_random_state"):
            self.transform.set_random_state(seed=seed)
        xs, ys = [], []
        for i in range(x.shape[0]):
            if self.dictionary:
                item = {"image": x[i]}
                if segmentation and y is not None:
                    item["label"] = y[i]
                out = self.transform(item)
                xs.append(_plain(out["image"]))
                ys.append(_plain(out["label"]) if "label" in item else None)
            else:
                xs.append(_plain(self.transform(x[i])))
        xb = torch.stack(xs).to(x.dtype)
        if self.dictionary and segmentation and y is not None:
            return xb, torch.stack(ys).to(y.dtype)
        return xb, y


def _plain(t: Any) -> torch.Tensor:
    t = t.as_tensor() if hasattr(t, "as_tensor") else t  # MONAI MetaTensor -> tensor
    return t if isinstance(t, torch.Tensor) else torch.as_tensor(t)


def _is_monai(obj: Any) -> bool:
    return type(obj).__module__.startswith("monai.")


def _is_dictionary_transform(t: Any) -> bool:
    from monai.transforms import Compose, MapTransform

    if isinstance(t, MapTransform):
        return True
    if isinstance(t, Compose):
        return bool(t.transforms) and all(_is_dictionary_transform(s) for s in t.transforms)
    return False


def make_augment(spec: Any) -> Any:
    """Turn the Trainer's ``augment`` argument into a callable or None.

    ``None``/``False``: none; ``True``/``"default"``: :class:`BatchAugment` defaults; ``"flip"``: flips only;
    a dict: :class:`BatchAugment` options; a MONAI transform (``monai.transforms.RandFlip``, ``Compose``, or a
    dictionary transform): :class:`MonaiAugment`; a callable ``f(x, y, generator) -> (x, y)`` is used as is.
    """
    if spec is None or spec is False or spec == "none":
        return None
    if spec is True or spec == "default":
        return BatchAugment()
    if spec == "flip":
        return BatchAugment(rotate_deg=0.0, scale=0.0, intensity=0.0)
    if isinstance(spec, dict):
        return BatchAugment(**spec)
    if isinstance(spec, (BatchAugment, MonaiAugment)):
        return spec
    if _is_monai(spec) and callable(spec):
        return MonaiAugment(spec)
    if callable(spec):
        return spec
    raise ConfigError(f"augment={spec!r} is not valid: use None, True/'default', 'flip', a dict of "
                      "BatchAugment options, a MONAI transform or a callable f(x, y, generator) -> (x, y)")
