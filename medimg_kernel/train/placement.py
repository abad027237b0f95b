"""Device placement you can prove on a CPU: ``mk.infer`` and the strict-device mode.

On a GPU, a model the Trainer moved to ``cuda`` crashes when lesson code calls it on host tensors; on the
CPU of CI the same code runs fine, so the bug ships. Strict-device mode (``MEDIMG_STRICT_DEVICE=1``) makes
it fail on a CPU too: every model the Trainer places refuses to be called directly from user code (a
notebook cell or a script), and must be called through :func:`infer`, :meth:`Trainer.predict` or the
package's own functions, which move the inputs to the model's device. The check looks at who called the
model: the first frame outside torch must belong to medimg_kernel or to an installed library.
"""

from __future__ import annotations

import os
import sys
import sysconfig
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import ArgumentTypeError, ConfigError, StrictDeviceError

__all__ = ["infer", "strict_device", "place", "model_device"]

_TORCH_DIR = str(Path(torch.__file__).resolve().parent)
_PKG_DIR = str(Path(__file__).resolve().parents[1])
_LIB_DIRS = tuple({str(Path(p).resolve()) for p in (sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"])})
_HOOKED = "_medimg_strict_hook"


def strict_device() -> bool:
    """True when ``MEDIMG_STRICT_DEVICE`` is set to 1/true/yes (the course test runs the smoke course so)."""
    return os.environ.get("MEDIMG_STRICT_DEVICE", "").strip().lower() in ("1", "true", "yes", "on")


def model_device(model: nn.Module) -> torch.device:
    """The device of the model's first parameter or buffer (CPU for a model without any)."""
    for t in model.parameters():
        return t.device
    for t in model.buffers():
        return t.device
    return torch.device("cpu")


def _trusted(filename: str) -> bool:
    if filename.startswith("<"):  # generated code (torch.fx/export "<eval_with_key>", "<string>"), not a cell
        return not filename.startswith(("<ipython-input", "<stdin>"))
    try:
        f = str(Path(filename).resolve())
    except (OSError, ValueError):
        return False
    return f.startswith(_PKG_DIR) or f.startswith(_LIB_DIRS)


def _caller_outside_torch() -> str:
    f = sys._getframe(2)
    while f is not None and (f.f_code.co_filename.startswith(_TORCH_DIR) or
                             str(Path(f.f_code.co_filename)).startswith(_TORCH_DIR)):
        f = f.f_back
    return f.f_code.co_filename if f is not None else ""


def _pre_hook(module: nn.Module, args: tuple) -> None:
    if not strict_device():
        return
    compiling = getattr(torch.compiler, "is_compiling", None)
    if compiling is not None and compiling():  # traced by torch.export / torch.compile, not a call
        return
    caller = _caller_outside_torch()
    if caller and not _trusted(caller):
        dev = model_device(module)
        raise StrictDeviceError(
            f"{type(module).__name__} (placed on {dev} by the Trainer) was called directly from {caller}; on a GPU "
            "this crashes when the inputs are on the host: call mk.infer(model, x) or trainer.predict(x) instead "
            "(strict-device mode, MEDIMG_STRICT_DEVICE=1)")


def place(model: nn.Module, device: torch.device | str, *, autocast_dtype: torch.dtype | None = None) -> nn.Module:
    """Move ``model`` to ``device`` and register the strict-device guard on it (idempotent); return it."""
    model.to(device)
    if not getattr(model, _HOOKED, False):
        model.register_forward_pre_hook(_pre_hook)
        object.__setattr__(model, _HOOKED, True)
    object.__setattr__(model, "_medimg_autocast", autocast_dtype)
    return model


def _to(x: Any, device: torch.device) -> Any:
    """Float arrays to float32 (models are float32), then the Trainer's own device transfer."""
    from .data import to_device

    def f32(v: Any) -> Any:
        return v.astype(np.float32) if isinstance(v, np.ndarray) and v.dtype.kind == "f" else v

    if isinstance(x, Mapping):
        x = {k: f32(v) for k, v in x.items()}
    elif isinstance(x, (list, tuple)):
        x = type(x)(f32(v) for v in x)
    else:
        x = f32(x)
    if not isinstance(x, (torch.Tensor, np.ndarray, Mapping, list, tuple)):
        raise ArgumentTypeError(f"mk.infer: cannot send a {type(x).__name__} to the model; pass a tensor, an array, "
                                "or a dict/list/tuple of them")
    return to_device(x, device)


def _length(x: Any) -> int | None:
    if isinstance(x, (torch.Tensor, np.ndarray)):
        return int(x.shape[0]) if x.ndim else None
    if isinstance(x, Mapping):
        lens = {_length(v) for v in x.values()} - {None}
    elif isinstance(x, (list, tuple)):
        lens = {_length(v) for v in x} - {None}
    else:
        return None
    if len(lens) > 1:
        raise ConfigError(f"mk.infer: the inputs disagree on the batch size ({sorted(lens)}); give every input the same "
                          "first dimension")
    return lens.pop() if lens else None


def _slice(x: Any, a: int, b: int) -> Any:
    if isinstance(x, (torch.Tensor, np.ndarray)):
        return x[a:b] if x.ndim else x
    if isinstance(x, Mapping):
        return {k: _slice(v, a, b) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x)(_slice(v, a, b) for v in x)
    return x


def _host(out: Any) -> Any:
    if isinstance(out, torch.Tensor):
        t = out.as_tensor() if hasattr(out, "as_tensor") else out
        return t.detach().float().cpu() if t.is_floating_point() else t.detach().cpu()
    if isinstance(out, Mapping):
        return {k: _host(v) for k, v in out.items()}
    if isinstance(out, (list, tuple)):
        return type(out)(_host(v) for v in out)
    return out


def _cat(parts: list[Any]) -> Any:
    first = parts[0]
    if isinstance(first, torch.Tensor):
        return torch.cat(parts)
    if isinstance(first, Mapping):
        return {k: _cat([p[k] for p in parts]) for k in first}
    if isinstance(first, (list, tuple)):
        return type(first)(_cat([p[i] for p in parts]) for i in range(len(first)))
    return parts


def _activate(out: Any, activation: str | None) -> Any:
    if activation is None:
        return out
    if activation not in ("softmax", "sigmoid"):
        raise ConfigError(f"activation={activation!r}: choose None, 'softmax' or 'sigmoid'")
    if isinstance(out, torch.Tensor):
        return torch.softmax(out, 1) if activation == "softmax" else torch.sigmoid(out)
    raise ArgumentTypeError("mk.infer: activation= needs a model that returns one tensor")


def infer(model: nn.Module, x: Any, *, batch_size: int | None = None, activation: str | None = None,
          precision: str | None = None) -> Any:
    """Run ``model`` on ``x`` in eval mode without gradients, on the model's own device; return CPU outputs.

    ``x`` is a tensor, a NumPy array, or a dict/list/tuple of them (one entry per input, e.g. modalities).
    ``batch_size`` splits the first dimension into chunks; ``activation`` is None, ``"softmax"`` or
    ``"sigmoid"``; ``precision`` (``"bf16"``/``"fp16"``) autocasts, and defaults to the Trainer's choice
    for a model it trained. Outputs are float32 CPU tensors (or the same container of them).
    """
    if not isinstance(model, nn.Module):
        raise ArgumentTypeError(f"mk.infer needs a torch.nn.Module, got {type(model).__name__}")
    if batch_size is not None and (not isinstance(batch_size, int) or batch_size < 1):
        raise ConfigError(f"batch_size={batch_size!r}: give a positive integer, or None for one batch")
    dev = model_device(model)
    dtype = getattr(model, "_medimg_autocast", None)
    if precision is not None:
        table = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}
        if precision not in table:
            raise ConfigError(f"precision={precision!r}: choose fp32, bf16 or fp16")
        dtype = table[precision]
    n = _length(x)
    step = batch_size or n or 1
    starts = range(0, n, step) if n else [None]
    was_training = model.training
    model.eval()
    parts = []
    try:
        with torch.inference_mode():
            for a in starts:
                chunk = x if a is None else _slice(x, a, a + step)
                inp = _to(chunk, dev)
                if dtype is not None:
                    with torch.autocast(dev.type, dtype=dtype):
                        out = model(inp)
                else:
                    out = model(inp)
                parts.append(_host(out))
    finally:
        model.train(was_training)
    return _activate(_cat(parts) if len(parts) > 1 else parts[0], activation)
