"""The default loss of each task: cross-entropy or BCE for classification, DiceCE for segmentation, MSE."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

__all__ = ["build_loss", "model_out_channels"]


def model_out_channels(model: nn.Module, default: int = 2) -> int:
    """Return the output channels recorded by :func:`medimg_kernel.build_model` (``default`` when unknown)."""
    spec = getattr(model, "medimg_spec", None)
    return int(spec["out_channels"]) if spec else default


def build_loss(task: str, label_mode: str | None, *, class_weights: Any = None, out_channels: int = 2,
               device: torch.device | None = None) -> Callable[[Any, Any], torch.Tensor]:
    """Return ``loss(outputs, targets)`` for ``task`` and the label layout found by the data check.

    ``label_mode`` is ``"binary"`` (one logit), ``"index"`` (class indices) or ``"onehot"`` (segmentation).
    """
    weight = None if class_weights is None else torch.as_tensor(class_weights, dtype=torch.float32, device=device)
    if task == "classification":
        if label_mode == "binary":
            bce = nn.BCEWithLogitsLoss(pos_weight=weight)
            return lambda out, y: bce(out.reshape(-1), y.float().reshape(-1))
        ce = nn.CrossEntropyLoss(weight=weight)
        return lambda out, y: ce(out, y.long().reshape(-1))
    if task == "segmentation":
        from monai.losses import DiceCELoss

        multi = label_mode == "onehot" or out_channels > 1
        dce = DiceCELoss(to_onehot_y=label_mode == "index" and multi, softmax=multi, sigmoid=not multi,
                         include_background=True, weight=weight)
        return lambda out, y: dce(out, y.float())
    mse = nn.MSELoss()
    return lambda out, y: mse(out.reshape(-1), y.float().reshape(-1))
