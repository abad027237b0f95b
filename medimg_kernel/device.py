"""Device and precision policy: which device, autocast dtype, memory format and thread count to use.

:func:`device_policy` picks the device from the hardware (CUDA, Apple MPS, CPU) and a safe starting
precision; ``MEDIMG_DEVICE`` (``auto``, ``cpu``, ``cuda``, ``cuda:N``, ``mps``) and ``MEDIMG_PRECISION``
(``auto``, ``fp32``, ``bf16``, ``fp16``) override it. With precision ``auto`` the precision and memory
format are *measured*: the first ``Trainer.fit`` of a model family and batch shape on a machine times a
few steps of each candidate (:mod:`medimg_kernel.train.calibrate`) and the choice is cached under the
data folder (:func:`cached_choices`; ``medimg env`` lists them, ``medimg env --recalibrate`` measures
again). This module also sets torch's process-wide knobs: threads and cuDNN/TF32 flags.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import platform
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ConfigError, NoGPUError

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = ["DevicePolicy", "device_policy", "cpu_features", "machine_signature", "cached_choices", "store_choice",
           "clear_choices", "calibration_file", "VALID_DEVICES", "VALID_PRECISIONS"]

VALID_DEVICES = ("auto", "cpu", "cuda", "cuda:N", "mps")
VALID_PRECISIONS = ("auto", "fp32", "bf16", "fp16")


@functools.lru_cache(maxsize=1)
def cpu_features() -> dict[str, Any]:
    """Return CPU facts: model name, physical cores available, and AMX / AVX-512 bf16 support."""
    flags: set[str] = set()
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("flags") and not flags:
                    flags = set(line.split(":", 1)[1].split())
                elif line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
    except OSError:
        pass
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        cores = os.cpu_count() or 1
    capability = None
    try:
        import torch

        capability = torch.backends.cpu.get_cpu_capability()
    except Exception:  # pragma: no cover
        pass
    return {
        "model": model,
        "cores": cores,
        "amx_bf16": "amx_bf16" in flags,
        "avx512_bf16": "avx512_bf16" in flags,
        "bf16": "amx_bf16" in flags or "avx512_bf16" in flags,
        "avx512": "avx512f" in flags,
        "torch_capability": capability,
        "arch": platform.machine(),
    }


@dataclass(frozen=True)
class DevicePolicy:
    """The chosen device, precision and memory layout, with the reasons behind them."""

    device: str
    precision: str  # "fp32" | "bf16" | "fp16"
    memory_format: str  # "contiguous" | "channels_last"
    num_threads: int
    batch_scale: float
    gpu: dict[str, Any] | None
    cpu: dict[str, Any]
    reason: str
    #: True when precision was left on ``auto``: ``Trainer.fit`` then measures precision and memory format
    auto_precision: bool = False

    @property
    def autocast_dtype(self) -> torch.dtype | None:
        """The torch dtype for autocast, or None for plain fp32."""
        import torch

        return {"bf16": torch.bfloat16, "fp16": torch.float16}.get(self.precision)

    @property
    def device_type(self) -> str:
        """``cuda``, ``mps`` or ``cpu`` (the device without its index)."""
        return self.device.split(":", 1)[0]

    @property
    def needs_grad_scaler(self) -> bool:
        """True only for fp16 on CUDA, the one case where loss scaling is needed."""
        return self.precision == "fp16" and self.device_type == "cuda"

    def torch_device(self) -> torch.device:
        """Return the policy's device as a ``torch.device``."""
        import torch

        return torch.device(self.device)

    def autocast(self, enabled: bool = True) -> contextlib.AbstractContextManager:
        """Return an autocast context for the policy's precision (a no-op for fp32)."""
        import torch

        if not enabled or self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device_type, dtype=self.autocast_dtype)

    def memory_format_for(self, ndim: int) -> torch.memory_format:
        """Return the torch memory format for a batch with ``ndim`` dimensions (4 = 2D, 5 = 3D)."""
        import torch

        if self.memory_format != "channels_last":
            return torch.contiguous_format
        return torch.channels_last_3d if ndim == 5 else torch.channels_last

    def apply_threads(self, processes: int = 1) -> None:
        """Set torch's intra-op thread count to the policy's, shared among ``processes`` on this host (CPU only)."""
        import torch

        threads = max(1, self.num_threads // max(1, int(processes)))
        if self.device_type == "cpu" and torch.get_num_threads() != threads:
            torch.set_num_threads(threads)

    def apply_backend_flags(self, deterministic: bool = False) -> None:
        """Set torch's kernel-selection flags: deterministic kernels, or cuDNN autotuning + TF32 on CUDA."""
        import torch

        if deterministic:
            torch.use_deterministic_algorithms(True, warn_only=True)
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
            torch.backends.cudnn.benchmark = False
            torch.backends.cudnn.deterministic = True
        elif self.device_type == "cuda":
            torch.backends.cudnn.benchmark = True
            torch.backends.cuda.matmul.allow_tf32 = True
            torch.backends.cudnn.allow_tf32 = True

    def signature(self) -> str:
        """The key of this machine, torch build and (on CPU) thread count in the measured-choice cache."""
        return machine_signature(self.device, self.gpu, self.num_threads if self.device_type == "cpu" else None)

    def with_setting(self, precision: str, memory_format: str, reason: str) -> DevicePolicy:
        """Return a copy with a measured ``precision`` and ``memory_format`` and the reason for them."""
        return replace(self, precision=precision, memory_format=memory_format, reason=reason, auto_precision=False)

    def as_dict(self) -> dict[str, Any]:
        """Return the policy as a JSON-ready dict."""
        return asdict(self)

    def describe(self) -> str:
        """Return a plain, printable one-paragraph description of the policy."""
        if self.gpu:
            hw = f"GPU {self.gpu['name']} ({self.gpu['memory_gb']:.0f} GB, bf16={'yes' if self.gpu['bf16'] else 'no'})"
        else:
            hw = (f"CPU {self.cpu['model']} ({self.cpu['cores']} cores, "
                  f"AMX-bf16={'yes' if self.cpu['amx_bf16'] else 'no'}, "
                  f"AVX512-bf16={'yes' if self.cpu['avx512_bf16'] else 'no'})")
        return (f"device={self.device} precision={self.precision} memory_format={self.memory_format} "
                f"threads={self.num_threads} batch_scale={self.batch_scale:g}\n"
                f"hardware: {hw}\nwhy: {self.reason}")

    def __str__(self) -> str:
        return self.describe()


def _gpu_info(index: int = 0) -> dict[str, Any]:
    import torch

    props = torch.cuda.get_device_properties(index)
    return {
        "name": props.name,
        "index": index,
        "memory_gb": round(props.total_memory / 2**30, 1),
        "capability": f"{props.major}.{props.minor}",
        "bf16": bool(torch.cuda.is_bf16_supported()),
        "count": torch.cuda.device_count(),
    }


def _resolve_device(requested: str, local_rank: int | None = None) -> str:
    import torch

    req = requested.strip().lower()
    mps_ok = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if req in ("auto", "cuda") and local_rank is not None and torch.cuda.is_available():
        return f"cuda:{int(local_rank)}"  # one process per GPU under torchrun
    if req == "auto":
        if torch.cuda.is_available():
            return "cuda:0"
        return "mps" if mps_ok else "cpu"
    if req == "cpu":
        return "cpu"
    if req == "mps":
        if not mps_ok:
            raise NoGPUError("MEDIMG_DEVICE=mps but Apple MPS is not available here; use 'cpu' or 'auto'")
        return "mps"
    if req == "cuda" or req.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise NoGPUError(
                f"device {requested!r} was requested but this machine has no usable CUDA GPU "
                f"(torch {torch.__version__}, CUDA build: {torch.version.cuda or 'no'}); "
                "unset MEDIMG_DEVICE or set it to 'cpu' or 'auto'"
            )
        index = 0 if req == "cuda" else req.split(":", 1)[1]
        if not str(index).isdigit() or int(index) >= torch.cuda.device_count():
            raise ConfigError(f"device {requested!r}: this machine has {torch.cuda.device_count()} GPU(s), "
                              f"valid choices are cuda:0..cuda:{torch.cuda.device_count() - 1}")
        return f"cuda:{int(index)}"
    raise ConfigError(f"unknown device {requested!r}: choose one of {', '.join(VALID_DEVICES)}")


def device_policy(device: str | None = None, precision: str | None = None, *,
                  local_rank: int | None = None) -> DevicePolicy:
    """Choose device, starting precision, memory format, threads and batch scale for this machine.

    ``device`` and ``precision`` override the environment variables ``MEDIMG_DEVICE`` and
    ``MEDIMG_PRECISION``, which override the automatic choice. ``local_rank`` (under torchrun) puts an
    ``auto``/``cuda`` request on that process's GPU. With precision ``auto`` the policy is a starting
    point with ``auto_precision=True``: ``Trainer.fit`` measures the candidates on the model.
    """
    dev = _resolve_device(device or os.environ.get("MEDIMG_DEVICE") or "auto", local_rank)
    cpu = cpu_features()
    gpu = _gpu_info(int(dev.split(":")[1])) if dev.startswith("cuda") else None
    prec_req = (precision or os.environ.get("MEDIMG_PRECISION") or "auto").strip().lower()
    if prec_req not in VALID_PRECISIONS:
        raise ConfigError(f"unknown precision {prec_req!r}: choose one of {', '.join(VALID_PRECISIONS)}")

    measured = "; precision auto: the first fit of each model and batch shape measures the candidates " \
               "and keeps the fastest (cached, see `medimg env`)"
    if dev.startswith("cuda"):
        auto_prec = "bf16" if gpu and gpu["bf16"] else "fp16"
        why = "CUDA GPU: bf16 autocast where the GPU supports it, else fp16 with loss scaling; channels_last for conv nets"
        mem_fmt = "channels_last"
        batch_scale = max(1.0, min(16.0, (gpu["memory_gb"] if gpu else 8) / 8))
    elif dev == "mps":
        auto_prec = "fp32"
        why = "Apple MPS: fp32 (autocast on MPS is not reliable across torch versions)"
        mem_fmt = "contiguous"
        batch_scale = 1.0
        measured = ""
    else:
        # No fixed CPU rule: on two AVX512-bf16 CPUs without AMX, bf16 + channels_last measured both faster
        # and slower than fp32 (benchmarks/precision_policy.py), so fp32 is only the starting point.
        auto_prec = "fp32"
        why = "CPU: fp32 until measured" + ("" if cpu["bf16"] else " (no bf16 instructions: bf16 is not a candidate)")
        mem_fmt = "contiguous"
        batch_scale = 0.25
    prec = auto_prec if prec_req == "auto" else prec_req
    if prec_req != "auto":
        why += f"; precision forced to {prec} by request"
    else:
        why += measured
    if prec == "fp16" and dev == "cpu":
        raise ConfigError("precision 'fp16' is not supported for training on CPU: choose fp32 or bf16")
    threads = cpu["cores"] if dev == "cpu" else max(1, min(cpu["cores"], 8))
    omp = os.environ.get("OMP_NUM_THREADS", "").strip()
    if omp.isdigit() and 1 <= int(omp) < threads:
        # a process told to use fewer threads (a grader or runner sharing the machine) keeps to it: more
        # torch threads than free cores make OpenMP's spinning barriers slow a step down many times over
        threads = int(omp)
        why += f"; {threads} thread(s) as OMP_NUM_THREADS says"
    threads_req = os.environ.get("MEDIMG_NUM_THREADS", "").strip()
    if threads_req:
        if not threads_req.isdigit() or int(threads_req) < 1:
            raise ConfigError(f"MEDIMG_NUM_THREADS={threads_req!r}: expected a whole number >= 1")
        threads = int(threads_req)
        why += f"; {threads} thread(s) set by MEDIMG_NUM_THREADS"
    return DevicePolicy(dev, prec, mem_fmt, threads, batch_scale, gpu, dict(cpu), why,
                        auto_precision=prec_req == "auto" and bool(measured))


# --------------------------------------------------------------------------------------------------
# the cache of measured choices (JSON under the data folder; read without importing torch)

CALIBRATION_FILE = "calibration/precision.json"


def calibration_file() -> Path:
    """Return the JSON file holding the measured precision choices (under the data folder)."""
    from .paths import data_dir

    return data_dir() / CALIBRATION_FILE


def machine_signature(device: str = "cpu", gpu: dict[str, Any] | None = None, threads: int | None = None) -> str:
    """Return a short key for this hardware + torch build: CPU or GPU model, cores (and CPU threads used),
    bf16 units, torch version."""
    import importlib.metadata as md

    try:
        torch_version = md.version("torch")
    except md.PackageNotFoundError:  # pragma: no cover
        torch_version = "none"
    if gpu:
        hw = f"{gpu['name']}|cc{gpu.get('capability')}"
    else:
        c = cpu_features()
        hw = f"{c['model']}|{c['cores']}c|amx{int(c['amx_bf16'])}|avx512bf16{int(c['avx512_bf16'])}"
        if threads:
            hw += f"|{threads}t"
    return f"{device.split(':')[0]}|{hw}|torch{torch_version}"


def cached_choices(machine: str | None = None) -> dict[str, dict[str, Any]]:
    """Return the cached measured choices ``{key: entry}``, only this ``machine``'s when one is given."""
    path = calibration_file()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    entries = data.get("entries", {}) if isinstance(data, dict) else {}
    return {k: v for k, v in entries.items() if machine is None or v.get("machine") == machine}


def store_choice(key: str, entry: dict[str, Any]) -> None:
    """Add one measured choice to the cache (atomic write; a read-only data folder only logs a warning)."""
    import logging

    path = calibration_file()
    entries = cached_choices()
    entries[key] = {**entry, "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S")}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"version": 1, "entries": entries}, indent=1), encoding="utf-8")
        os.replace(tmp, path)
    except OSError as err:
        logging.getLogger(__name__).warning("could not cache the precision choice in %s (%s): it will be "
                                            "measured again next time; set MEDIMG_DATA to a writable folder",
                                            path, err)


def clear_choices(machine: str | None = None) -> int:
    """Remove cached choices (this ``machine``'s only when given); return how many were removed."""
    entries = cached_choices()
    keep = {k: v for k, v in entries.items() if machine is not None and v.get("machine") != machine}
    removed = len(entries) - len(keep)
    path = calibration_file()
    if removed and path.exists():
        path.write_text(json.dumps({"version": 1, "entries": keep}, indent=1), encoding="utf-8")
    return removed
