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

__all__ = [
    "save_checkpoint",
    "load_checkpoint",
    "check_resumable",
    "state_dict_mismatch",
    "CheckpointManager",
    "FORMAT_VERSION",
]

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


def load_checkpoint(
    path: str | Path, *, map_location: Any = "cpu", hint: str = "", cli_hint: str = ""
) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint`; raise :class:`CheckpointError` (one line, the file
    named) if it is missing, truncated, corrupt, only weights, or of a newer format.

    ``hint``/``cli_hint`` add what to do from Python / from the ``medimg`` command line.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist", advice=hint.lstrip("; "),
                              cli_advice=cli_hint.lstrip("; "))
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:
        reason = " ".join(str(err).split())[:200]
        raise CheckpointError(f"checkpoint {path} is corrupt or truncated ({type(err).__name__}: {reason})",
                              advice=hint.lstrip("; "), cli_advice=cli_hint.lstrip("; ")) from err
    if _weights_only(state):
        raise CheckpointError(
            f"{path} holds weights only (a model state dict), not a medimg training checkpoint",
            advice=f"load it with medimg_kernel.models.load_weights(model, {str(path)!r}) and fit without resume",
            cli_advice=f"set model.weights: {path} in the config and run without --resume",
        )
    if not isinstance(state, dict) or "medimg_checkpoint" not in state:
        raise CheckpointError(
            f"{path} is not a medimg training checkpoint (no 'medimg_checkpoint' key)",
            advice=hint.lstrip("; ") or "to load plain weights use medimg_kernel.models.load_weights",
            cli_advice=cli_hint.lstrip("; ") or "to start from plain weights set model.weights in the config",
        )
    if state["medimg_checkpoint"] > FORMAT_VERSION:
        raise CheckpointError(
            f"checkpoint {path} has format {state['medimg_checkpoint']}, this medimg reads up to {FORMAT_VERSION}",
            advice="upgrade medimg_kernel (pip install -U medimg-kernel) to read it",
        )
    return state


def _weights_only(state: Any) -> bool:
    """A bare ``state_dict`` (name -> tensor), as ``torch.save(model.state_dict())`` writes."""
    return isinstance(state, dict) and bool(state) and all(isinstance(v, torch.Tensor) for v in state.values())


def state_dict_mismatch(expected: dict[str, Any], found: dict[str, Any]) -> str:
    """Empty when ``found`` fits a model whose state dict is ``expected``; else the first differences, one line."""
    own = {k: tuple(v.shape) for k, v in expected.items() if hasattr(v, "shape")}
    got = {k: tuple(v.shape) for k, v in found.items() if hasattr(v, "shape")}
    shapes = [k for k in own if k in got and own[k] != got[k]]
    missing = [k for k in own if k not in got]
    extra = [k for k in got if k not in own]
    parts = []
    if shapes:
        k = shapes[0]
        more = f" (and {len(shapes) - 1} more)" if len(shapes) > 1 else ""
        parts.append(f"{k} is {got[k]} in the checkpoint but {own[k]} in this model{more}")
    if missing:
        parts.append(f"{len(missing)} parameter(s) of this model are not in it (e.g. {missing[0]})")
    if extra:
        parts.append(f"{len(extra)} of its parameter(s) are not in this model (e.g. {extra[0]})")
    return "; ".join(parts)


_OTHER_RUN_PY = ("build the model this checkpoint was written for, or train from scratch with "
                 "Trainer(..., checkpoint_dir=<a new folder>).fit(..., resume=False)")
_OTHER_RUN_CLI = ("set trainer.checkpoint_dir to a new folder in the config (or --set trainer.checkpoint_dir=DIR), "
                  "or use the model section the checkpoint was written with")


def check_resumable(state: dict[str, Any], path: str | Path, *, model: Any, task: str) -> None:
    """Raise :class:`CheckpointError` (file and mismatch named) unless ``state`` can resume ``model`` on ``task``.

    Refuses a weights-only checkpoint (``best.pt``) where a full one is expected, another task, another model
    class, and a state dict whose parameter names or shapes differ from the model's.
    """
    path = Path(path)
    if "optimizer" not in state or "config" not in state:
        raise CheckpointError(
            f"{path} holds weights only (a best-weights checkpoint), not a full training checkpoint to resume",
            advice=f"resume from last.pt (fit(..., resume=True) with checkpoint_dir={str(path.parent)!r}), "
                   "or load these weights with trainer.load_best() and call fit() without resume",
            cli_advice="`medimg train CONFIG --resume` continues from last.pt in trainer.checkpoint_dir; to start "
                       f"from these weights set model.weights: {path} in the config and run without --resume",
        )
    cfg = state["config"]
    if cfg.get("task") not in (None, task):
        raise CheckpointError(
            f"{path} was written for a {cfg.get('task')} run, not {task}",
            advice=_OTHER_RUN_PY, cli_advice=_OTHER_RUN_CLI)
    name = type(model).__name__
    if cfg.get("model") not in (None, name):
        raise CheckpointError(f"{path} was written for a {cfg.get('model')} model, not a {name}",
                              advice=_OTHER_RUN_PY, cli_advice=_OTHER_RUN_CLI)
    diff = state_dict_mismatch(model.state_dict(), state.get("model") or {})
    if diff:
        raise CheckpointError(f"{path} does not fit this {name} (another model configuration): {diff}",
                              advice=_OTHER_RUN_PY, cli_advice=_OTHER_RUN_CLI)


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
        if path == self.last and self.previous.is_file():
            hint = (f"the previous good checkpoint is kept at {self.previous}: resume from it with "
                    f"fit(..., resume={str(self.previous)!r}) or delete {path}")
            cli_hint = (f"the previous good checkpoint is kept at {self.previous}: resume from it with "
                        f"`medimg train CONFIG --set fit.resume={self.previous}` or delete {path}")
        else:
            hint = cli_hint = f"delete {path} to start again"
        return load_checkpoint(path, map_location=map_location, hint=hint, cli_hint=cli_hint)
