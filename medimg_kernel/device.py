"""Device and precision policy: which device, autocast dtype, memory format and thread count to use.

The policy is chosen from the hardware (CUDA and its bf16 support, Apple MPS, CPU AMX/AVX-512-bf16)
and can be overridden with ``MEDIMG_DEVICE`` (``auto``, ``cpu``, ``cuda``, ``cuda:N``, ``mps``) and
``MEDIMG_PRECISION`` (``auto``, ``fp32``, ``bf16``, ``fp16``). On the course's 2-core Xeon with AMX,
bf16 autocast + channels_last trained a DenseNet121 about twice as fast as fp32
(``benchmarks/precision_policy.py`` measures it in one run).
"""

from __future__ import annotations

import contextlib
import functools
import os
import platform
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from .errors import ConfigError, NoGPUError

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = ["DevicePolicy", "device_policy", "cpu_features", "VALID_DEVICES", "VALID_PRECISIONS"]

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

    def apply_threads(self) -> None:
        """Set torch's intra-op thread count to the policy's (CPU only)."""
        import torch

        if self.device_type == "cpu" and torch.get_num_threads() != self.num_threads:
            torch.set_num_threads(self.num_threads)

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


def _resolve_device(requested: str) -> str:
    import torch

    req = requested.strip().lower()
    mps_ok = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
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


def device_policy(device: str | None = None, precision: str | None = None) -> DevicePolicy:
    """Choose device, precision, memory format, threads and batch scale for this machine.

    ``device`` and ``precision`` override the environment variables ``MEDIMG_DEVICE`` and
    ``MEDIMG_PRECISION``, which override the automatic choice.
    """
    dev = _resolve_device(device or os.environ.get("MEDIMG_DEVICE") or "auto")
    cpu = cpu_features()
    gpu = _gpu_info(int(dev.split(":")[1])) if dev.startswith("cuda") else None
    prec_req = (precision or os.environ.get("MEDIMG_PRECISION") or "auto").strip().lower()
    if prec_req not in VALID_PRECISIONS:
        raise ConfigError(f"unknown precision {prec_req!r}: choose one of {', '.join(VALID_PRECISIONS)}")

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
    else:
        # DenseNet121 training (benchmarks/precision_policy.py): on an AVX512-bf16 CPU without AMX, bf16 gained
        # x1.02-1.08 over fp32 and channels_last alone x1.26-1.33 (the fastest setting there); on AMX CPUs
        # bf16 + channels_last was reported at ~2x fp32 (78 -> 161 img/s; not re-measured here, no AMX).
        auto_prec = "bf16" if cpu["amx_bf16"] else "fp32"
        if cpu["amx_bf16"]:
            why = "CPU with AMX bf16 tiles: bf16 autocast + channels_last (~2x fp32 reported for DenseNet121)"
        elif cpu["avx512"]:
            why = ("CPU with AVX-512" + (" and AVX512-bf16 but no AMX" if cpu["avx512_bf16"] else "")
                   + ": fp32 + channels_last (bf16 would gain little without AMX; channels_last measured "
                   "x1.3 fp32 for DenseNet121)")
        else:
            why = "CPU without bf16 matrix units: fp32 (bf16 would be emulated and slower)"
        mem_fmt = "channels_last" if (cpu["amx_bf16"] or cpu["avx512"]) else "contiguous"
        batch_scale = 0.25
    prec = auto_prec if prec_req == "auto" else prec_req
    if prec_req != "auto":
        why += f"; precision forced to {prec} by request"
    if prec == "fp16" and dev == "cpu":
        raise ConfigError("precision 'fp16' is not supported for training on CPU: choose fp32 or bf16")
    threads = cpu["cores"] if dev == "cpu" else max(1, min(cpu["cores"], 8))
    threads_req = os.environ.get("MEDIMG_NUM_THREADS", "").strip()
    if threads_req:
        if not threads_req.isdigit() or int(threads_req) < 1:
            raise ConfigError(f"MEDIMG_NUM_THREADS={threads_req!r}: expected a whole number >= 1")
        threads = int(threads_req)
        why += f"; {threads} thread(s) set by MEDIMG_NUM_THREADS"
    return DevicePolicy(dev, prec, mem_fmt, threads, batch_scale, gpu, dict(cpu), why)


@contextlib.contextmanager
def forced_device(device: str) -> Iterator[None]:
    """Temporarily set ``MEDIMG_DEVICE`` (used by grading to force CPU)."""
    old = os.environ.get("MEDIMG_DEVICE")
    os.environ["MEDIMG_DEVICE"] = device
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("MEDIMG_DEVICE", None)
        else:
            os.environ["MEDIMG_DEVICE"] = old
