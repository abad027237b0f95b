"""Model and input plumbing shared by the attribution methods.

Puts images into ``(B, C, *spatial)`` tensors, resolves targets, finds convolution layers for Grad-CAM,
and wraps a model so that every method explains one scalar score per sample (a class logit, or a
segmentation model's logits reduced over a region).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import ConfigError, ShapeMismatchError

__all__ = [
    "RegionScore",
    "conv_layers",
    "last_conv_layer",
    "model_spatial_dims",
    "to_batch",
    "resolve_targets",
    "check_differentiable",
    "trace_outputs",
]

_CONV = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose2d, nn.ConvTranspose3d)


def conv_layers(model: nn.Module) -> list[str]:
    """Return the names (as ``model.named_modules()`` spells them) of the model's convolution layers."""
    return [name for name, mod in model.named_modules() if isinstance(mod, _CONV) and name]


def model_spatial_dims(model: nn.Module) -> int | None:
    """Guess the number of spatial dimensions from the model's first convolution (``None`` if it has none)."""
    for mod in model.modules():
        if isinstance(mod, (nn.Conv3d, nn.ConvTranspose3d)):
            return 3
        if isinstance(mod, (nn.Conv2d, nn.ConvTranspose2d)):
            return 2
    return None


def last_conv_layer(model: nn.Module, example: torch.Tensor) -> str:
    """Return Grad-CAM's default layer: the output of the last convolution *executed* on ``example``, taken
    after the normalisation/activation layers that directly follow it (same shape), as in Selvaraju et al.

    Raises
    ------
    ConfigError
        If the model has no convolution layer (Grad-CAM needs spatial feature maps).
    """
    names = {mod: name for name, mod in model.named_modules() if isinstance(mod, _CONV) and name}
    if not names:
        usable = spatial_layers(model, example)
        raise ConfigError(
            "Grad-CAM needs a convolution layer with spatial feature maps, but "
            f"{type(model).__name__} has none. "
            + (
                f"Layers with spatial outputs you can pass as layer=...: {', '.join(usable[-8:])}. "
                if usable
                else "No layer of this model outputs a spatial map. "
            )
            + "Use method='gradient', 'smoothgrad', 'integrated_gradients' or 'occlusion' instead."
        )
    # record every leaf module's output shape in execution order; the CAM layer is the last leaf whose output
    # still has the last convolution's shape (its BatchNorm/ReLU output, i.e. the rectified feature maps)
    leaves = {m: n for n, m in model.named_modules() if n and not any(True for _ in m.children())}
    order = [(leaves[m], tuple(o.shape)) for m, o in trace_outputs(model, example, list(leaves))
             if isinstance(o, torch.Tensor)]
    conv_runs = [i for i, (n, _) in enumerate(order) if n in names.values()]
    if not conv_runs:
        return list(names.values())[-1]
    last = conv_runs[-1]
    shape = order[last][1]
    chosen = order[last][0]
    for n, shp in order[last + 1 :]:
        if shp != shape:
            break
        chosen = n
    return chosen


def spatial_layers(model: nn.Module, example: torch.Tensor) -> list[str]:
    """Return the names of modules whose output keeps spatial dimensions for ``example`` (candidate CAM layers)."""
    names = {mod: name for name, mod in model.named_modules() if name}
    found = [names[m] for m, o in trace_outputs(model, example, list(names))
             if isinstance(o, torch.Tensor) and o.ndim == example.ndim and all(s > 1 for s in o.shape[2:])]
    return list(dict.fromkeys(found))


def trace_outputs(model: nn.Module, example: torch.Tensor, modules: Sequence[nn.Module]) -> list[tuple[nn.Module, Any]]:
    """Run ``model`` once on the first sample of ``example`` (no grad) and return ``(module, output)`` for
    each of ``modules`` in execution order (a module called twice appears twice)."""
    seen: list[tuple[nn.Module, Any]] = []
    hooks = [m.register_forward_hook(lambda m, _i, o: seen.append((m, o))) for m in modules]
    try:
        with torch.no_grad():
            model(example[:1])
    finally:
        for h in hooks:
            h.remove()
    return seen


def to_batch(image: Any, spatial_dims: int | None) -> tuple[torch.Tensor, bool, int]:
    """Convert ``image`` (numpy or torch; ``spatial``, ``(C, *spatial)`` or ``(B, C, *spatial)``) to a float batch.

    Returns the batch tensor, whether the input had a batch axis, and the number of spatial dims.
    """
    x = torch.as_tensor(np.asarray(image) if not isinstance(image, torch.Tensor) else image)
    if not torch.is_floating_point(x):
        x = x.float()
    if spatial_dims is None:
        # without a conv layer to tell, (C,H,W) is the most common single image and (B,C,H,W) a 2D batch
        spatial_dims = 2 if x.ndim in (2, 3, 4) else 3
    nd = x.ndim - spatial_dims
    if nd == 0:
        return x[None, None], False, spatial_dims
    if nd == 1:
        return x[None], False, spatial_dims
    if nd == 2:
        return x, True, spatial_dims
    raise ShapeMismatchError(
        f"expected an image of shape (*spatial), (C, *spatial) or (B, C, *spatial) with {spatial_dims} "
        f"spatial dims, got shape {tuple(x.shape)}; pass spatial_dims=2 or 3 if the model is not convolutional"
    )


def check_differentiable(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Run ``model`` on ``x`` with gradients on and return the output; raise if it cannot be differentiated."""
    xg = x[:1].detach().clone().requires_grad_(True)
    with torch.enable_grad():
        try:
            out = model(xg)
        except RuntimeError as err:
            raise ShapeMismatchError(
                f"the model failed on an input of shape {tuple(xg.shape)}: {err}. Check channels and spatial "
                "size against the model's in_channels and spatial_dims."
            ) from err
    if not isinstance(out, torch.Tensor):
        raise ConfigError(
            f"the model must return a tensor of logits, got {type(out).__name__}; wrap it so forward() returns "
            "a (B, classes) or (B, classes, *spatial) tensor"
        )
    if not torch.is_floating_point(out) or not out.requires_grad:
        raise ConfigError(
            "the model's output is not differentiable with respect to the input (it is "
            f"{'integer-valued' if not torch.is_floating_point(out) else 'detached from the graph'}: e.g. argmax, "
            "thresholding, .detach() or torch.no_grad() inside forward). Gradient methods and Grad-CAM need "
            "logits; explain the logits instead, or use method='occlusion', which only needs forward passes."
        )
    return out.detach()


def resolve_targets(target: Any, out: torch.Tensor, batch: int) -> torch.Tensor:
    """Turn ``target`` (None = predicted class, int, or one per sample) into a LongTensor of length ``batch``."""
    n_classes = out.shape[1]
    if target is None:
        raise AssertionError("resolve None targets with predictions before calling resolve_targets")
    t = torch.as_tensor(target).long().reshape(-1)
    if t.numel() == 1:
        t = t.expand(batch).clone()
    if t.numel() != batch:
        raise ShapeMismatchError(
            f"got {t.numel()} targets for a batch of {batch} images; give one int or one per image"
        )
    bad = t[(t < 0) | (t >= n_classes)]
    if bad.numel():
        raise ConfigError(
            f"target {int(bad[0])} is out of range: the model outputs {n_classes} "
            f"class{'es' if n_classes != 1 else ''}, so valid targets are 0..{n_classes - 1}"
        )
    return t


class RegionScore(nn.Module):
    """Wrap a model so it returns one score per sample, shape ``(B, 1)``.

    For a classifier the score is the logit of ``target``; for a segmentation model (output
    ``(B, C, *spatial)``) it is the ``target`` channel's logits reduced (``"sum"`` or ``"mean"``) over
    ``mask``, so the explanation answers "what made the model call *this region* class ``target``".
    ``target`` and ``mask`` may be per-sample (length ``B``) or broadcast.
    """

    def __init__(
        self,
        model: nn.Module,
        target: torch.Tensor | int,
        mask: torch.Tensor | None = None,
        reduction: str = "mean",
    ) -> None:
        super().__init__()
        if reduction not in ("sum", "mean"):
            raise ConfigError(f"reduction must be 'sum' or 'mean', got {reduction!r}")
        self.model = model
        self.register_buffer("target", torch.as_tensor(target).long().reshape(-1), persistent=False)
        self.register_buffer("mask", None if mask is None else mask.float(), persistent=False)
        self.reduction = reduction

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.model(x)
        t = self.target.to(out.device)
        idx = t if t.numel() == out.shape[0] else t.expand(out.shape[0])
        sel = out[torch.arange(out.shape[0], device=out.device), idx]  # (B,) or (B, *spatial)
        if sel.ndim == 1:
            return sel[:, None]
        mask = self.mask if self.mask is not None else torch.ones_like(sel[:1])
        mask = mask.to(sel.device).reshape(-1, *sel.shape[1:])
        total = (sel * mask).flatten(1).sum(1)
        if self.reduction == "mean":
            total = total / mask.flatten(1).sum(1).clamp_min(1.0)
        return total[:, None]


def region_masks(mask: Any, batch: int, spatial: Sequence[int]) -> torch.Tensor:
    """Broadcast a region mask (``spatial``, ``(1|B, *spatial)`` or ``(1|B, 1, *spatial)``) to ``(B, *spatial)``."""
    m = torch.as_tensor(np.asarray(mask) if not isinstance(mask, torch.Tensor) else mask).float()
    sd = len(spatial)
    if tuple(m.shape[-sd:]) != tuple(spatial):
        raise ShapeMismatchError(
            f"region mask spatial shape {tuple(m.shape[-sd:])} differs from the image's {tuple(spatial)}"
        )
    m = m.reshape(-1, *spatial)
    if m.shape[0] == 1:
        m = m.expand(batch, *spatial)
    if m.shape[0] != batch:
        raise ShapeMismatchError(
            f"got {m.shape[0]} region masks for {batch} images; give one or one per image"
        )
    return m
