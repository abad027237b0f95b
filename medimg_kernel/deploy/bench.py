"""Latency benchmark: eager torch vs ONNX Runtime fp32 vs int8, measured interleaved in one run.

Interleaving (round r runs every backend once, in an order rotated each round) exposes all backends to
the same machine load, so the *ratios* stay meaningful on a shared machine even when absolute times
drift. The first ``warmup`` rounds (allocations, kernel selection, caches) are excluded from the figures.
"""

from __future__ import annotations

import os
import platform
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError

__all__ = ["latency_summary", "benchmark", "BenchReport", "machine_info", "size_breakdown"]


def latency_summary(latencies_ms: Any, *, warmup: int = 0, batch: int = 1) -> dict[str, float]:
    """p50/p95/p99/mean latency (ms) and throughput (fps) of ``latencies_ms`` after dropping ``warmup``."""
    lat = np.asarray(latencies_ms, dtype=np.float64)[int(warmup):]
    if lat.size == 0:
        raise ConfigError(f"no latencies left after excluding {warmup} warm-up run(s): run more iterations")
    p50, p95, p99 = np.percentile(lat, [50, 95, 99])
    return {"p50_ms": float(p50), "p95_ms": float(p95), "p99_ms": float(p99), "mean_ms": float(lat.mean()),
            "fps": float(1000.0 * batch / lat.mean()), "n": int(lat.size)}


def size_breakdown(path: str | Path) -> dict[str, int]:
    """Bytes of an ONNX file split into its weights (initialisers) and the rest (graph, names, QDQ nodes).

    Quantisation shrinks the weights about 4x; the rest does not shrink (int8 QDQ adds nodes), so for a
    small model the file shrinks much less than its weights.
    """
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    weights = sum(len(t.raw_data) or onnx.numpy_helper.to_array(t).nbytes for t in model.graph.initializer)
    total = Path(path).stat().st_size
    return {"file_bytes": int(total), "weight_bytes": int(weights), "other_bytes": int(total - weights),
            "n_weights": int(sum(int(np.prod(t.dims)) for t in model.graph.initializer))}


def machine_info() -> dict[str, Any]:
    """The machine a benchmark ran on: CPU, cores, threads, load, library versions, ORT providers."""
    import torch

    from ..device import cpu_features, device_policy

    info: dict[str, Any] = {"platform": platform.platform(), "python": platform.python_version(),
                            "torch": torch.__version__}
    cpu = cpu_features()
    info["cpu"] = {k: cpu.get(k) for k in ("model", "cores", "avx512", "avx512_vnni", "avx512_bf16", "amx_bf16")
                   if k in cpu}
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        flags = next((ln for ln in Path("/proc/cpuinfo").read_text().splitlines() if ln.startswith("flags")), "")
        info["cpu"]["vnni"] = "avx512_vnni" in flags or "avx_vnni" in flags
        info["cpu"]["amx_int8"] = "amx_int8" in flags
    except OSError:
        pass
    info["cpu"]["model"] = model or platform.processor()
    info["threads"] = device_policy("cpu").num_threads
    if hasattr(os, "getloadavg"):
        info["load_avg_1m"] = round(os.getloadavg()[0], 2)
        info["loaded"] = info["load_avg_1m"] > 0.75 * (os.cpu_count() or 1)
    try:
        import onnxruntime as ort

        info["onnxruntime"] = ort.__version__
        info["ort_providers"] = ort.get_available_providers()
    except ImportError:
        pass
    return info


class _PeakRSS:
    """Sample the process RSS in a background thread; attribute the peak to the backend running now."""

    def __init__(self, interval_s: float = 0.002) -> None:
        import psutil

        self._proc = psutil.Process()
        self.interval_s = interval_s
        self.current: str | None = None
        self.peak: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            name = self.current
            if name is not None:
                rss = self._proc.memory_info().rss
                if rss > self.peak.get(name, 0):
                    self.peak[name] = rss
            self._stop.wait(self.interval_s)

    def __enter__(self) -> _PeakRSS:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()


@dataclass
class BenchReport:
    """Per-backend latency figures, file sizes, accuracy and the machine, from one interleaved run."""

    results: dict[str, dict[str, float]]
    machine: dict[str, Any]
    input_shape: tuple[int, ...]
    runs: int
    warmup: int
    raw_ms: dict[str, list[float]] = field(default_factory=dict, repr=False)

    def ratios(self, reference: str = "eager fp32") -> dict[str, float]:
        """Speed-up of every backend over ``reference`` at p50 (>1 = faster), plus size ratios."""
        out: dict[str, float] = {}
        ref = self.results.get(reference)
        for name, r in self.results.items():
            if ref and name != reference:
                out[f"{name} vs {reference} (p50 speed-up)"] = ref["p50_ms"] / r["p50_ms"]
        fp32, int8 = self.results.get("ORT fp32"), self.results.get("ORT int8")
        if fp32 and int8:
            out["ORT int8 vs ORT fp32 (p50 speed-up)"] = fp32["p50_ms"] / int8["p50_ms"]
            if fp32.get("size_mb") and int8.get("size_mb"):
                out["int8 size reduction (fp32 / int8 file)"] = fp32["size_mb"] / int8["size_mb"]
        return out

    def as_dict(self) -> dict[str, Any]:
        """A JSON-friendly dict (without the raw latencies)."""
        return {"results": self.results, "ratios": self.ratios(), "machine": self.machine,
                "input_shape": list(self.input_shape), "runs": self.runs, "warmup": self.warmup}

    def table(self) -> Any:
        """The results as a pandas DataFrame, one row per backend."""
        import pandas as pd

        return pd.DataFrame(self.results).T

    def __str__(self) -> str:
        cols = ["p50_ms", "p95_ms", "p99_ms", "fps", "peak_rss_mb", "size_mb"]
        lines = [f"{'backend':<12}" + "".join(f"{c:>12}" for c in cols) + "  accuracy"]
        for name, r in self.results.items():
            acc = {k: round(v, 4) for k, v in r.items() if k.startswith(("acc_", "delta_"))}
            lines.append(f"{name:<12}" + "".join(f"{r.get(c, float('nan')):>12.2f}" for c in cols) + f"  {acc}")
        lines += [f"{k}: x{v:.2f}" for k, v in self.ratios().items()]
        m = self.machine
        lines.append(f"machine: {m.get('cpu', {}).get('model', '?')}, {m.get('threads')} threads, load "
                     f"{m.get('load_avg_1m', '?')}{' (loaded: trust the ratios)' if m.get('loaded') else ''}")
        return "\n".join(lines)


def benchmark(predictors: dict[str, Any] | list[Any], example: Any, *, runs: int = 50, warmup: int = 5,
              sizes_bytes: dict[str, int] | None = None, accuracy: dict[str, dict[str, float]] | None = None,
              clock: Callable[[], float] = time.perf_counter, progress: bool = True) -> BenchReport:
    """Time every predictor on ``example`` for ``warmup + runs`` interleaved rounds; return a report.

    ``sizes_bytes`` and ``accuracy`` (``{backend: {"dice": ...}}``) are added to the rows; the accuracy
    delta of each backend is taken against the first one.
    """
    if isinstance(predictors, (list, tuple)):
        predictors = {p.name: p for p in predictors}
    if not predictors:
        raise ConfigError("benchmark needs at least one predictor")
    if runs < 1 or warmup < 0:
        raise ConfigError(f"runs must be >= 1 and warmup >= 0, got runs={runs}, warmup={warmup}")
    from tqdm.auto import tqdm

    x = np.ascontiguousarray(np.asarray(example, dtype=np.float32))
    names = list(predictors)
    raw: dict[str, list[float]] = {n: [] for n in names}
    with _PeakRSS() as mem:
        for r in tqdm(range(warmup + runs), desc="benchmark (interleaved)", disable=not progress, leave=False):
            order = names[r % len(names):] + names[:r % len(names)]  # rotate: no backend always goes first
            for name in order:
                mem.current = name
                t0 = clock()
                predictors[name].predict(x)
                raw[name].append(1000.0 * (clock() - t0))
                mem.current = None
    results: dict[str, dict[str, float]] = {}
    first_acc = (accuracy or {}).get(names[0], {})
    for name in names:
        row = latency_summary(raw[name], warmup=warmup, batch=len(x))
        if name in mem.peak:
            row["peak_rss_mb"] = mem.peak[name] / 1e6
        if sizes_bytes and name in sizes_bytes:
            row["size_mb"] = sizes_bytes[name] / 1e6
        for k, v in (accuracy or {}).get(name, {}).items():
            row[f"acc_{k}"] = float(v)
            if k in first_acc:
                row[f"delta_{k}_pt"] = 100.0 * (float(v) - float(first_acc[k]))
        results[name] = row
    return BenchReport(results, machine_info(), tuple(x.shape), runs, warmup, raw)
