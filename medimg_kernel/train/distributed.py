"""Multi-process training under ``torchrun``: process group set-up, rank helpers and DDP wrapping.

``torchrun --nproc_per_node=N`` sets ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK``; the Trainer calls
:func:`init_distributed` and, when the world has more than one process, wraps the model in
DistributedDataParallel (NCCL on GPUs, gloo on CPUs), shards the data with ``DistributedSampler`` and
logs and checkpoints on rank 0 only.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import torch

__all__ = ["DistInfo", "dist_info", "init_distributed", "is_main_process", "barrier", "all_reduce_mean",
           "wrap_ddp", "unwrap", "cleanup"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DistInfo:
    """Rank, world size and local rank of this process (``world_size == 1`` when not distributed)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def local_world_size(self) -> int:
        """Processes on this host (torchrun's ``LOCAL_WORLD_SIZE``; the world size when unset)."""
        if not self.enabled:
            return 1
        return int(os.environ.get("LOCAL_WORLD_SIZE", self.world_size))

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def dist_info() -> DistInfo:
    """Return this process's rank information from the initialised process group or torchrun's env."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return DistInfo(torch.distributed.get_rank(), torch.distributed.get_world_size(),
                        int(os.environ.get("LOCAL_RANK", 0)))
    return DistInfo(int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)),
                    int(os.environ.get("LOCAL_RANK", 0)))


def init_distributed(device_type: str | None = None) -> DistInfo:
    """Initialise the default process group when launched by torchrun with ``WORLD_SIZE > 1``.

    The backend is NCCL when CUDA is used, gloo otherwise. Safe to call more than once.
    """
    info = dist_info()
    if not info.enabled or torch.distributed.is_initialized():
        return info
    if device_type is None:
        device_type = "cuda" if torch.cuda.is_available() else "cpu"
    backend = "nccl" if device_type == "cuda" else "gloo"
    if device_type == "cuda":
        torch.cuda.set_device(info.local_rank)
    torch.distributed.init_process_group(backend=backend)
    log.info("process group ready: rank %d/%d backend=%s", info.rank, info.world_size, backend)
    return dist_info()


def is_main_process() -> bool:
    """True on rank 0 (and in a single-process run)."""
    return dist_info().is_main


def barrier() -> None:
    """Wait for all processes (no-op when not distributed)."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.barrier()


def all_reduce_mean(value: torch.Tensor) -> torch.Tensor:
    """Average a tensor over all processes (returns it unchanged when not distributed)."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        value = value.clone()
        torch.distributed.all_reduce(value)
        value /= torch.distributed.get_world_size()
    return value


def wrap_ddp(model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """Wrap ``model`` in DistributedDataParallel for ``device`` when the process group is initialised."""
    if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
        return model
    from torch.nn.parallel import DistributedDataParallel

    ids = [device.index if device.index is not None else 0] if device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=ids)


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """Return the plain module under DDP and/or ``torch.compile`` wrappers."""
    while True:
        if hasattr(model, "module") and isinstance(model.module, torch.nn.Module):
            model = model.module
        elif hasattr(model, "_orig_mod"):
            model = model._orig_mod
        else:
            return model


def cleanup() -> None:
    """Destroy the process group if one was initialised."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()
