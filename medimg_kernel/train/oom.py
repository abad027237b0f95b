"""CUDA out-of-memory back-off: halve the micro-batch, keep the effective batch by accumulating gradients.

The Trainer splits every batch into micro-batches of :attr:`OOMBackoff.micro_batch` samples and
accumulates their gradients (each weighted by its share of the batch), so the optimisation step is the
same as with the full batch. After an out-of-memory error the step is retried with half the
micro-batch; a warning is issued once per run.
"""

from __future__ import annotations

import logging
import math
import warnings

import torch

from ..errors import TrainingError

__all__ = ["is_oom", "OOMBackoff"]

log = logging.getLogger(__name__)


def is_oom(err: BaseException) -> bool:
    """True if ``err`` is an out-of-memory error (CUDA, MPS or the CPU allocator)."""
    if isinstance(err, torch.OutOfMemoryError):
        return True
    msg = str(err).lower()
    return isinstance(err, RuntimeError) and ("out of memory" in msg or "can't allocate memory" in msg)


class OOMBackoff:
    """Track the micro-batch size for a batch size, halving it on each out-of-memory error."""

    def __init__(self, batch_size: int) -> None:
        self.batch_size = int(batch_size)
        self.micro_batch = int(batch_size)
        self.events = 0
        self._warned = False

    @property
    def accumulation_steps(self) -> int:
        """Micro-batches per full batch."""
        return math.ceil(self.batch_size / self.micro_batch)

    def split(self, n: int) -> list[slice]:
        """Slices cutting a batch of ``n`` samples into micro-batches."""
        return [slice(i, min(n, i + self.micro_batch)) for i in range(0, n, self.micro_batch)]

    def on_oom(self, err: BaseException, step: int) -> None:
        """Halve the micro-batch after ``err``; raise :class:`TrainingError` if it is already 1."""
        if self.micro_batch <= 1:
            raise TrainingError(
                f"out of memory at step {step} even with a micro-batch of 1 sample: use a smaller model, "
                "a smaller patch/image size, or precision='bf16'/'fp16'"
            ) from err
        self.micro_batch = max(1, self.micro_batch // 2)
        self.events += 1
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        msg = (f"out of memory at step {step}: micro-batch reduced to {self.micro_batch} with "
               f"{self.accumulation_steps} gradient-accumulation steps (effective batch {self.batch_size} kept)")
        if not self._warned:
            warnings.warn(msg, UserWarning, stacklevel=3)
            self._warned = True
        else:
            log.info(msg)
