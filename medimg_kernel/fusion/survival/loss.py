"""Cox proportional-hazards negative log partial likelihood in torch, with Breslow's handling of ties.

For risk scores η (log hazard ratios), the loss is
``-1/d · Σ_{i: event} [η_i − log Σ_{j: t_j ≥ t_i} exp(η_j)]`` where ``d`` is the number of events;
under Breslow's approximation all subjects tied at ``t_i`` share the same risk set.
"""

from __future__ import annotations

import logging

import numpy as np
import torch
from numpy.typing import ArrayLike
from torch import nn

from ...errors import ConfigError, ShapeMismatchError

__all__ = ["cox_ph_loss", "CoxPHLoss", "survival_targets"]

log = logging.getLogger(__name__)


def survival_targets(time: ArrayLike, event: ArrayLike) -> torch.Tensor:
    """Stack follow-up ``time`` and ``event`` indicators into the (N, 2) float32 target tensor."""
    t = torch.as_tensor(np.asarray(time, dtype=np.float32))
    e = torch.as_tensor(np.asarray(event, dtype=np.float32))
    if t.shape != e.shape or t.dim() != 1:
        raise ShapeMismatchError(
            f"time and event must be 1D of one length, got {tuple(t.shape)} and {tuple(e.shape)}"
        )
    return torch.stack([t, e], dim=1)


def cox_ph_loss(
    risk: torch.Tensor,
    time: torch.Tensor,
    event: torch.Tensor,
    *,
    ties: str = "breslow",
    reduction: str = "mean",
) -> torch.Tensor:
    """Negative Cox partial log-likelihood of ``risk`` scores (N,) or (N, 1) given ``time`` and ``event``.

    Parameters
    ----------
    risk : Tensor
        Predicted log hazard ratios; higher = earlier event.
    time, event : Tensor (N,)
        Follow-up times and event indicators (1 event, 0 censored).
    ties : {"breslow"}
        Tie handling (Breslow's approximation, as in scikit-survival's ``ties="breslow"``).
    reduction : {"mean", "sum"}
        Mean over events (default) or the sum.

    Returns
    -------
    Scalar tensor. A batch without events carries no information: the loss is 0 (still attached to the
    graph, so ``backward`` works) and a debug message is logged.
    """
    if ties != "breslow":
        raise ConfigError(f"ties={ties!r} is not supported: use 'breslow'")
    if reduction not in ("mean", "sum"):
        raise ConfigError(f"reduction must be 'mean' or 'sum', got {reduction!r}")
    eta = risk.reshape(-1)
    time = torch.as_tensor(time, device=eta.device).reshape(-1).to(eta.dtype)
    event = torch.as_tensor(event, device=eta.device).reshape(-1).to(eta.dtype)
    if not (eta.shape == time.shape == event.shape):
        raise ShapeMismatchError(
            f"risk, time and event must have one length; got {tuple(risk.shape)}, {tuple(time.shape)}, "
            f"{tuple(event.shape)}. Risk models need one output (out_features=1)."
        )
    n_events = event.sum()
    if n_events <= 0:
        log.debug("Cox loss on a batch without events: returning 0")
        return eta.sum() * 0.0
    order = torch.argsort(time, descending=True)
    eta_s, time_s, event_s = eta[order], time[order], event[order]
    # log Σ_{j ranked at or before i} exp(η_j): the risk set of i when times are distinct
    log_cum = torch.logcumsumexp(eta_s, dim=0)
    # Breslow: subjects tied at t share the risk set {t_j ≥ t}; its last member in descending order is at
    # index (#{t_j ≥ t} − 1)
    ascending = torch.flip(time_s, dims=[0]).contiguous()
    n_ge = time_s.numel() - torch.searchsorted(ascending, time_s.contiguous(), right=False)
    log_risk_set = log_cum[n_ge - 1]
    total = -((eta_s - log_risk_set) * event_s).sum()
    return total / n_events if reduction == "mean" else total


class CoxPHLoss(nn.Module):
    """``loss(outputs, targets)`` for the Trainer's custom task: targets are (N, 2) ``[time, event]``."""

    def __init__(self, ties: str = "breslow", reduction: str = "mean") -> None:
        super().__init__()
        self.ties, self.reduction = ties, reduction

    def forward(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Cox loss of risk ``outputs`` against ``targets[:, 0]`` (time) and ``targets[:, 1]`` (event)."""
        if targets.dim() != 2 or targets.shape[1] != 2:
            raise ShapeMismatchError(
                f"survival targets must be (N, 2) [time, event], got {tuple(targets.shape)}; "
                "build them with medimg_kernel.fusion.survival_targets(time, event)"
            )
        return cox_ph_loss(outputs, targets[:, 0], targets[:, 1], ties=self.ties, reduction=self.reduction)
