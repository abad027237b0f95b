"""When does Dask pay? Speedup of N workers over a serial loop as a function of the task's size, measured here.

A task is :func:`feature_task`: radiomics-style features of a synthetic ball volume of side ``size``
(work grows as ``size**3``). :func:`speedup_curve` times the same batch of tasks serially in this
process and on the cluster, size after size (interleaved, so machine load hits both alike), and
:func:`break_even` finds the task duration where the speedup crosses 1.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["feature_task", "speedup_curve", "break_even", "plot_speedup"]


def feature_task(size: int, seed: int = 0) -> float:
    """One unit of work: features of a noisy ball in a ``size``³ volume; returns the mean intensity feature."""
    from .features import region_features

    rng = np.random.default_rng(seed)
    c = np.arange(size) - (size - 1) / 2  # broadcast x² + y² + z²: one size³ array, not a 3 × size³ grid
    ball = (c[:, None, None] ** 2 + c[None, :, None] ** 2 + c[None, None, :] ** 2 <= (0.35 * size) ** 2).astype(np.uint8)
    image = rng.normal(100, 10, ball.shape)
    return float(region_features(image, ball)[0]["mean"])


def speedup_curve(client: Any, sizes: Sequence[int] = (8, 16, 32, 48, 64), *, n_tasks: int = 8,
                  progress: bool = True) -> pd.DataFrame:
    """Serial vs cluster wall time of ``n_tasks`` tasks per size; one row per size with ``speedup``."""
    from tqdm.auto import tqdm

    nworkers = len(client.scheduler_info()["workers"])
    client.gather(client.map(feature_task, [8] * nworkers, list(range(nworkers)), pure=False))  # warm up
    feature_task(8)
    rows = []
    for size in tqdm(list(sizes), desc="speedup curve", unit="size", disable=not progress):
        t0 = time.perf_counter()
        serial = [feature_task(size, seed=i) for i in range(n_tasks)]
        t_serial = time.perf_counter() - t0
        t0 = time.perf_counter()
        parallel = client.gather(client.map(feature_task, [size] * n_tasks, list(range(n_tasks)), pure=False))
        t_parallel = time.perf_counter() - t0
        if serial != parallel:  # the same work, the same answer
            raise AssertionError(f"size {size}: the cluster's results differ from the serial ones")
        rows.append({"size": int(size), "task_s": t_serial / n_tasks, "serial_s": t_serial,
                     "parallel_s": t_parallel, "speedup": t_serial / t_parallel, "workers": nworkers})
    return pd.DataFrame(rows)


def break_even(curve: pd.DataFrame) -> float | None:
    """Task duration (s) where the speedup first reaches 1 (log-interpolated); None if it never does."""
    t, s = curve["task_s"].to_numpy(), curve["speedup"].to_numpy()
    order = np.argsort(t)
    t, s = t[order], s[order]
    if s[0] >= 1:
        return float(t[0])
    for i in range(1, len(t)):
        if s[i] >= 1 > s[i - 1]:
            w = (1 - s[i - 1]) / (s[i] - s[i - 1])
            return float(np.exp(np.log(t[i - 1]) + w * (np.log(t[i]) - np.log(t[i - 1]))))
    return None


def plot_speedup(curve: pd.DataFrame, ax: Any = None) -> Any:
    """Speedup against task duration (log x), with the ideal (number of workers) and 1 marked."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    ax.semilogx(curve["task_s"] * 1e3, curve["speedup"], "o-", label="measured")
    for x, y, sz in zip(curve["task_s"] * 1e3, curve["speedup"], curve["size"]):
        ax.annotate(f"{sz}³", (x, y), textcoords="offset points", xytext=(4, -10), fontsize=7)
    ax.axhline(int(curve["workers"].iloc[0]), ls="--", c="tab:green", label="ideal")
    ax.axhline(1, ls=":", c="tab:red", label="no gain")
    be = break_even(curve)
    if be is not None:
        ax.axvline(be * 1e3, c="gray", lw=0.8)
        ax.text(be * 1e3, ax.get_ylim()[1] * 0.95, f" break-even ≈ {be * 1e3:.0f} ms", fontsize=8, va="top")
    ax.set_xlabel("task duration, serial (ms)")
    ax.set_ylabel("speedup (serial / cluster)")
    ax.legend(fontsize=8, loc="lower right")
    ax.figure.tight_layout()
    return ax.figure
