"""Export a trained torch model to one self-contained ONNX file, with a parity check against eager torch.

The exporter is torch's own (``torch.onnx.export(..., dynamo=True)``, the default since torch 2.9), which
traces the model with ``torch.export`` and translates the graph with ``onnxscript``. The weights are
written inside the ``.onnx`` file (``external_data=False``; ONNX's protobuf limit makes that possible up
to 2 GB), so one file is the whole deployed model.

TorchScript (``torch.jit.trace``/``script``) is deprecated in torch >= 2.11 in favour of ``torch.export``;
this module does not use it.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import logging
import re
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError, ExportError, ParityError

__all__ = ["ExportReport", "export_onnx", "check_parity", "DEFAULT_ATOL", "TWO_GB"]

DEFAULT_ATOL = 1e-4  # max abs error allowed between ONNX (fp32) and eager torch
TWO_GB = 2 * 1024**3  # protobuf limit: above it the weights must go to a side file
INPUT_NAME = "image"
OUTPUT_NAME = "logits"


@dataclass
class ExportReport:
    """What an export produced: the file, its size, the parity error and the input contract."""

    path: Path
    size_bytes: int
    max_abs_err: float
    atol: float
    seconds: float
    input_shape: tuple[int, ...]
    opset: int | None = None
    metadata: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-friendly dict of the report."""
        d = asdict(self)
        d["path"] = str(self.path)
        return d

    def __repr__(self) -> str:
        return (f"ExportReport({self.path.name}, {self.size_bytes / 1e6:.2f} MB, parity max|err|="
                f"{self.max_abs_err:.2e} <= {self.atol:g}, {self.seconds:.1f} s)")


@contextlib.contextmanager
def _quiet_exporter():
    """Silence the exporter's graph dumps, torchvision notices and deprecation chatter."""
    loggers = [logging.getLogger(n) for n in ("torch.onnx", "torch.export", "torch._dynamo", "torch.fx",
                                                "onnxscript")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), \
                contextlib.redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, lv in zip(loggers, levels):
            lg.setLevel(lv)


def _module_at(model: Any, filename: str, line: int) -> str | None:
    """Name the (innermost) submodule whose ``forward`` contains ``filename:line``."""
    best: tuple[int, str] | None = None
    for name, mod in model.named_modules():
        fwd = type(mod).forward
        try:
            src_file = inspect.getsourcefile(fwd)
            lines, start = inspect.getsourcelines(fwd)
        except (OSError, TypeError):
            continue
        if src_file and Path(src_file).resolve() == Path(filename).resolve() and start <= line < start + len(lines):
            label = f"{name or '<root>'} ({type(mod).__name__})"
            if best is None or len(lines) < best[0]:
                best = (len(lines), label)
    return best[1] if best else None


def _module_of_op(model: Any, args: tuple, op: str) -> str | None:
    """Find which submodule calls aten ``op`` by looking at ``torch.export``'s module stack."""
    import torch

    try:
        with _quiet_exporter():
            ep = torch.export.export(model, args)
    except Exception:  # noqa: BLE001 - best effort, only used to improve a message
        return None
    for node in ep.graph.nodes:
        if node.op == "call_function" and op in str(node.target):
            stack = node.meta.get("nn_module_stack") or {}
            if stack:
                path, cls = list(stack.values())[-1]
                cls_name = getattr(cls, "__name__", str(cls).rsplit(".", 1)[-1].strip("'>"))
                return f"{path or '<root>'} ({cls_name})"
            return f"<root> ({type(model).__name__})"
    return None


def _explain_failure(err: Exception, model: Any, args: tuple) -> str:
    """One line naming the module and the op the exporter could not handle, with the fix."""
    text = "\n".join(str(e) for e in _chain(err))
    missing = re.search(r"No ONNX function found for <OpOverload\(op='([\w.]+)'", text)
    if missing:
        op = missing.group(1)
        where = _module_of_op(model, args, op) or f"<root> ({type(model).__name__})"
        return (f"cannot export module {where}: op {op} has no ONNX translation; replace it with supported "
                f"ops (see https://pytorch.org/docs/stable/onnx_dynamo.html) or register a custom onnxscript "
                f"function via torch.onnx.export(custom_translation_table=...)")
    data_dep = re.search(r"data-dependent expression|GuardOnDataDependent|data dependent", text)
    loc = re.findall(r'File "([^"]+)", line (\d+), in (\w+)\n\s*(.*)', text)
    if data_dep:
        where, code = f"<root> ({type(model).__name__})", ""
        for fname, line, _fn, src in reversed(loc):
            found = _module_at(model, fname, int(line))
            if found:
                where, code = found, src.strip()
                break
        op = f"'{code}'" if code else "a Python branch on a tensor value"
        return (f"cannot export module {where}: data-dependent control flow at {op}; make the branch depend "
                f"on shapes or constants, or use torch.cond / torch.where")
    summary = text.split("## Exception summary", 1)[-1].strip().splitlines()
    first = next((s for s in summary if s.strip()), str(err)).strip()
    return (f"cannot export {type(model).__name__}: {first[:300]}; run torch.export.export(model, args) to "
            f"see the failing module")


def _chain(err: BaseException) -> list[BaseException]:
    out, seen = [], set()
    while err is not None and id(err) not in seen:
        out.append(err)
        seen.add(id(err))
        err = err.__cause__ or err.__context__
    return out


def check_parity(model: Any, onnx_path: str | Path, inputs: Any, *, atol: float = DEFAULT_ATOL,
                 raise_error: bool = True) -> float:
    """Return the max abs difference between eager torch and ONNX Runtime (fp32) on ``inputs``.

    Raises :class:`~medimg_kernel.errors.ParityError` when it exceeds ``atol`` (unless ``raise_error=False``).
    """
    from .runtime import EagerPredictor, OrtPredictor

    x = np.ascontiguousarray(np.asarray(inputs, dtype=np.float32))
    eager = EagerPredictor(model).predict(x)
    ort = OrtPredictor(onnx_path).predict(x)
    if eager.shape != ort.shape:
        raise ParityError(f"ONNX output shape {ort.shape} differs from eager {eager.shape}: re-export the model")
    err = float(np.max(np.abs(eager.astype(np.float64) - ort.astype(np.float64)))) if eager.size else 0.0
    if not np.isfinite(err) or (raise_error and err > atol):
        raise ParityError(f"ONNX output differs from eager torch by max |err| = {err:.3g} > atol {atol:g} on "
                          f"{len(x)} input(s): check for train-mode layers (call model.eval()), random ops "
                          f"or non-deterministic custom code before deploying")
    return err


def export_onnx(model: Any, example: Any, path: str | Path, *, parity_inputs: Any = None,
                atol: float = DEFAULT_ATOL, dynamic_batch: bool = True, opset: int | None = None,
                metadata: dict[str, Any] | None = None) -> ExportReport:
    """Export ``model`` (in eval mode) to one ONNX file at ``path`` and check parity with eager torch.

    ``example`` is an ``(N, C, *spatial)`` array or tensor that fixes the channel and spatial sizes (the
    batch is dynamic unless ``dynamic_batch=False``). Parity is checked on ``parity_inputs`` (real images;
    default ``example``) and an error above ``atol`` raises :class:`~medimg_kernel.errors.ParityError`.
    ``metadata`` (strings) is stored in the file's ``metadata_props``.
    """
    import torch

    try:
        import onnxscript  # noqa: F401  (the dynamo exporter needs it)
    except ModuleNotFoundError as err:
        raise ExportError("the ONNX exporter needs onnxscript: pip install 'onnxscript>=0.5'") from err
    if not isinstance(model, torch.nn.Module):
        raise ConfigError(f"export_onnx needs a torch.nn.Module, got {type(model).__name__}")
    x = torch.as_tensor(np.asarray(example, dtype=np.float32))
    if x.ndim < 3:
        raise ConfigError(f"example must be (N, C, *spatial), got shape {tuple(x.shape)}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    import copy

    # a copy in eval mode with contiguous weights: the caller's model keeps its mode and memory format
    # (channels_last weights make torch.export specialise a batch of 1 and reject a dynamic batch)
    model = copy.deepcopy(model).cpu().eval().to(memory_format=torch.contiguous_format)
    x = x.cpu().contiguous()
    args = (x[:1] if dynamic_batch else x,)
    dyn = ({0: torch.export.Dim("batch", min=1, max=1024)},) if dynamic_batch else None
    t0 = time.perf_counter()
    try:
        with _quiet_exporter():
            prog = torch.onnx.export(model, args, str(path), dynamo=True, external_data=False,
                                     dynamic_shapes=dyn, input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                                     opset_version=opset, verbose=False)
    except Exception as err:  # noqa: BLE001 - every exporter failure becomes one clear line
        path.unlink(missing_ok=True)
        raise ExportError(_explain_failure(err, model, args)) from err
    if prog is None or not path.is_file():
        raise ExportError(f"the exporter wrote no file at {path}: check that the folder is writable")
    stray = path.with_name(path.name + ".data")
    if stray.exists():
        stray.unlink()
        raise ExportError(f"the exporter put the weights in a side file ({stray.name}); models over 2 GB are "
                          f"not supported by medimg deploy: export a smaller model")
    seconds = time.perf_counter() - t0
    meta = {str(k): str(v) for k, v in (metadata or {}).items()}
    if meta:
        import onnx

        proto = onnx.load(str(path))
        for k, v in meta.items():
            entry = proto.metadata_props.add()
            entry.key, entry.value = k, v
        onnx.save(proto, str(path))
    err = check_parity(model, path, x if parity_inputs is None else parity_inputs, atol=atol)
    opset_used = None
    with contextlib.suppress(Exception):
        import onnx

        opset_used = int(next(o.version for o in onnx.load(str(path), load_external_data=False).opset_import
                              if o.domain in ("", "ai.onnx")))
    return ExportReport(path, path.stat().st_size, err, atol, seconds, tuple(x.shape[1:]), opset_used, meta)
