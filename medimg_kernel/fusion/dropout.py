"""Modality dropout: during training, hide whole modalities at random so a fused model learns to cope
when one is missing at inference (at least one modality is always kept per sample)."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["ModalityDropout"]


class ModalityDropout(nn.Module):
    """Drop each modality of each sample with probability ``p`` in training mode; identity in eval mode.

    ``forward(present)`` takes a (B, M) boolean availability mask and returns a new mask with some entries
    switched off, never leaving a sample with no modality.
    """

    def __init__(self, p: float = 0.25) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            from ..errors import ConfigError

            raise ConfigError(f"modality dropout p must be in [0, 1), got {p}")
        self.p = p

    def forward(self, present: torch.Tensor) -> torch.Tensor:
        """Return the availability mask after dropout."""
        if not self.training or self.p == 0.0:
            return present
        keep = torch.rand(present.shape, device=present.device) >= self.p
        out = present & keep
        # a sample that lost everything keeps one of its available modalities, chosen at random
        empty = ~out.any(dim=1) & present.any(dim=1)
        if empty.any():
            scores = torch.rand(present.shape, device=present.device).masked_fill(~present, -1.0)
            pick = scores.argmax(dim=1)
            rescue = torch.zeros_like(out)
            rescue[torch.arange(out.shape[0], device=out.device), pick] = True
            out = torch.where(empty[:, None], rescue, out)
        return out

    def extra_repr(self) -> str:
        return f"p={self.p}"
