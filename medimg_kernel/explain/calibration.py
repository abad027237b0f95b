"""Calibration: does a predicted 0.9 come true 90 % of the time?

ECE/MCE/RMSCE over 15 equal-width bins (Guo et al. 2017) in float64, computed from the same bin table
that draws a reliability diagram and checked against torchmetrics' ``CalibrationError``; temperature and
Platt scaling fitted on held-out logits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..errors import ConfigError, ShapeMismatchError

__all__ = [
    "to_probabilities",
    "calibration_errors",
    "reliability_table",
    "TemperatureScaler",
    "PlattScaler",
    "fit_temperature",
]


def _arr(a: Any) -> np.ndarray:
    if isinstance(a, torch.Tensor):
        return a.detach().cpu().numpy()
    return np.asarray(a)


def to_probabilities(logits: Any, temperature: float = 1.0) -> np.ndarray:
    """Logits -> probabilities: sigmoid for ``(N,)``/``(N, 1)``, softmax for ``(N, K)``, after dividing by T."""
    z = torch.as_tensor(_arr(logits), dtype=torch.float64) / float(temperature)
    if z.ndim == 1 or (z.ndim == 2 and z.shape[1] == 1):
        return torch.sigmoid(z.reshape(-1)).numpy()
    return z.softmax(1).numpy()


def _check(probs: Any, labels: Any) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(_arr(probs), dtype=np.float64)
    y = np.asarray(_arr(labels)).astype(np.int64).reshape(-1)
    if p.ndim == 2 and p.shape[1] == 1:
        p = p[:, 0]
    if p.shape[0] != y.shape[0]:
        raise ShapeMismatchError(f"{p.shape[0]} probabilities but {y.shape[0]} labels")
    if p.size and not (np.isfinite(p).all() and p.min() >= 0 and p.max() <= 1):
        raise ConfigError("calibration needs probabilities in [0, 1]; convert logits with to_probabilities()")
    return p, y


def _confidence(p: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(confidence, outcome) pairs: positive-class probability vs label, or top-label probability vs hit."""
    if p.ndim == 1:
        return p, (y == 1).astype(np.float64)
    return p.max(1), (p.argmax(1) == y).astype(np.float64)


def _bin_index(conf: np.ndarray, n_bins: int) -> np.ndarray:
    """Bin ``k`` holds ``k/n <= p < (k+1)/n`` (the last one also ``p = 1``), with the edges ``k/n`` exact in float64."""
    if not isinstance(n_bins, (int, np.integer)) or n_bins < 1:
        raise ConfigError(f"n_bins must be a positive integer, got {n_bins!r}")
    edges = np.arange(n_bins + 1, dtype=np.float64) / n_bins  # k / n correctly rounded: 3/10 is 0.3
    return np.clip(np.searchsorted(edges, conf, side="right") - 1, 0, n_bins - 1)


def reliability_table(probs: Any, labels: Any, n_bins: int = 15) -> Any:
    """Per-bin confidence, accuracy and count (the data of a reliability diagram) as a DataFrame.

    Binary inputs bin the predicted probability of the positive class (``confidence``) against the observed
    share of positives (``accuracy``); multi-class inputs use the top-label confidence and accuracy, as
    torchmetrics does. :func:`calibration_errors` is computed from this table, so
    ``sum(count/N * |accuracy - confidence|)`` is its ECE.

    Bins (the kit's convention): bin ``k`` is ``[k/n, (k+1)/n)`` with edges computed exactly in float64, and
    the last bin is closed (``p = 1`` belongs to it, as in scikit-learn's ``calibration_curve``). This
    differs from torchmetrics' ``CalibrationError`` in two places only: torchmetrics puts probabilities of
    exactly 1 into an extra bin of their own, and its ``linspace`` edges are off by one rounding unit at a
    few edges (e.g. 0.30000000000000004 for 10 bins), which moves a probability of exactly 0.3 a bin down.
    """
    import pandas as pd

    p, y = _check(probs, labels)
    conf, correct = _confidence(p, y)
    idx = _bin_index(conf, n_bins)
    count = np.bincount(idx, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.bincount(idx, weights=conf, minlength=n_bins) / count
        mean_acc = np.bincount(idx, weights=correct, minlength=n_bins) / count
    edges = np.arange(n_bins + 1, dtype=np.float64) / n_bins
    return pd.DataFrame(
        {
            "bin_lower": edges[:-1],
            "bin_upper": edges[1:],
            "count": count.astype(int),
            "confidence": mean_conf,
            "accuracy": mean_acc,
        }
    )


def calibration_errors(probs: Any, labels: Any, n_bins: int = 15) -> dict[str, float]:
    """Expected (``ece``), maximum (``mce``) and RMS (``rmsce``) calibration error, in float64.

    ``probs``: ``(N,)`` probabilities of the positive class (binary) or ``(N, K)`` class probabilities
    (top-label calibration). Equal-width bins as in :func:`reliability_table` (whose table this sums); the
    values equal torchmetrics' ``CalibrationError`` (``norm`` ``l1``, ``max``, ``l2``) except for that
    function's binning of probabilities exactly equal to 1 and to a few mis-rounded edges (see there).
    NaN for empty input.
    """
    table = reliability_table(probs, labels, n_bins)
    ok = table["count"].to_numpy() > 0
    if not ok.any():
        return {"ece": float("nan"), "mce": float("nan"), "rmsce": float("nan")}
    w = table["count"].to_numpy()[ok] / table["count"].to_numpy().sum()
    gap = np.abs(table["accuracy"].to_numpy()[ok] - table["confidence"].to_numpy()[ok])
    return {
        "ece": float((w * gap).sum()),
        "mce": float(gap.max()),
        "rmsce": float(np.sqrt((w * gap**2).sum())),
    }


@dataclass
class TemperatureScaler:
    """Temperature scaling (Guo et al. 2017): one scalar ``T`` dividing the logits, fitted by NLL."""

    temperature: float = 1.0

    def fit(self, logits: Any, labels: Any, max_iter: int = 200) -> TemperatureScaler:
        """Fit ``T`` on held-out (validation) logits and labels with L-BFGS on log T; returns self."""
        z = torch.as_tensor(_arr(logits), dtype=torch.float64)
        y = torch.as_tensor(_arr(labels)).long().reshape(-1)
        binary = z.ndim == 1 or (z.ndim == 2 and z.shape[1] == 1)
        if binary:
            z = z.reshape(-1)
        if z.shape[0] != y.shape[0]:
            raise ShapeMismatchError(f"{z.shape[0]} logits but {y.shape[0]} labels")
        log_t = torch.zeros((), dtype=torch.float64, requires_grad=True)
        opt = torch.optim.LBFGS([log_t], lr=0.1, max_iter=max_iter, line_search_fn="strong_wolfe")

        def closure() -> torch.Tensor:
            opt.zero_grad()
            s = z / log_t.exp()
            if binary:
                loss = torch.nn.functional.binary_cross_entropy_with_logits(s, y.double())
            else:
                loss = torch.nn.functional.cross_entropy(s, y)
            loss.backward()
            return loss

        opt.step(closure)
        self.temperature = float(log_t.detach().exp())
        return self

    def transform(self, logits: Any) -> np.ndarray:
        """Calibrated probabilities of ``logits``."""
        return to_probabilities(logits, self.temperature)


def fit_temperature(logits: Any, labels: Any) -> float:
    """Return the temperature that minimises the NLL of ``logits`` on ``labels``."""
    return TemperatureScaler().fit(logits, labels).temperature


def _binary_logit(logits: Any) -> torch.Tensor:
    z = torch.as_tensor(_arr(logits), dtype=torch.float64)
    if z.ndim == 2 and z.shape[1] == 2:
        return z[:, 1] - z[:, 0]  # softmax over two logits = sigmoid of their difference
    if z.ndim == 1 or (z.ndim == 2 and z.shape[1] == 1):
        return z.reshape(-1)
    raise ShapeMismatchError(
        f"Platt scaling is binary: expected (N,), (N, 1) or (N, 2) logits, got {tuple(z.shape)}"
    )


@dataclass
class PlattScaler:
    """Platt scaling for binary models: ``p = sigmoid(a * logit + b)``, fitted by NLL on held-out data.

    Temperature scaling only rescales (``a = 1/T``, ``b = 0``), so it cannot correct a model whose
    probabilities are *shifted* (systematically too low or too high); the bias ``b`` can.
    """

    a: float = 1.0
    b: float = 0.0

    def fit(self, logits: Any, labels: Any, max_iter: int = 200) -> PlattScaler:
        """Fit ``a`` and ``b`` on validation logits (``(N,)``, ``(N, 1)`` or two-class ``(N, 2)``); returns self."""
        z = _binary_logit(logits)
        y = torch.as_tensor(_arr(labels)).double().reshape(-1)
        if z.shape[0] != y.shape[0]:
            raise ShapeMismatchError(f"{z.shape[0]} logits but {y.shape[0]} labels")
        ab = torch.tensor([1.0, 0.0], dtype=torch.float64, requires_grad=True)
        opt = torch.optim.LBFGS([ab], lr=0.1, max_iter=max_iter, line_search_fn="strong_wolfe")

        def closure() -> torch.Tensor:
            opt.zero_grad()
            loss = torch.nn.functional.binary_cross_entropy_with_logits(ab[0] * z + ab[1], y)
            loss.backward()
            return loss

        opt.step(closure)
        self.a, self.b = (float(v) for v in ab.detach())
        return self

    def transform(self, logits: Any) -> np.ndarray:
        """Calibrated probability of the positive class, shape ``(N,)``."""
        return torch.sigmoid(self.a * _binary_logit(logits) + self.b).numpy()
