"""Per-modality encoders for feature fusion: an MLP for tables and a small CNN for images.

Each encoder exposes ``out_features`` so :class:`FeatureFusion` can size its head. The image encoder
uses MONAI's ``Convolution`` blocks; with ``pooled=False`` it keeps the spatial map (for segmentation).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

__all__ = ["TabularEncoder", "ImageEncoder"]


class TabularEncoder(nn.Module):
    """MLP for clinical/genomic features: (B, in_features) → (B, out_features).

    Parameters
    ----------
    in_features : int
        Number of input columns.
    out_features : int
        Embedding size.
    hidden : sequence of int
        Hidden layer widths (empty for a linear encoder).
    dropout : float
        Dropout after each hidden layer.
    """

    def __init__(
        self, in_features: int, out_features: int = 16, hidden: Sequence[int] = (32,), dropout: float = 0.1
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = in_features
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU(), nn.Dropout(dropout)]
            width = h
        layers.append(nn.Linear(width, out_features))
        self.net = nn.Sequential(*layers)
        self.in_features, self.out_features = in_features, out_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Encode a batch of table rows."""
        if x.dim() != 2 or x.shape[1] != self.in_features:
            from ..errors import ShapeMismatchError

            raise ShapeMismatchError(
                f"TabularEncoder expects (batch, {self.in_features}) features, got {tuple(x.shape)}"
            )
        return self.net(x)


class ImageEncoder(nn.Module):
    """Small CNN: (B, in_channels, *spatial) → (B, out_features) (global avg+max pooling) or a feature map.

    Parameters
    ----------
    in_channels : int
        Input channels (1 per modality for feature fusion; all sequences for early fusion).
    out_features : int
        Embedding size (pooled) or output channels (``pooled=False``).
    channels : sequence of int
        Widths of the conv blocks; each block after the first halves the resolution (``pooled=True``).
    spatial_dims : int
        2 or 3.
    pooled : bool
        True: global pooling and a linear layer give a vector. False: stride 1, a feature map of the input
        size with ``out_features`` channels (a "stem" for segmentation feature fusion).
    """

    def __init__(
        self,
        in_channels: int = 1,
        out_features: int = 16,
        channels: Sequence[int] = (8, 16, 32),
        spatial_dims: int = 3,
        pooled: bool = True,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        from monai.networks.blocks import Convolution

        blocks: list[nn.Module] = []
        width = in_channels
        for i, c in enumerate(channels):
            stride = 2 if (pooled and i > 0) else 1
            blocks.append(
                Convolution(
                    spatial_dims,
                    width,
                    c,
                    strides=stride,
                    kernel_size=3,
                    act="PRELU",
                    norm="INSTANCE",
                    dropout=dropout,
                )
            )
            width = c
        self.features = nn.Sequential(*blocks)
        self.pooled = pooled
        self.spatial_dims = spatial_dims
        if pooled:
            self.proj = nn.Linear(2 * width, out_features)
        else:
            self.proj = Convolution(spatial_dims, width, out_features, kernel_size=1, conv_only=True)
        self.in_channels, self.out_features = in_channels, out_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Encode a batch of images."""
        if x.dim() != self.spatial_dims + 2 or x.shape[1] != self.in_channels:
            from ..errors import ShapeMismatchError

            raise ShapeMismatchError(
                f"ImageEncoder expects (batch, {self.in_channels}, {self.spatial_dims} spatial dims), got "
                f"{tuple(x.shape)}; add a channel axis with x[:, None] if needed"
            )
        f = self.features(x)
        if not self.pooled:
            return self.proj(f)
        flat = f.flatten(2)
        return self.proj(torch.cat([flat.mean(-1), flat.amax(-1)], dim=1))
