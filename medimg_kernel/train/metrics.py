"""Epoch metrics for the Trainer: accuracy/AUC (torchmetrics) for classification, Dice and Hausdorff
(MONAI) for segmentation, MAE/RMSE for regression, and user callables for anything else."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import torch

from ..errors import ConfigError

__all__ = ["MetricSet", "DEFAULT_METRICS", "VALID_METRICS"]

DEFAULT_METRICS = {"classification": ["accuracy", "auc"], "segmentation": ["dice"],
                   "regression": ["mae"], "custom": []}
VALID_METRICS = {"classification": ["accuracy", "auc", "f1"], "segmentation": ["dice", "hausdorff"],
                 "regression": ["mae", "rmse"], "custom": []}


class MetricSet:
    """Accumulate model outputs over an epoch and compute the named metrics at the end."""

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
        self._outs.append(out.detach().float().cpu() if isinstance(out, torch.Tensor) else out)
        self._ys.append(y.detach().cpu() if isinstance(y, torch.Tensor) else y)

    def _update_seg(self, out: torch.Tensor, y: torch.Tensor) -> None:
        from monai.metrics import DiceMetric, HausdorffDistanceMetric
        from monai.networks.utils import one_hot

        c = out.shape[1]
        if c == 1:
            pred = (torch.sigmoid(out) > 0.5).float()
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
                res["dice"] = float(self._dice.aggregate().item())
            if self._hd is not None:
                res["hausdorff"] = float(self._hd.aggregate().item())
        outs = ys = None
        if self._outs and isinstance(self._outs[0], torch.Tensor):
            outs = torch.cat(self._outs)
            ys = torch.cat(self._ys) if isinstance(self._ys[0], torch.Tensor) else self._ys
        if self.task == "classification" and outs is not None:
            res.update(self._classification(outs, ys))
        elif self.task == "regression" and outs is not None:
            err = outs.reshape(-1) - ys.float().reshape(-1)
            if "mae" in self.names:
                res["mae"] = float(err.abs().mean())
            if "rmse" in self.names:
                res["rmse"] = float(err.pow(2).mean().sqrt())
        for name, fn in self.callables.items():
            value = fn(outs if outs is not None else self._outs, ys if ys is not None else self._ys)
            res[name] = float(value.item() if isinstance(value, torch.Tensor) else value)
        return res

    def _classification(self, outs: torch.Tensor, ys: torch.Tensor) -> dict[str, float]:
        from torchmetrics.functional import accuracy, auroc, f1_score

        y = ys.long().reshape(-1)
        res: dict[str, float] = {}
        if outs.ndim == 1 or outs.shape[1] == 1:
            prob = torch.sigmoid(outs.reshape(-1))
            kw: dict[str, Any] = {"task": "binary"}
            pred_in = prob
        else:
            prob = torch.softmax(outs, 1)
            kw = {"task": "multiclass", "num_classes": outs.shape[1]}
            pred_in = prob
        if "accuracy" in self.names:
            res["accuracy"] = float(accuracy(pred_in, y, **kw, **({"average": "micro"} if "num_classes" in kw else {})))
        if "f1" in self.names:
            res["f1"] = float(f1_score(pred_in, y, **kw, **({"average": "macro"} if "num_classes" in kw else {})))
        if "auc" in self.names:
            if y.unique().numel() < 2:
                res["auc"] = math.nan
            else:
                if kw["task"] == "binary" and outs.ndim == 2 and outs.shape[1] == 2:
                    pred_in = prob[:, 1]
                    kw = {"task": "binary"}
                res["auc"] = float(auroc(pred_in, y, **kw, **({"average": "macro"} if "num_classes" in kw else {})))
        return res
