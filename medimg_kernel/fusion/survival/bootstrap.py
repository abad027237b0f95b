"""Percentile bootstrap confidence intervals for any metric of paired arrays (e.g. a C-index)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .._errors import MetricUndefinedError

__all__ = ["BootstrapResult", "bootstrap_ci"]


@dataclass(frozen=True)
class BootstrapResult:
    """A point estimate with a ``(1 − alpha)`` percentile interval from ``n_valid`` resamples."""

    estimate: float
    low: float
    high: float
    alpha: float
    n_valid: int

    def __str__(self) -> str:
        return f"{self.estimate:.3f} [{self.low:.3f}, {self.high:.3f}]"


def bootstrap_ci(
    metric: Callable[..., float],
    *arrays: np.ndarray,
    n_boot: int = 200,
    alpha: float = 0.05,
    seed: int = 0,
    max_undefined: float = 0.2,
) -> BootstrapResult:
    """Estimate ``metric(*arrays)`` and its percentile CI by resampling subjects with replacement.

    Resamples on which the metric is undefined (:class:`MetricUndefinedError`, e.g. no events) are
    skipped; if more than ``max_undefined`` of them are, the interval itself is reported as undefined.
    """
    arrs = [np.asarray(a) for a in arrays]
    n = len(arrs[0])
    if any(len(a) != n for a in arrs):
        raise MetricUndefinedError(f"bootstrap arrays differ in length: {[len(a) for a in arrs]}")
    estimate = float(metric(*arrs))  # raises if undefined on the full data
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(n_boot):
        idx = rng.integers(0, n, n)
        try:
            values.append(float(metric(*(a[idx] for a in arrs))))
        except MetricUndefinedError:
            continue
    if len(values) < (1 - max_undefined) * n_boot or len(values) < 2:
        raise MetricUndefinedError(
            f"the metric was undefined on {n_boot - len(values)} of {n_boot} bootstrap resamples: the cohort "
            "is too small or has too few events for a confidence interval"
        )
    low, high = np.quantile(values, [alpha / 2, 1 - alpha / 2])
    return BootstrapResult(estimate, float(low), float(high), alpha, len(values))
