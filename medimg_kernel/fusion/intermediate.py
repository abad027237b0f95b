"""Intermediate (feature/joint) fusion: per-modality encoders → concatenation or attention → head.

The loss back-propagates into every encoder, so the model can learn cross-modal interactions (Huang et
al. 2020). Missing modalities are only tolerated with ``allow_missing=True``, which is meaningful for a
model trained with modality dropout.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from ..errors import ConfigError, ShapeMismatchError
from ._errors import MissingModalityError
from .dropout import ModalityDropout

__all__ = ["ConcatFusion", "AttentionFusion", "FeatureFusion"]


def _pool(z: torch.Tensor) -> torch.Tensor:
    return z if z.dim() == 2 else z.flatten(2).mean(-1)


class ConcatFusion(nn.Module):
    """Concatenate embeddings (B, C_m, ...) along channels; absent modalities contribute zeros."""

    def forward(self, embeddings: list[torch.Tensor], present: torch.Tensor) -> torch.Tensor:
        """Fuse a list of M embeddings with the (B, M) availability mask."""
        parts = []
        for m, z in enumerate(embeddings):
            mask = present[:, m].to(z.dtype).view(-1, *([1] * (z.dim() - 1)))
            parts.append(z * mask)
        return torch.cat(parts, dim=1)


class AttentionFusion(nn.Module):
    """Attention-weighted sum of same-sized embeddings: a score per modality, softmax over available ones.

    The last weights (B, M) are kept in ``last_weights`` for inspection (which modality did the model rely
    on for this patient?).
    """

    def __init__(self, dim: int, hidden: int = 16) -> None:
        super().__init__()
        self.score = nn.Sequential(nn.Linear(dim, hidden), nn.Tanh(), nn.Linear(hidden, 1))
        self.last_weights: torch.Tensor | None = None

    def forward(self, embeddings: list[torch.Tensor], present: torch.Tensor) -> torch.Tensor:
        """Fuse a list of M embeddings with the (B, M) availability mask."""
        shapes = {tuple(z.shape[1:]) for z in embeddings}
        if len(shapes) > 1:
            raise ShapeMismatchError(
                f"attention fusion needs embeddings of one shape, got {sorted(shapes)}; "
                "give every encoder the same out_features or use fusion='concat'"
            )
        scores = torch.cat([self.score(_pool(z)) for z in embeddings], dim=1)  # (B, M)
        scores = scores.masked_fill(~present, float("-inf"))
        w = torch.softmax(scores, dim=1)
        w = torch.nan_to_num(w, nan=0.0)
        self.last_weights = w.detach()
        stacked = torch.stack(embeddings, dim=1)  # (B, M, C, ...)
        return (stacked * w.view(*w.shape, *([1] * (stacked.dim() - 2)))).sum(dim=1)


class FeatureFusion(nn.Module):
    """Per-modality encoders, a fusion operator and a head: ``model({"imaging": x, "clinical": c, ...})``.

    Parameters
    ----------
    encoders : mapping name -> nn.Module
        One encoder per input key; each maps its input to (B, C) or (B, C, *spatial) and should expose
        ``out_features`` (or give ``embed_dims``).
    head : nn.Module, optional
        Applied to the fused embedding. Default: a linear layer to ``out_features`` outputs.
    fusion : {"concat", "attention"}
        How embeddings are combined.
    out_features : int
        Outputs of the default head (1 for a Cox risk score or a regression, K for K-class logits).
    modality_dropout : float
        Probability of hiding each modality per sample during training.
    allow_missing : bool
        At inference, treat a missing (absent or ``None``) input as dropped instead of raising.
    """

    def __init__(
        self,
        encoders: Mapping[str, nn.Module],
        head: nn.Module | None = None,
        *,
        fusion: str = "concat",
        out_features: int = 1,
        modality_dropout: float = 0.0,
        allow_missing: bool = False,
        embed_dims: Mapping[str, int] | None = None,
    ) -> None:
        super().__init__()
        if not encoders:
            raise ConfigError("FeatureFusion needs at least one encoder")
        self.modalities = list(encoders)
        self.encoders = nn.ModuleDict(dict(encoders))
        dims = {}
        for name, enc in encoders.items():
            d = (embed_dims or {}).get(name, getattr(enc, "out_features", None))
            if d is None:
                raise ConfigError(
                    f"encoder {name!r} has no out_features attribute; pass embed_dims={{{name!r}: C}}"
                )
            dims[name] = int(d)
        self.embed_dims = dims
        if fusion == "concat":
            self.fuse: nn.Module = ConcatFusion()
            fused = sum(dims.values())
        elif fusion == "attention":
            if len(set(dims.values())) > 1:
                raise ConfigError(
                    f"attention fusion needs equal embedding sizes, got {dims}; use fusion='concat'"
                )
            self.fuse = AttentionFusion(next(iter(dims.values())))
            fused = next(iter(dims.values()))
        else:
            raise ConfigError(f"unknown fusion {fusion!r}: choose 'concat' or 'attention'")
        self.fusion = fusion
        self.fused_features = fused
        self.head = head if head is not None else nn.Linear(fused, out_features)
        self.dropout = ModalityDropout(modality_dropout)
        self.allow_missing = allow_missing

    def forward(self, x: Mapping[str, torch.Tensor | None]) -> torch.Tensor:
        """Encode each available modality, fuse and apply the head."""
        available = [m for m in self.modalities if x.get(m) is not None]
        missing = [m for m in self.modalities if m not in available]
        if not available:
            raise MissingModalityError(f"no modality given; the model expects {self.modalities}")
        if missing and not self.allow_missing:
            raise MissingModalityError(
                f"feature fusion got no {missing}; expected {self.modalities}. Train with modality_dropout "
                "and set allow_missing=True, or use LateFusion, to predict without a modality."
            )
        ref = x[available[0]]
        batch, device = ref.shape[0], ref.device
        embeddings = {m: self.encoders[m](x[m]) for m in available}
        template = embeddings[available[0]]
        zs, present = [], torch.zeros(batch, len(self.modalities), dtype=torch.bool, device=device)
        for i, m in enumerate(self.modalities):
            if m in embeddings:
                zs.append(embeddings[m])
                present[:, i] = True
            else:
                zs.append(template.new_zeros(batch, self.embed_dims[m], *template.shape[2:]))
        present = self.dropout(present)
        return self.head(self.fuse(zs, present))

    def extra_repr(self) -> str:
        return f"modalities={self.modalities}, fusion={self.fusion!r}, allow_missing={self.allow_missing}"
