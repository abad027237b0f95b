"""``explain(model, image, method=..., target=...)``: one call for every attribution method.

Returns a numpy map with the input's spatial shape (and its batch axis, if it had one), ready for
``mk.view(image, overlay=heatmap)`` and matplotlib. Batches are processed in chunks sized from a memory
budget, and halved again if the device still runs out of memory.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import ConfigError, MedimgKernelError
from ._model import (
    _CONV,
    RegionScore,
    check_differentiable,
    conv_layers,
    last_conv_layer,
    model_spatial_dims,
    region_masks,
    resolve_targets,
    spatial_layers,
    to_batch,
    trace_outputs,
)
from .methods import get_method

__all__ = ["explain", "estimate_chunk_size", "last_run"]

log = logging.getLogger(__name__)

_LAST: dict[str, Any] = {}


def last_run() -> dict[str, Any]:
    """How the last :func:`explain` call ran: method, number of images, chunks and chunk size."""
    return dict(_LAST)


def _is_oom(err: BaseException) -> bool:
    if isinstance(err, torch.OutOfMemoryError):
        return True
    return isinstance(err, RuntimeError) and "out of memory" in str(err).lower()


def _default_budget_bytes(device: torch.device) -> int:
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return int(free * 0.5)
    try:
        avail = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        return int(min(max(avail * 0.25, 256 * 2**20), 4 * 2**30))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        return 1 * 2**30


def estimate_chunk_size(
    model: nn.Module, example: torch.Tensor, expansion: int = 1, memory_budget_mb: float | None = None
) -> int:
    """How many samples fit one forward+backward pass within the memory budget.

    The cost of one sample is measured: the bytes of every module's output on one example (activations
    kept for backward), doubled for gradients, times ``expansion`` (passes per sample, e.g. IG steps).
    """
    sizes = [o.numel() * o.element_size() for _m, o in trace_outputs(model, example, list(model.modules()))
             if isinstance(o, torch.Tensor)]
    per_sample = 2 * (sum(sizes) + example[:1].numel() * example.element_size()) * max(1, expansion)
    budget = (
        (memory_budget_mb * 2**20) if memory_budget_mb is not None else _default_budget_bytes(example.device)
    )
    return max(1, int(budget // max(per_sample, 1)))


def _reduce(attr: torch.Tensor, how: str, signed: bool) -> torch.Tensor:
    if how == "absmax":
        return attr.sum(1) if signed else attr.abs().amax(1)
    if how == "sum":
        s = attr.sum(1)
        return s if signed else s.abs()
    s = attr[:, 0]
    return s if signed else s.clamp_min(0)


def _normalise(m: torch.Tensor) -> torch.Tensor:
    scale = m.abs().flatten(1).amax(1).clamp_min(1e-12)
    return m / scale.reshape(-1, *([1] * (m.ndim - 1)))


def explain(
    model: nn.Module,
    image: Any,
    method: str = "gradcam",
    target: int | Any | None = None,
    *,
    mask: Any | None = None,
    layer: str | None = None,
    spatial_dims: int | None = None,
    signed: bool = False,
    normalize: bool = True,
    batch_size: int | None = None,
    memory_budget_mb: float | None = None,
    reduction: str = "mean",
    **options: Any,
) -> np.ndarray:
    """Explain ``model``'s score for ``target`` on ``image`` with ``method``; return a map of the image's shape.

    Parameters
    ----------
    model
        A torch classifier (output ``(B, classes)``) or segmentation model (output ``(B, classes, *spatial)``).
    image
        numpy or torch, ``(*spatial)``, ``(C, *spatial)`` or ``(B, C, *spatial)``; 2D or 3D.
    method
        ``"gradient"``, ``"smoothgrad"``, ``"integrated_gradients"``, ``"gradcam"``, ``"gradcampp"`` or
        ``"occlusion"`` (aliases such as ``"saliency"``, ``"ig"``, ``"gradcam++"`` work too).
    target
        Class to explain: ``None`` = the predicted class, an int, or one per image.
    mask
        Segmentation models only: the region whose ``target`` logits are explained (default: the region the
        model predicts as ``target``). One mask or one per image.
    layer
        Grad-CAM layer name (default: the last convolution executed); see ``conv_layers(model)``.
    signed
        Keep the sign (positive = evidence for ``target``); default returns non-negative importance.
    normalize
        Scale each map to ``[0, 1]`` (``[-1, 1]`` when signed).
    batch_size, memory_budget_mb
        Chunk size, or the memory budget it is derived from (default: a quarter of free RAM, half of free GPU
        memory). Chunks halve automatically on out-of-memory errors.
    options
        Method options: SmoothGrad ``n_samples=25, noise=0.15``; IG ``n_steps=32, baseline=0.0``; occlusion
        ``mask_size, n_batch=16, overlap=0.5, mode="gaussian", b_box=[min0, max0, min1, max1, ...]`` (restrict
        to a box — the way to bound 3D cost).

    Returns
    -------
    numpy.ndarray
        float32 map of shape ``(*spatial)`` for a single image or ``(B, *spatial)`` for a batch.
    """
    m = get_method(method)
    sd = spatial_dims or model_spatial_dims(model)
    x, batched, sd = to_batch(image, sd)
    try:
        dev = next(model.parameters()).device
    except StopIteration:
        dev = torch.device("cpu")
    x = x.to(dev)
    was_training = model.training
    model.eval()
    try:
        if m.needs_grad:
            out = check_differentiable(model, x)
        else:
            with torch.no_grad():
                out = model(x[:1])
        if not isinstance(out, torch.Tensor) or out.ndim < 2:
            raise ConfigError(
                f"the model must return (B, classes) or (B, classes, *spatial) logits, got "
                f"{getattr(out, 'shape', type(out).__name__)}"
            )
        segmentation = out.ndim > 2
        if segmentation and tuple(out.shape[2:]) != tuple(x.shape[2:]):
            raise ConfigError(
                f"segmentation output spatial shape {tuple(out.shape[2:])} differs from the input's "
                f"{tuple(x.shape[2:])}; explain() needs voxel-aligned logits"
            )
        if target is None:
            target = _predicted_targets(model, x, segmentation)
        targets = resolve_targets(target, out, x.shape[0]).to(dev)

        region = None
        if segmentation:
            if mask is None:
                with torch.no_grad():
                    logits = torch.cat([model(x[i : i + 16]) for i in range(0, x.shape[0], 16)])
                if logits.shape[1] == 1:
                    region = (logits[:, 0] > 0).float()
                else:
                    region = (logits.argmax(1) == targets.reshape(-1, *([1] * sd))).float()
                empty = region.flatten(1).sum(1) == 0
                region[empty] = 1.0  # nothing predicted: explain the whole image
            else:
                region = region_masks(mask, x.shape[0], x.shape[2:]).to(dev)
        elif mask is not None:
            log.info("mask= is only used for segmentation models; ignored for a classifier")

        if m.name in ("gradcam", "gradcampp"):
            if layer is None:
                layer = last_conv_layer(model, x)
            else:
                names = dict(model.named_modules())
                if layer not in names:
                    usable = conv_layers(model) or spatial_layers(model, x)
                    raise ConfigError(
                        f"layer {layer!r} is not in {type(model).__name__}; usable layers: "
                        f"{', '.join(usable[-10:]) if usable else '(none: use a gradient method or occlusion)'}"
                    )
                if not isinstance(names[layer], _CONV) and layer not in spatial_layers(model, x):
                    raise ConfigError(
                        f"layer {layer!r} ({type(names[layer]).__name__}) has no spatial output for Grad-CAM; "
                        f"usable layers: {', '.join(conv_layers(model)[-10:] or spatial_layers(model, x)[-10:])}"
                    )
            options["layer"] = layer

        expansion = m.expansion(options)
        if batch_size is None:
            inner = estimate_chunk_size(model, x, 1, memory_budget_mb)
            chunk = max(1, inner // max(1, expansion)) if m.captum else inner
            if m.captum and expansion > 1:
                options.setdefault("inner_batch", max(1, min(expansion, inner)))
        else:
            chunk = int(batch_size)
            if chunk < 1:
                raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
        maps: list[torch.Tensor] = []
        i = 0
        n_chunks = 0
        while i < x.shape[0]:
            sl = slice(i, i + chunk)
            try:
                attr = _run(
                    m, model, x[sl], targets[sl], None if region is None else region[sl], reduction, options
                )
            except MedimgKernelError:
                raise
            except Exception as err:  # noqa: BLE001 - only OOM is retried
                if not _is_oom(err):
                    raise
                if chunk == 1:
                    raise MedimgKernelError(
                        f"{m.name} ran out of memory on a single image of shape {tuple(x.shape[1:])}; lower "
                        "n_steps/n_samples, use occlusion with b_box=..., or a smaller image"
                    ) from err
                if dev.type == "cuda":
                    torch.cuda.empty_cache()
                chunk = max(1, chunk // 2)
                log.warning("out of memory: retrying %s with chunks of %d images", m.name, chunk)
                continue
            maps.append(_reduce(attr.detach().float(), m.channel_reduce, signed))
            i += chunk
            n_chunks += 1
        log.debug("%s: %d images in %d chunks of up to %d", m.name, x.shape[0], n_chunks, chunk)
        result = torch.cat(maps)
        flat = result.flatten(1).abs().amax(1)
        if bool((flat == 0).any()):
            log.warning(
                "%s: %d of %d maps are zero everywhere (no %s evidence for the target%s)",
                m.name,
                int((flat == 0).sum()),
                len(flat),
                "signed" if signed else "positive",
                f" at layer {layer!r}; try an earlier layer" if m.name.startswith("gradcam") else "",
            )
        if tuple(result.shape[1:]) != tuple(x.shape[2:]):  # CAM upsampling guarantees this; be explicit
            raise AssertionError(f"map shape {tuple(result.shape)} not aligned with input {tuple(x.shape)}")
        if normalize:
            result = _normalise(result)
    finally:
        model.train(was_training)
    arr = result.cpu().numpy().astype(np.float32)
    _LAST.update(method=m.name, images=int(x.shape[0]), chunks=n_chunks, chunk_size=chunk)
    return arr if batched else arr[0]


def _predicted_targets(model: nn.Module, x: torch.Tensor, segmentation: bool) -> torch.Tensor:
    """Predicted class per image; for segmentation, the most frequent predicted foreground class."""
    preds = []
    with torch.no_grad():
        for i in range(0, x.shape[0], 16):
            o = model(x[i : i + 16])
            if not segmentation:
                preds.append(o.argmax(1))
            elif o.shape[1] == 1:
                preds.append(torch.zeros(o.shape[0], dtype=torch.long, device=o.device))
            else:
                counts = torch.stack([(o.argmax(1) == c).flatten(1).sum(1) for c in range(1, o.shape[1])], 1)
                preds.append(counts.argmax(1) + 1)
    return torch.cat(preds)


def _run(
    m: Any,
    model: nn.Module,
    x: torch.Tensor,
    t: torch.Tensor,
    region: torch.Tensor | None,
    reduction: str,
    options: dict[str, Any],
) -> torch.Tensor:
    if m.captum:
        return m.fn(model, x, t, region, **options)
    score = RegionScore(model, t, None if region is None else region, reduction)
    return m.fn(score, x, **options)
