"""Small, fast networks for smoke tiers and tests: they train in seconds on a 2-core CPU."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["SimpleCNN"]


def _conv(dims: int) -> type[nn.Module]:
    return {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}[dims]


def _norm(kind: str | None, dims: int, channels: int) -> nn.Module:
    if kind is None or kind == "none":
        return nn.Identity()
    if kind == "batch":
        return {1: nn.BatchNorm1d, 2: nn.BatchNorm2d, 3: nn.BatchNorm3d}[dims](channels)
    if kind == "group":
        return nn.GroupNorm(min(4, channels), channels)
    from ..errors import ConfigError

    raise ConfigError(f"norm {kind!r} is not supported: choose 'batch', 'group' or None")


class SimpleCNN(nn.Module):
    """A few conv-norm-ReLU-pool stages and a linear head (``features`` + ``head``), 1D/2D/3D.

    Parameters
    ----------
    spatial_dims, in_channels, out_channels
        Dimensionality, input channels and number of outputs (classes).
    channels
        Width of each stage; each stage halves the spatial size.
    norm
        ``"batch"`` (default), ``"group"`` or ``None``.
    dropout
        Dropout probability before the head.
    """

    def __init__(
        self,
        spatial_dims: int = 2,
        in_channels: int = 1,
        out_channels: int = 2,
        channels: tuple[int, ...] = (8, 16, 32),
        norm: str | None = "batch",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        conv = _conv(spatial_dims)
        pool = {1: nn.MaxPool1d, 2: nn.MaxPool2d, 3: nn.MaxPool3d}[spatial_dims]
        layers: list[nn.Module] = []
        prev = in_channels
        for i, ch in enumerate(channels):
            block = nn.Sequential(conv(prev, ch, 3, padding=1), _norm(norm, spatial_dims, ch), nn.ReLU(inplace=True))
            if i < len(channels) - 1:
                block.append(pool(2))
            layers.append(block)
            prev = ch
        self.features = nn.Sequential(*layers)
        self.pool = {1: nn.AdaptiveAvgPool1d, 2: nn.AdaptiveAvgPool2d, 3: nn.AdaptiveAvgPool3d}[spatial_dims](1)
        self.dropout = nn.Dropout(dropout) if dropout else nn.Identity()
        self.head = nn.Linear(prev, out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return class logits of shape ``(N, out_channels)``."""
        return self.head(self.dropout(torch.flatten(self.pool(self.features(x)), 1)))
