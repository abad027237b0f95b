"""Accuracy of a deployed model on held-out data, and its change after export or quantisation.

The deployed model is not the trained model: ONNX graphs fuse ops and int8 rounds every activation, so
the same held-out set is scored again with the runtime that will run in the clinic. Segmentation is scored
with the mean foreground Dice, classification with accuracy and AUC (one-vs-rest for several classes).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import ConfigError, ShapeMismatchError

__all__ = ["predict_batches", "evaluate", "accuracy_delta", "dice_score", "TASKS"]

TASKS = ("segmentation", "classification")


def predict_batches(predictor: Any, images: Any, *, batch_size: int = 8) -> np.ndarray:
    """Run ``predictor.predict`` over ``images`` in batches and stack the outputs."""
    x = np.asarray(images, dtype=np.float32)
    outs = [predictor.predict(x[i:i + batch_size]) for i in range(0, len(x), max(1, int(batch_size)))]
    return np.concatenate(outs) if outs else np.zeros((0,), np.float32)


def dice_score(pred: Any, truth: Any, n_classes: int) -> float:
    """Mean Dice over the foreground classes ``1..n_classes-1`` of two integer label arrays."""
    p, t = np.asarray(pred), np.asarray(truth)
    if p.shape != t.shape:
        raise ShapeMismatchError(f"prediction {p.shape} and truth {t.shape} differ in shape")
    scores = []
    for c in range(1, max(2, int(n_classes))):
        pc, tc = p == c, t == c
        denom = pc.sum() + tc.sum()
        scores.append(1.0 if denom == 0 else 2.0 * float((pc & tc).sum()) / float(denom))
    return float(np.mean(scores))


def evaluate(predictor: Any, images: Any, targets: Any, *, task: str = "segmentation",
             batch_size: int = 8) -> dict[str, float]:
    """Score ``predictor`` on held-out ``images``/``targets``: ``{"dice"}`` or ``{"accuracy", "auc"}``."""
    if task not in TASKS:
        raise ConfigError(f"unknown task {task!r}: choose one of {', '.join(TASKS)}")
    logits = predict_batches(predictor, images, batch_size=batch_size)
    y = np.asarray(targets)
    if task == "segmentation":
        truth = y[:, 0] if y.ndim == logits.ndim else y
        return {"dice": dice_score(logits.argmax(1), truth, logits.shape[1])}
    from sklearn.metrics import roc_auc_score

    y = y.reshape(-1).astype(np.int64)
    if len(y) != len(logits):
        raise ShapeMismatchError(f"{len(logits)} predictions but {len(y)} labels")
    z = logits - logits.max(1, keepdims=True)
    prob = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    out = {"accuracy": float((logits.argmax(1) == y).mean())}
    if len(np.unique(y)) > 1:
        out["auc"] = float(roc_auc_score(y, prob[:, 1]) if prob.shape[1] == 2 else
                           roc_auc_score(y, prob, multi_class="ovr", labels=list(range(prob.shape[1]))))
    return out


def accuracy_delta(reference: dict[str, float], other: dict[str, float]) -> dict[str, float]:
    """``other - reference`` for every metric both have, in points (x100), e.g. ``{"dice_pt": -0.1}``."""
    return {f"{k}_pt": 100.0 * (other[k] - reference[k]) for k in reference if k in other}
