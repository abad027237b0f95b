"""``mk.compare(image, prediction, truth)``: linked views for error inspection.

One light-viewer widget with three rows sharing a single crosshair (slices move together, client-side):
the prediction, the ground truth, and the error map (false positives red, false negatives blue, wrong
class yellow). The per-class Dice and error counts are written above the views and kept in ``.summary``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import ShapeMismatchError
from .scene import LabelLayer, label_dtype, prepare_scene
from .view import View

__all__ = ["compare", "error_map", "ERROR_COLORS"]

#: error-map value -> (meaning, RGB)
ERROR_COLORS = {
    1: ("false positive", (255, 40, 40)),
    2: ("false negative", (40, 120, 255)),
    3: ("wrong class", (255, 220, 0)),
}


def error_map(prediction: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """uint8 map: 0 agree, 1 false positive, 2 false negative, 3 both foreground but different classes."""
    if prediction.shape != truth.shape:
        raise ShapeMismatchError(f"prediction {prediction.shape} and truth {truth.shape} differ in shape")
    out = np.zeros(prediction.shape, dtype=np.uint8)
    out[(prediction > 0) & (truth == 0)] = 1
    out[(prediction == 0) & (truth > 0)] = 2
    out[(prediction > 0) & (truth > 0) & (prediction != truth)] = 3
    return out


def _summary(prediction: np.ndarray, truth: np.ndarray, errors: np.ndarray) -> dict[str, Any]:
    classes = sorted((set(np.unique(prediction).tolist()) | set(np.unique(truth).tolist())) - {0})
    dice = {}
    for c in classes:
        p, t = prediction == c, truth == c
        denom = int(p.sum()) + int(t.sum())
        dice[int(c)] = 2.0 * int((p & t).sum()) / denom if denom else 1.0
    return {
        "dice": dice,
        "false_positive_voxels": int((errors == 1).sum()),
        "false_negative_voxels": int((errors == 2).sum()),
        "wrong_class_voxels": int((errors == 3).sum()),
    }


def compare(
    image: Any,
    prediction: Any,
    truth: Any,
    *,
    height: int = 260,
    window: Any = None,
    label_opacity: float = 0.5,
    **options: Any,
) -> View:
    """Show ``prediction`` and ``truth`` label maps over ``image`` with an error map, crosshair linked.

    Accepts the inputs of :func:`medimg_kernel.view` (arrays, tensors, images, paths); ``prediction`` and
    ``truth`` are resampled onto the image grid when they carry their own geometry. ``height`` is per row.
    Returns a :class:`~medimg_kernel.viz.view.View` (light viewer); ``.summary`` holds Dice per class and
    error counts.
    """
    scene = prepare_scene(image, [prediction, truth], window=window, label_opacity=label_opacity, **options)
    pred, true = scene.labels[0].data, scene.labels[1].data
    scene.labels[0].name, scene.labels[1].name = "prediction", "truth"
    errors = error_map(pred, true)
    top = max(scene.labels[0].n_labels, scene.labels[1].n_labels)
    for lay in scene.labels:
        if lay.n_labels < top:  # same colour for a class in both maps
            lay.n_labels = top
            lay.data = lay.data.astype(label_dtype(top))
    err_layer = LabelLayer(
        errors,
        "errors",
        max(label_opacity, 0.7),
        n_labels=3,
        colors={k: rgb for k, (_, rgb) in ERROR_COLORS.items()},
    )
    scene.labels.append(err_layer)
    summary = _summary(pred, true, errors)
    dice = ", ".join(f"class {c}: {d:.3f}" for c, d in summary["dice"].items()) or "no foreground"
    note = (
        f"Dice {dice} | false positives (red) {summary['false_positive_voxels']} voxels, "
        f"false negatives (blue) {summary['false_negative_voxels']}, wrong class (yellow) "
        f"{summary['wrong_class_voxels']}"
    )
    rows = [
        {"title": "prediction", "labels": [0], "heat": False, "mods": False},
        {"title": "truth", "labels": [1], "heat": False, "mods": False},
        {"title": "errors", "labels": [2], "heat": False, "mods": False},
    ]
    v = View(
        scene,
        backend="light",
        render="multiplanar",
        height=height,
        options={},
        auto=False,
        note=note,
        rows=rows,
    )
    v.summary = summary
    return v
