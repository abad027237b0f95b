"""The data/model contract, checked before training: input shape and channels, outputs, label range.

:func:`check_batch` runs the model once on two samples and fails with a message that says what to change
(the data or the model) instead of letting the first training step fail deep inside torch.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ..errors import ShapeMismatchError, TrainingError

__all__ = ["first_conv", "shape_of", "fit_resident_layout", "check_batch", "check_labels", "Contract"]


def first_conv(model: nn.Module) -> nn.Module | None:
    """Return the model's first convolution module, or None for models without one."""
    for m in model.modules():
        if isinstance(m, nn.modules.conv._ConvNd):
            return m
    return None


def shape_of(x: Any) -> Any:
    """Shape of a tensor, dict of shapes for a dict of tensors, else the type's name (for messages)."""
    if isinstance(x, torch.Tensor):
        return tuple(x.shape)
    if isinstance(x, dict):
        return {k: shape_of(v) for k, v in x.items()}
    return type(x).__name__


def fit_resident_layout(src: Any, model: nn.Module, task: str) -> None:
    """Give device-resident data the layout the model takes: a channel axis, float images, (N, 1, ...) masks."""
    if not (getattr(src, "resident", False) and isinstance(src.x, torch.Tensor)):
        return
    conv = first_conv(model)
    if conv is not None and src.x.ndim == len(conv.kernel_size) + 1 and conv.in_channels == 1:
        src.x = src.x.unsqueeze(1)  # (N, H, W) -> (N, 1, H, W)
    if src.x.dtype in (torch.uint8, torch.int16, torch.int32, torch.int64, torch.float16, torch.bfloat16):
        src.x = src.x.float()
    if task == "segmentation" and isinstance(src.y, torch.Tensor) and src.y.ndim == src.x.ndim - 1:
        src.y = src.y.unsqueeze(1)


@dataclass(frozen=True)
class Contract:
    """What the check learned: label layout (``binary``/``index``/``onehot`` or None) and the patch size."""

    label_mode: str | None
    patch_size: tuple[int, ...] | None


def _explain_forward_failure(model: nn.Module, x: Any, err: Exception) -> ShapeMismatchError:
    # explain with the first convolution's expectations when they disagree with the data (usually the input
    # layer); otherwise pass on the model's own first line
    name = type(model).__name__
    conv = first_conv(model)
    if isinstance(x, torch.Tensor) and conv is not None:
        dims, cin = len(conv.kernel_size), conv.in_channels
        if x.ndim != dims + 2 or x.shape[1] != cin:
            want = f"(N, {cin}, " + ", ".join(["H", "W", "D"][:dims]) + ")"
            return ShapeMismatchError(
                f"data batch shape {tuple(x.shape)} does not fit {name}: the model expects {dims}D "
                f"inputs with {cin} channel(s), i.e. {want}; data has "
                f"{x.ndim - 2 if x.ndim >= 3 else '?'} spatial dims and "
                f"{x.shape[1] if x.ndim > 1 else '?'} channel(s). Fix the data (add a channel axis with "
                "x[:, None], or select channels) or build the model with matching "
                "spatial_dims/in_channels (or adapt_input_channels)")
    return ShapeMismatchError(f"{name} cannot run on data of shape {shape_of(x)}: {str(err).splitlines()[0]}")


def check_batch(model: nn.Module, x: Any, y: Any, *, task: str, num_classes: int | None,
                autocast: Callable[[], contextlib.AbstractContextManager],
                labels: Callable[[], Any]) -> Contract:
    """Run ``model`` on the probe batch ``x`` and check outputs against ``y``; ``labels()`` gives all labels.

    Raises :class:`ShapeMismatchError` or :class:`TrainingError` with what to change.
    """
    name = type(model).__name__
    was = model.training
    model.eval()
    try:  # no cuDNN autotuning for this 2-sample probe (its shapes are never used again)
        with torch.no_grad(), autocast(), torch.backends.cudnn.flags(
                enabled=torch.backends.cudnn.enabled, benchmark=False,
                deterministic=torch.backends.cudnn.deterministic):
            out = model(x)
    except (RuntimeError, ValueError, TypeError) as err:
        raise _explain_forward_failure(model, x, err) from err
    finally:
        model.train(was)
    patch = tuple(x.shape[2:]) if isinstance(x, torch.Tensor) and x.ndim >= 3 else None
    if y is None or task == "custom" or not isinstance(out, torch.Tensor):
        return Contract(None, patch)
    mode = None
    if task == "classification":
        c = out.shape[1] if out.ndim == 2 else 1
        ncls = num_classes or (2 if c == 1 else c)
        if c not in (1, ncls):
            raise ShapeMismatchError(f"{name} outputs {c} values per sample but num_classes={ncls}: build the "
                                     f"model with out_channels={ncls} or use replace_head(model, {ncls})")
        check_labels(labels(), ncls)
        mode = "binary" if c == 1 else "index"
    elif task == "segmentation":
        c = out.shape[1]
        if tuple(out.shape[2:]) != tuple(y.shape[2:]) or y.ndim != out.ndim:
            raise ShapeMismatchError(f"segmentation output shape {tuple(out.shape)} and label shape "
                                     f"{tuple(y.shape)} differ: labels must be (N, 1, *spatial) indices or "
                                     f"(N, {c}, *spatial) one-hot with the image's spatial size")
        mode = "onehot" if (y.shape[1] == c and c > 1) else "index"
        if mode == "index":
            check_labels(labels(), max(2, c))
    elif task == "regression" and out.numel() != (y.numel() if isinstance(y, torch.Tensor) else 0):
        raise ShapeMismatchError(f"regression output shape {tuple(out.shape)} and target shape "
                                 f"{shape_of(y)} hold different numbers of values")
    return Contract(mode, patch)


def check_labels(y: Any, ncls: int) -> None:
    """Raise :class:`TrainingError` unless ``y`` holds integer class labels in ``0..ncls-1``."""
    if not isinstance(y, torch.Tensor):
        return
    yf = y.float()
    lo, hi = float(yf.min()), float(yf.max())
    integral = torch.equal(yf, yf.round())
    if not integral or lo < 0 or hi > ncls - 1 or math.isnan(lo + hi):
        raise TrainingError(
            f"labels out of range: the model has {ncls} classes so labels must be integers 0..{ncls - 1}, "
            f"found values from {lo:g} to {hi:g}{' (not all integers)' if not integral else ''}. "
            f"Remap the labels, or build the model with out_channels={int(hi) + 1 if hi >= 0 else ncls}")
