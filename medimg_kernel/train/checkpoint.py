"""Checkpoints written atomically (temporary file + fsync + rename), with the previous good one kept.

A training run keeps ``last.pt`` (everything needed to resume: model, optimizer, scheduler, scaler, RNG
state, position in the epoch, history), ``previous.pt`` (the ``last.pt`` before it) and ``best.pt``
(weights at the best monitored metric). A kill at any moment leaves complete files only.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import torch

from ..errors import CheckpointError

__all__ = ["save_checkpoint", "load_checkpoint", "CheckpointManager", "FORMAT_VERSION"]

log = logging.getLogger(__name__)
FORMAT_VERSION = 1


def save_checkpoint(state: dict[str, Any], path: str | Path) -> Path:
    """Write ``state`` to ``path`` atomically: a temporary file in the same folder, fsync, then rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            torch.save({"medimg_checkpoint": FORMAT_VERSION, **state}, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    try:  # persist the rename itself
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:  # pragma: no cover - e.g. Windows
        pass
    return path


def load_checkpoint(path: str | Path, *, map_location: Any = "cpu", hint: str = "") -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint`; raise :class:`CheckpointError` if it is
    missing, truncated, corrupt or not a medimg checkpoint."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist{hint}")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:
        raise CheckpointError(f"checkpoint {path} is corrupt or truncated ({type(err).__name__}: "
                              f"{str(err).splitlines()[0][:200] if str(err) else ''}){hint}") from err
    if not isinstance(state, dict) or "medimg_checkpoint" not in state:
        raise CheckpointError(f"{path} is not a medimg training checkpoint (no 'medimg_checkpoint' key){hint}; "
                              "to load plain weights use medimg_kernel.models.load_weights")
    if state["medimg_checkpoint"] > FORMAT_VERSION:
        raise CheckpointError(f"checkpoint {path} has format {state['medimg_checkpoint']}, this medimg reads "
                              f"up to {FORMAT_VERSION}: upgrade medimg_kernel")
    return state


class CheckpointManager:
    """The checkpoint folder of one run: ``last.pt``, ``previous.pt`` and ``best.pt``."""

    def __init__(self, directory: str | Path) -> None:
        self.dir = Path(directory).expanduser()

    @property
    def last(self) -> Path:
        return self.dir / "last.pt"

    @property
    def previous(self) -> Path:
        return self.dir / "previous.pt"

    @property
    def best(self) -> Path:
        return self.dir / "best.pt"

    def save_last(self, state: dict[str, Any]) -> Path:
        """Save a resumable checkpoint; the current ``last.pt`` becomes ``previous.pt``."""
        self.dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".last.", suffix=".pt", dir=self.dir)
        os.close(fd)
        try:
            save_checkpoint(state, tmp)
            if self.last.exists():
                os.replace(self.last, self.previous)
            os.replace(tmp, self.last)
        finally:
            Path(tmp).unlink(missing_ok=True)
        return self.last

    def save_best(self, state: dict[str, Any]) -> Path:
        """Save the best-metric checkpoint (weights and the metric)."""
        return save_checkpoint(state, self.best)

    def resume_path(self) -> Path | None:
        """The newest complete checkpoint to resume from (``last.pt``, else ``previous.pt``), or None."""
        for p in (self.last, self.previous):
            if p.is_file():
                return p
        return None

    def load_resume(self, *, map_location: Any = "cpu") -> dict[str, Any] | None:
        """Load the newest checkpoint; a corrupt one raises :class:`CheckpointError` naming the good one."""
        path = self.resume_path()
        if path is None:
            return None
        hint = ""
        if path == self.last and self.previous.is_file():
            hint = (f"; the previous good checkpoint is kept at {self.previous}: resume from it with "
                    f"fit(..., resume={str(self.previous)!r}) or delete {path}")
        else:
            hint = f"; delete {path} to start again"
        return load_checkpoint(path, map_location=map_location, hint=hint)
