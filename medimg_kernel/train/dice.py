"""Dice overlap of label maps, per class, with one stated convention for empty classes.

Convention: a class absent from both the prediction and the truth has no Dice (NaN, left out of means
with ``np.nanmean``); a class absent from the truth but predicted scores 0 (its voxels are all false
positives). MONAI's ``DiceMetric(ignore_empty=True)`` instead gives NaN whenever the truth is empty.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from ..errors import ShapeMismatchError

__all__ = ["dice_per_class"]


def _dice(p: np.ndarray, t: np.ndarray, axes: tuple[int, ...] | None) -> np.ndarray:
    inter = np.logical_and(p, t).sum(axis=axes, dtype=np.float64)
    total = p.sum(axis=axes, dtype=np.float64) + t.sum(axis=axes, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, 2.0 * inter / np.where(total > 0, total, 1.0), np.nan)


def dice_per_class(pred: Any, truth: Any, classes: Iterable[int] | None = None, *,
                   per_sample: bool = False) -> dict[int, float]:
    """Return ``{class: Dice}`` between two integer label maps of the same shape (NaN: class in neither).

    ``classes`` defaults to every non-zero label in either map. With ``per_sample=True`` the first axis
    holds samples: each sample's Dice is computed alone and the mean over samples (ignoring NaN) is returned.
    """
    p, t = np.asarray(pred), np.asarray(truth)
    if p.shape != t.shape:
        raise ShapeMismatchError(f"prediction shape {p.shape} and truth shape {t.shape} differ: pass label maps "
                                 "of the same grid (argmax the logits over the class axis first)")
    if p.dtype == bool:
        p = p.astype(np.uint8)
    if t.dtype == bool:
        t = t.astype(np.uint8)
    if classes is None:
        classes = sorted(int(c) for c in np.union1d(np.unique(p), np.unique(t)) if c != 0)
    axes = tuple(range(1, p.ndim)) if per_sample else None
    out: dict[int, float] = {}
    for c in classes:
        d = _dice(p == c, t == c, axes)
        if per_sample:
            d = np.nanmean(d) if np.isfinite(d).any() else np.nan
        out[int(c)] = float(d)
    return out
