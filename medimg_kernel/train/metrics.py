"""Epoch metrics for the Trainer: accuracy/AUC (torchmetrics) for classification, Dice and Hausdorff
(MONAI) for segmentation, MAE/RMSE for regression, and user callables for anything else."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch

from ..errors import ConfigError

__all__ = ["MetricSet", "DEFAULT_METRICS", "VALID_METRICS", "binary_auc"]

DEFAULT_METRICS = {"classification": ["accuracy", "auc"], "segmentation": ["dice"],
                   "regression": ["mae"], "custom": []}
VALID_METRICS = {"classification": ["accuracy", "auc", "f1"], "segmentation": ["dice", "hausdorff"],
                 "regression": ["mae", "rmse"], "custom": []}


class MetricSet:
    """Accumulate model outputs over an epoch and compute the named metrics at the end.

    Classification: see :meth:`_classification` for the AUC/F1 conventions (scikit-learn's). Segmentation:
    MONAI's ``DiceMetric`` on argmax (or ``logit > 0``) masks, background excluded unless
    ``include_background``; an (image, class) whose ground truth is empty is left out of the mean
    (``ignore_empty=True``); the epoch value is MONAI's mean over images of the mean over their valid
    classes, and NaN (where MONAI's ``aggregate`` reports 0) when every one is empty. Hausdorff: MONAI's
    95th percentile distance, same averaging.
    """

    def __init__(self, task: str, metrics: Any = None, *, num_classes: int | None = None,
                 include_background: bool = False) -> None:
        self.task = task
        self.num_classes = num_classes
        self.include_background = include_background
        self.callables: dict[str, Callable[..., Any]] = {}
        names: list[str]
        if metrics is None:
            names = list(DEFAULT_METRICS[task])
        elif isinstance(metrics, Mapping):
            names = []
            for k, v in metrics.items():
                if callable(v):
                    self.callables[k] = v
                else:
                    names.append(k)
        elif isinstance(metrics, str):
            names = [metrics]
        else:
            names = []
            for m in metrics:
                if callable(m):
                    self.callables[getattr(m, "__name__", f"metric{len(self.callables)}")] = m
                else:
                    names.append(m)
        bad = [n for n in names if n not in VALID_METRICS[task]]
        if bad:
            raise ConfigError(f"metric(s) {bad} not available for task {task!r}: choose from "
                              f"{VALID_METRICS[task] or 'none (pass callables f(outputs, targets) -> float)'}")
        self.names = names
        self.reset()

    def reset(self) -> None:
        """Forget the accumulated outputs."""
        self._outs: list[torch.Tensor] = []
        self._ys: list[Any] = []
        self._dice = None
        self._hd = None

    def update(self, out: Any, y: Any) -> None:
        """Add one batch of outputs and targets."""
        if self.task == "segmentation" and isinstance(out, torch.Tensor):
            self._update_seg(out.detach().float(), y)
            if not self.callables:
                return
        if isinstance(out, torch.Tensor):  # half/bf16 up to float32; float64 stays float64
            out = out.detach().cpu().to(torch.promote_types(out.dtype, torch.float32))
        self._outs.append(out)
        self._ys.append(y.detach().cpu() if isinstance(y, torch.Tensor) else y)

    def _update_seg(self, out: torch.Tensor, y: torch.Tensor) -> None:
        from monai.metrics import DiceMetric, HausdorffDistanceMetric
        from monai.networks.utils import one_hot

        c = out.shape[1]
        if c == 1:
            pred = (out > 0).float()  # sigmoid(out) > 0.5, without float32 rounding
            pred = torch.cat([1 - pred, pred], 1)
            c = 2
        else:
            pred = one_hot(out.argmax(1, keepdim=True), c)
        yy = y if y.shape[1] == c else one_hot(y.long(), c)
        if self._dice is None:
            self._dice = DiceMetric(include_background=self.include_background, reduction="mean",
                                    ignore_empty=True)
            if "hausdorff" in self.names:
                self._hd = HausdorffDistanceMetric(include_background=self.include_background, percentile=95)
        self._dice(pred, yy)
        if self._hd is not None:
            self._hd(pred, yy)

    def compute(self) -> dict[str, float]:
        """Return ``{name: value}`` over everything added since :meth:`reset`."""
        res: dict[str, float] = {}
        if self.task == "segmentation":
            if self._dice is not None and "dice" in self.names:
                res["dice"] = _aggregate(self._dice)
            if self._hd is not None:
                res["hausdorff"] = _aggregate(self._hd)
        outs = ys = None
        if self._outs and isinstance(self._outs[0], torch.Tensor):
            outs = torch.cat(self._outs)
            ys = torch.cat(self._ys) if isinstance(self._ys[0], torch.Tensor) else self._ys
        if self.task == "classification" and outs is not None:
            res.update(self._classification(outs, ys))
        elif self.task == "regression" and outs is not None:
            err = outs.double().reshape(-1) - ys.double().reshape(-1)
            if "mae" in self.names:
                res["mae"] = float(err.abs().mean())
            if "rmse" in self.names:
                res["rmse"] = float(err.pow(2).mean().sqrt())
        for name, fn in self.callables.items():
            value = fn(outs if outs is not None else self._outs, ys if ys is not None else self._ys)
            res[name] = float(value.item() if isinstance(value, torch.Tensor) else value)
        return res

    def _classification(self, outs: torch.Tensor, ys: torch.Tensor) -> dict[str, float]:
        """Accuracy/F1 (torchmetrics) on float64 decisions and a rank-exact one-vs-rest AUC.

        Conventions, as scikit-learn's: binary decisions are ``logit > 0`` (probability > 0.5); macro F1
        averages over the classes present in the labels or the predictions; the macro AUC averages over
        the classes whose one-vs-rest AUC is defined (present in the labels and not all of them), so an
        absent class is skipped rather than counted as 0 (torchmetrics' ``auroc`` counts it as 0). AUC
        is computed on float64 log-probabilities, which keep very confident outputs apart where a float32
        sigmoid would tie them at 1.0; NaN when no class has a defined AUC.
        """
        from torchmetrics.functional import accuracy, f1_score

        y = ys.long().reshape(-1)
        z = outs.double()
        res: dict[str, float] = {}
        binary = z.ndim == 1 or z.shape[1] == 1
        if binary:
            z = z.reshape(-1)
            pred = (z > 0).long()
            kw: dict[str, Any] = {"task": "binary"}
        else:
            pred = z.argmax(1)
            kw = {"task": "multiclass", "num_classes": z.shape[1]}
        if "accuracy" in self.names:
            res["accuracy"] = float(accuracy(pred, y, **kw, **({"average": "micro"} if not binary else {})))
        if "f1" in self.names:
            res["f1"] = float(f1_score(pred, y, **kw, **({"average": "macro"} if not binary else {})))
        if "auc" in self.names:
            if binary:
                res["auc"] = binary_auc(y.numpy(), z.numpy())
            else:
                logp = torch.log_softmax(z, 1).numpy()
                aucs = [binary_auc((y == k).numpy(), logp[:, k]) for k in range(z.shape[1])]
                defined = [a for a in aucs if not math.isnan(a)]
                res["auc"] = float(np.mean(defined)) if defined else math.nan
        return res


def _aggregate(metric: Any) -> float:
    """MONAI's mean (over images of the mean over valid classes), but NaN, not MONAI's 0, when none is valid."""
    if bool(torch.isnan(metric.get_buffer()).all()):
        return math.nan
    return float(metric.aggregate().item())


def binary_auc(labels: Any, scores: Any) -> float:
    """ROC AUC of ``scores`` for boolean/0-1 ``labels`` (Mann-Whitney, ties count 1/2); NaN with one class.

    Scores may be logits, log-probabilities or probabilities: the AUC depends only on their order.
    """
    from scipy.stats import rankdata

    lab = np.asarray(labels).astype(bool).reshape(-1)
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    n_pos = int(lab.sum())
    n_neg = lab.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return math.nan
    ranks = rankdata(s)
    return float((ranks[lab].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))
