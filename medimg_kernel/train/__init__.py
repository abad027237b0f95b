"""Training: the :class:`Trainer`, its data path, checkpoints, OOM back-off, DDP helpers and benchmark."""

from __future__ import annotations

from .augment import BatchAugment
from .checkpoint import CheckpointManager, load_checkpoint, save_checkpoint
from .oom import OOMBackoff
from .placement import infer, strict_device
from .trainer import TASKS, Trainer, seed_everything

__all__ = ["Trainer", "TASKS", "seed_everything", "BatchAugment", "CheckpointManager", "load_checkpoint",
           "save_checkpoint", "OOMBackoff", "infer", "strict_device"]
