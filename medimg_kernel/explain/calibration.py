"""Calibration: does a predicted 0.9 come true 90 % of the time?

ECE/MCE/RMSCE through torchmetrics' ``CalibrationError`` (15 equal-width bins, Guo et al. 2017), the bin
table behind a reliability diagram, and temperature scaling fitted on held-out logits.
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


def _check(probs: Any, labels: Any) -> tuple[torch.Tensor, torch.Tensor]:
    p = torch.as_tensor(_arr(probs), dtype=torch.float32)
    y = torch.as_tensor(_arr(labels)).long().reshape(-1)
    if p.ndim == 2 and p.shape[1] == 1:
        p = p[:, 0]
    if p.shape[0] != y.shape[0]:
        raise ShapeMismatchError(f"{p.shape[0]} probabilities but {y.shape[0]} labels")
    if p.numel() and (p.min() < 0 or p.max() > 1):
        raise ConfigError("calibration needs probabilities in [0, 1]; convert logits with to_probabilities()")
    return p.contiguous(), y.contiguous()


def calibration_errors(probs: Any, labels: Any, n_bins: int = 15) -> dict[str, float]:
    """Expected (``ece``), maximum (``mce``) and RMS (``rmsce``) calibration error via torchmetrics.

    ``probs``: ``(N,)`` probabilities of the positive class (binary) or ``(N, K)`` class probabilities.
    """
    from torchmetrics.functional.classification import binary_calibration_error, multiclass_calibration_error

    p, y = _check(probs, labels)
    out = {}
    for key, norm in (("ece", "l1"), ("mce", "max"), ("rmsce", "l2")):
        if p.ndim == 1:
            v = binary_calibration_error(p, y, n_bins=n_bins, norm=norm)
        else:
            v = multiclass_calibration_error(p, y, num_classes=p.shape[1], n_bins=n_bins, norm=norm)
        out[key] = float(v)
    return out


def reliability_table(probs: Any, labels: Any, n_bins: int = 15) -> Any:
    """Per-bin confidence, accuracy and count (the data of a reliability diagram) as a DataFrame.

    Same convention as torchmetrics, so ``sum(count/N * |accuracy - confidence|)`` is its ECE: binary inputs
    bin the predicted probability of the positive class (``confidence``) against the observed share of
    positives (``accuracy``); multi-class inputs use the top-label confidence and accuracy.
    """
    import pandas as pd

    p, y = _check(probs, labels)
    if p.ndim == 1:
        conf, correct = p, y.float()
    else:
        conf, pred = p.max(1)
        correct = (pred == y).float()
    edges = np.linspace(0, 1, n_bins + 1)
    idx = np.clip(np.digitize(conf.numpy(), edges[1:-1], right=True), 0, n_bins - 1)
    rows = []
    for b in range(n_bins):
        sel = idx == b
        rows.append(
            {
                "bin_lower": edges[b],
                "bin_upper": edges[b + 1],
                "count": int(sel.sum()),
                "confidence": float(conf.numpy()[sel].mean()) if sel.any() else np.nan,
                "accuracy": float(correct.numpy()[sel].mean()) if sel.any() else np.nan,
            }
        )
    return pd.DataFrame(rows)


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
