"""Optimizer and learning-rate scheduler factories: a name, an instance or a callable becomes the object."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch

from ..errors import ConfigError

__all__ = ["OPTIMIZERS", "SCHEDULERS", "build_optimizer", "build_scheduler", "steps_per_batch", "step_epoch_end"]

OPTIMIZERS = {"adamw": torch.optim.AdamW, "adam": torch.optim.Adam, "sgd": torch.optim.SGD}
SCHEDULERS = ("cosine", "onecycle", "step", "plateau")
#: schedulers that advance once per optimisation step (all others once per epoch)
_STEP_SCHEDULERS = ("OneCycleLR", "CyclicLR")


def build_optimizer(spec: Any, params: Iterable[torch.nn.Parameter], *, lr: float,
                    weight_decay: float) -> torch.optim.Optimizer:
    """Return the optimizer for ``spec``: an instance, a name (``adamw`` default, ``adam``, ``sgd``) or ``params -> opt``."""
    params = [p for p in params if p.requires_grad]
    if not params:
        raise ConfigError("the model has no trainable parameters (all frozen?): unfreeze some with "
                          "medimg_kernel.models.unfreeze(model)")
    if isinstance(spec, torch.optim.Optimizer):
        return spec
    if spec is None or isinstance(spec, str):
        name = (spec or "adamw").lower()
        if name not in OPTIMIZERS:
            raise ConfigError(f"unknown optimizer {spec!r}: choose one of {', '.join(OPTIMIZERS)} or pass an instance")
        kw: dict[str, Any] = {"lr": lr, "weight_decay": weight_decay}
        if name == "sgd":
            kw["momentum"] = 0.9
        return OPTIMIZERS[name](params, **kw)
    if callable(spec):
        return spec(params)
    raise ConfigError(f"optimizer={spec!r}: pass None, a name, an optimizer instance or a callable")


def build_scheduler(spec: Any, optimizer: torch.optim.Optimizer, *, lr: float, max_epochs: int, total_steps: int,
                    mode: str = "min") -> Any:
    """Return the scheduler for ``spec`` (None, a name in :data:`SCHEDULERS`, an instance or ``optimizer -> sched``)."""
    if spec is None:
        return None
    if isinstance(spec, str):
        name = spec.lower()
        sch = torch.optim.lr_scheduler
        if name == "cosine":
            return sch.CosineAnnealingLR(optimizer, T_max=max_epochs)
        if name == "onecycle":
            return sch.OneCycleLR(optimizer, max_lr=lr, total_steps=max(1, total_steps))
        if name == "step":
            return sch.StepLR(optimizer, step_size=max(1, max_epochs // 3))
        if name == "plateau":
            return sch.ReduceLROnPlateau(optimizer, mode=mode)
        raise ConfigError(f"unknown scheduler {spec!r}: choose {', '.join(SCHEDULERS)}, or pass an instance or a "
                          "callable optimizer -> scheduler")
    if hasattr(spec, "step") and hasattr(spec, "state_dict"):
        return spec
    if callable(spec):
        return spec(optimizer)
    raise ConfigError(f"scheduler={spec!r} is not a scheduler, a name or a callable: pass one of "
                      f"{', '.join(SCHEDULERS)}, an instance or a callable optimizer -> scheduler")


def steps_per_batch(scheduler: Any) -> bool:
    """True when ``scheduler`` advances after every optimisation step (OneCycle, Cyclic)."""
    return scheduler is not None and type(scheduler).__name__ in _STEP_SCHEDULERS


def step_epoch_end(scheduler: Any, monitored: float) -> None:
    """Advance an epoch-wise scheduler at an epoch's end (``ReduceLROnPlateau`` gets the monitored value)."""
    if scheduler is None or steps_per_batch(scheduler):
        return
    if type(scheduler).__name__ == "ReduceLROnPlateau":
        scheduler.step(monitored)
    else:
        scheduler.step()
