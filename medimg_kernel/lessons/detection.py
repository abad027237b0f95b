"""Centre-point lesion detection without torchvision: target heat maps, peak finding, matching and FROC.

A detector that predicts a heat map (one bright blob per lesion centre) turns into a list of scored
points by :func:`find_peaks`; :func:`match_detections` decides which points hit a true lesion, and
:func:`froc` sweeps the score threshold to give sensitivity against false positives per image, the curve
lesion-detection challenges (LUNA16, DeepLesion) report. Works for 2D images and 3D volumes alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError, ShapeMismatchError

__all__ = [
    "centre_heatmaps",
    "heatmap_focal_loss",
    "find_peaks",
    "match_detections",
    "froc",
    "FROC",
    "LUNA16_FP_RATES",
    "lesion_slices",
    "boxes_from_circles",
    "box_targets",
    "centernet_loss",
    "decode_boxes",
    "box_average_precision",
]

#: false positives per image at which LUNA16's competition performance metric (CPM) averages sensitivity
LUNA16_FP_RATES: tuple[float, ...] = (0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)


def centre_heatmaps(
    centres: Sequence[np.ndarray], shape: Sequence[int], sigma: float | Sequence[np.ndarray] = 2.0
) -> np.ndarray:
    """Draw one Gaussian blob (peak 1) per lesion centre: the training target of a centre-point detector.

    Parameters
    ----------
    centres
        One ``(k, ndim)`` array of voxel coordinates per image (``k`` may be 0).
    shape
        Spatial shape of each image, e.g. ``(64, 64)`` or ``(32, 32, 32)``.
    sigma
        Blob width in pixels: one number, or one ``(k,)`` array per image (e.g. a fraction of each radius).

    Returns
    -------
    float32 ndarray (N, 1, *shape)
        The pixel-wise maximum of the blobs, in [0, 1]. Each blob is centred on the pixel nearest to its
        centre, so every lesion has exactly one pixel equal to 1 (the positive of :func:`heatmap_focal_loss`).
    """
    shape = tuple(int(s) for s in shape)
    grids = np.meshgrid(*[np.arange(s, dtype=np.float32) for s in shape], indexing="ij")
    out = np.zeros((len(centres), 1, *shape), dtype=np.float32)
    for i, c in enumerate(centres):
        c = np.clip(np.rint(np.asarray(c, dtype=np.float32).reshape(-1, len(shape))), 0, np.array(shape) - 1)
        sig = np.broadcast_to(
            np.asarray(sigma if np.isscalar(sigma) else sigma[i], dtype=np.float32), (len(c),)
        )
        for j in range(len(c)):
            d2 = sum((g - c[j, a]) ** 2 for a, g in enumerate(grids))
            np.maximum(out[i, 0], np.exp(-d2 / (2.0 * float(sig[j]) ** 2)), out=out[i, 0])
    return out


def heatmap_focal_loss(logits: object, target: object, *, alpha: float = 2.0, beta: float = 4.0) -> object:
    """CenterNet's penalty-reduced focal loss between predicted heat-map logits and Gaussian targets.

    Pixels where the target is 1 (lesion centres) are positives; every other pixel is a negative whose
    penalty shrinks by ``(1 - target) ** beta`` near a centre, so a peak one pixel off is hardly punished.
    ``alpha`` focuses the loss on pixels that are still wrong. The sum is divided by the number of centres
    (at least 1). Both inputs are torch tensors of the same shape (N, 1, *spatial).
    """
    import torch

    if logits.shape != target.shape:
        raise ShapeMismatchError(
            f"heat-map logits {tuple(logits.shape)} and targets {tuple(target.shape)} differ"
        )
    target = target.float()
    logits = logits.float()
    p = torch.sigmoid(logits)
    log_p = torch.nn.functional.logsigmoid(logits)
    log_1p = torch.nn.functional.logsigmoid(-logits)
    pos = target.ge(0.999).float()
    pos_loss = -((1 - p) ** alpha) * log_p * pos
    neg_loss = -((1 - target) ** beta) * (p**alpha) * log_1p * (1 - pos)
    return (pos_loss.sum() + neg_loss.sum()) / pos.sum().clamp(min=1.0)


def find_peaks(
    heatmap: np.ndarray, *, threshold: float = 0.1, min_distance: int = 3, max_peaks: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Return the local maxima of a 2D/3D heat map above ``threshold`` as (coordinates, scores).

    A pixel is a peak when it equals the maximum of its ``(2 * min_distance + 1)``-wide neighbourhood;
    plateaus keep one pixel. Peaks come sorted by decreasing score, at most ``max_peaks`` of them.

    Returns
    -------
    coords : float32 ndarray (k, ndim)
        Peak positions (voxel indices).
    scores : float32 ndarray (k,)
        Heat-map values at the peaks.
    """
    from scipy import ndimage

    h = np.asarray(heatmap, dtype=np.float32)
    h = np.squeeze(h) if h.ndim > 3 or (h.ndim == 3 and h.shape[0] == 1) else h
    if h.ndim not in (2, 3):
        raise ShapeMismatchError(
            f"find_peaks needs a 2D or 3D heat map (optionally with one channel); got {heatmap.shape}"
        )
    if min_distance < 1:
        raise ConfigError(f"min_distance must be >= 1 pixel, got {min_distance}")
    local_max = ndimage.maximum_filter(h, size=2 * min_distance + 1, mode="constant", cval=-np.inf)
    peak = (h == local_max) & (h > threshold)
    # a plateau gives several equal maxima: keep one per connected plateau
    lab, n = ndimage.label(peak)
    if n == 0:
        return np.zeros((0, h.ndim), np.float32), np.zeros(0, np.float32)
    coords = np.array(ndimage.center_of_mass(peak, lab, range(1, n + 1)), dtype=np.float32).reshape(n, h.ndim)
    idx = np.clip(np.rint(coords).astype(int), 0, np.array(h.shape) - 1)
    scores = h[tuple(idx.T)].astype(np.float32)
    order = np.argsort(-scores, kind="stable")
    if max_peaks is not None:
        order = order[: int(max_peaks)]
    return coords[order], scores[order]


def match_detections(
    coords: np.ndarray, scores: np.ndarray, centres: np.ndarray, hit_distance: float | np.ndarray
) -> tuple[np.ndarray, int]:
    """Label each detection of one image as a true positive (hits an unmatched lesion) or not.

    Detections are taken in decreasing score; each lesion is matched at most once, to the nearest
    detection within ``hit_distance`` (one number, or one per lesion, e.g. its radius). A second
    detection of an already-found lesion counts as a false positive (the kit's convention; MONAI's
    CAMELYON-style ``compute_fp_tp_probs`` ignores detections inside an already-hit lesion instead).

    Returns
    -------
    is_tp : bool ndarray (k,)
        In the order of ``coords``.
    n_lesions : int
        Number of true lesions in the image.
    """
    coords = np.asarray(coords, dtype=np.float32)
    centres = np.asarray(centres, dtype=np.float32)
    ndim = coords.shape[-1] if coords.ndim == 2 else centres.shape[-1] if centres.ndim == 2 else 2
    coords, centres = coords.reshape(-1, ndim), centres.reshape(-1, ndim)
    if len(coords) != len(scores):
        raise ShapeMismatchError(f"{len(coords)} detection coordinates but {len(scores)} scores")
    reach = np.broadcast_to(np.asarray(hit_distance, dtype=np.float32), (len(centres),))
    is_tp = np.zeros(len(scores), dtype=bool)
    free = np.ones(len(centres), dtype=bool)
    for i in np.argsort(-np.asarray(scores), kind="stable"):
        if not free.any():
            break
        d = np.sqrt(((centres - coords[i]) ** 2).sum(axis=1))
        d[~free | (d > reach)] = np.inf
        j = int(np.argmin(d))
        if np.isfinite(d[j]):
            is_tp[i] = True
            free[j] = False
    return is_tp, len(centres)


@dataclass
class FROC:
    """A free-response ROC curve: sensitivity against mean false positives per image.

    ``thresholds`` are the detection scores in decreasing order; point ``i`` keeps the detections
    with score ≥ ``thresholds[i]``.
    """

    fps_per_image: np.ndarray
    sensitivity: np.ndarray
    thresholds: np.ndarray
    n_images: int
    n_lesions: int

    def sensitivity_at(self, fp_per_image: float) -> float:
        """Highest sensitivity reached with at most ``fp_per_image`` false positives per image.

        The kit's convention is the step curve (an operating point that exists), not a linear interpolation
        between points as in MONAI's ``compute_froc_score`` and the LUNA16 script, which can only be higher.
        """
        ok = self.fps_per_image <= fp_per_image + 1e-12
        return float(self.sensitivity[ok].max()) if ok.any() else 0.0

    def cpm(self, rates: Sequence[float] = LUNA16_FP_RATES) -> float:
        """Competition performance metric: mean sensitivity at the given FP/image rates (LUNA16's seven).

        Uses :meth:`sensitivity_at` (step curve, no interpolation), so it is at most the interpolated
        value MONAI's ``compute_froc_score`` reports on the same curve.
        """
        return float(np.mean([self.sensitivity_at(r) for r in rates]))

    def average_precision(self) -> float:
        """Area under the precision-recall curve of the same matched detections (all-point interpolation).

        Precision at each threshold is hits / detections kept; the envelope (the best precision at any
        higher recall) is integrated over recall, as in PASCAL VOC 2010+ and COCO's per-threshold AP. With
        point detections "a hit" is the kit's centre-distance match, not a box IoU.
        """
        if self.n_lesions == 0 or len(self.sensitivity) < 2:
            return 0.0
        hits = self.sensitivity[1:] * self.n_lesions
        false = self.fps_per_image[1:] * self.n_images
        precision = hits / np.maximum(hits + false, 1e-12)
        recall = self.sensitivity[1:]
        envelope = np.maximum.accumulate(precision[::-1])[::-1]
        steps = np.diff(np.r_[0.0, recall])
        return float(np.sum(steps * envelope))

    def plot(self, ax: object = None, label: str | None = None, **kw: object) -> object:
        """Draw the curve (log-scaled FP/image axis) on ``ax`` (a new figure when None); returns the axes."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(5, 3.6))
        fp = np.maximum(self.fps_per_image, 1e-3)
        ax.step(fp, self.sensitivity, where="post", label=label, **kw)
        ax.set_xscale("log")
        ax.set_xlabel("false positives per image")
        ax.set_ylabel("sensitivity (lesions found)")
        ax.set_ylim(0, 1.02)
        ax.grid(True, which="both", alpha=0.3)
        return ax


def froc(
    detections: Sequence[tuple[np.ndarray, np.ndarray]],
    centres: Sequence[np.ndarray],
    hit_distance: float | Sequence[np.ndarray] = 3.0,
) -> FROC:
    """Compute the FROC curve of a detector over a set of images.

    Parameters
    ----------
    detections
        One ``(coords (k, ndim), scores (k,))`` pair per image, e.g. from :func:`find_peaks`.
    centres
        One ``(m, ndim)`` array of true lesion centres per image (``m`` may be 0).
    hit_distance
        Largest centre distance (pixels) that counts as a hit: one number, or one ``(m,)`` array per image
        (e.g. the lesion radii).

    Returns
    -------
    FROC
        Sensitivity and FP/image at every score threshold; ``.sensitivity_at(1.0)``, ``.cpm()``, ``.plot()``.
    """
    if len(detections) != len(centres):
        raise ShapeMismatchError(
            f"froc got detections for {len(detections)} images but centres for {len(centres)}"
        )
    all_scores, all_tp = [], []
    n_lesions = 0
    for i, ((coords, scores), c) in enumerate(zip(detections, centres)):
        reach = hit_distance if np.isscalar(hit_distance) else hit_distance[i]
        tp, m = match_detections(coords, scores, c, reach)
        all_scores.append(np.asarray(scores, dtype=np.float64))
        all_tp.append(tp)
        n_lesions += m
    scores = np.concatenate(all_scores) if all_scores else np.zeros(0)
    tp = np.concatenate(all_tp) if all_tp else np.zeros(0, bool)
    order = np.argsort(-scores, kind="stable")
    scores, tp = scores[order], tp[order]
    n_img = max(1, len(detections))
    sens = np.cumsum(tp) / max(n_lesions, 1)
    fps = np.cumsum(~tp) / n_img
    # one point per distinct threshold (the last index of each run of equal scores), plus the origin
    last = np.r_[scores[1:] != scores[:-1], True] if len(scores) else np.zeros(0, bool)
    return FROC(
        np.r_[0.0, fps[last]], np.r_[0.0, sens[last]], np.r_[np.inf, scores[last]], len(detections), n_lesions
    )


def lesion_slices(volumes: np.ndarray, masks: np.ndarray, *, seed: int = 0,
                  window: tuple[float, float] | None = None) -> dict[str, object]:
    """Turn labelled 3D scans into a 2D detection set: per scan, its axial slice with the most lesion and one
    slice without lesion; lesions become connected components with centre, equivalent radius and box.

    ``volumes`` and ``masks`` are ``(N, 1, X, Y, Z)`` (as ``mk.load(..., as_arrays=True)`` gives an MSD task);
    ``window`` clips raw intensities (e.g. ``(-1000, 400)`` HU for lung CT) before scaling to [0, 1]; ``None``
    (for the loader's already normalised intensities) scales each slice by its 1st-99th percentiles. Returns ``images`` (M, 1, X, Y) float32, ``centers`` and ``radii`` (one array per image,
    as the synthetic lesion generator gives them), ``boxes`` ((k, 4): row0, col0, row1, col1), ``labels``
    (1 if the slice holds a lesion), ``masks`` (M, 1, X, Y) bool and ``scan`` (the index of the scan, i.e.
    the patient, each slice came from: split by it, never by slice).
    """
    from scipy import ndimage

    volumes, masks = np.asarray(volumes), np.asarray(masks)
    if volumes.ndim != 5 or masks.shape[0] != volumes.shape[0] or masks.shape[2:] != volumes.shape[2:]:
        raise ShapeMismatchError(
            f"lesion_slices needs volumes and masks of shape (N, 1, X, Y, Z) on one grid; got {volumes.shape} "
            f"and {masks.shape}"
        )
    rng = np.random.default_rng(seed)
    images, centers, radii, boxes, labels, lesion_masks, scan = [], [], [], [], [], [], []
    for s_idx, (vol, mask) in enumerate(zip(volumes[:, 0], masks[:, 0] > 0)):
        area = mask.sum(axis=(0, 1))
        picks = []
        if area.max() > 0:
            picks.append(int(area.argmax()))
        empty = np.flatnonzero(area == 0)
        if empty.size:
            picks.append(int(rng.choice(empty)))
        for z in picks:
            img = vol[:, :, z].astype(np.float32)
            lo, hi = window if window is not None else np.percentile(img, [1, 99])
            images.append(np.clip((img - lo) / max(hi - lo, 1e-6), 0, 1).astype(np.float32))
            comp, k = ndimage.label(mask[:, :, z])
            objs = ndimage.find_objects(comp)
            c = np.array(ndimage.center_of_mass(mask[:, :, z], comp, range(1, k + 1)), dtype=np.float64).reshape(-1, 2)
            sizes = ndimage.sum_labels(mask[:, :, z], comp, range(1, k + 1)) if k else np.zeros(0)
            centers.append(c)
            radii.append(np.sqrt(np.asarray(sizes, np.float64) / np.pi))
            boxes.append(np.array([[s[0].start, s[1].start, s[0].stop, s[1].stop] for s in objs], np.float64).reshape(-1, 4))
            labels.append(int(k > 0))
            lesion_masks.append(mask[:, :, z])
            scan.append(s_idx)
    return {"images": np.stack(images)[:, None], "centers": centers, "radii": radii, "boxes": boxes,
            "labels": np.array(labels, np.int64), "masks": np.stack(lesion_masks)[:, None],
            "scan": np.array(scan, np.int64)}


def boxes_from_circles(centres: Sequence[np.ndarray], radii: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Square boxes ``(row0, col0, row1, col1)`` around circular lesions (centre ± radius), one array per image."""
    out = []
    for c, r in zip(centres, radii):
        c = np.asarray(c, np.float64).reshape(-1, 2)
        r = np.asarray(r, np.float64).reshape(-1, 1)
        out.append(np.concatenate([c - r, c + r], axis=1) if len(c) else np.zeros((0, 4)))
    return out


def box_targets(boxes: Sequence[np.ndarray], shape: Sequence[int]) -> np.ndarray:
    """CenterNet training targets for 2D boxes: ``(N, 4, H, W)`` = heat map, box height, box width, centre mask.

    The heat map has one Gaussian per box centre (sigma a quarter of the box's mean side); height and width are
    written at the centre pixel only, where the mask is 1, so the size loss is taken there alone.
    """
    h, w = int(shape[0]), int(shape[1])
    centres = [np.c_[(b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2] if len(b) else np.zeros((0, 2))
               for b in map(lambda a: np.asarray(a, np.float64).reshape(-1, 4), boxes)]
    sigmas = [np.maximum(((b[:, 2] - b[:, 0]) + (b[:, 3] - b[:, 1])) / 8, 1.0) if len(b) else np.zeros(0)
              for b in map(lambda a: np.asarray(a, np.float64).reshape(-1, 4), boxes)]
    out = np.zeros((len(boxes), 4, h, w), np.float32)
    out[:, :1] = centre_heatmaps(centres, (h, w), sigma=sigmas)
    for i, b in enumerate(boxes):
        b = np.asarray(b, np.float64).reshape(-1, 4)
        for (r0, c0, r1, c1), (cr, cc) in zip(b, centres[i]):
            y, x = min(max(int(round(cr)), 0), h - 1), min(max(int(round(cc)), 0), w - 1)
            out[i, 1:, y, x] = (r1 - r0, c1 - c0, 1.0)
    return out


def centernet_loss(logits: object, target: object, *, size_weight: float = 0.1) -> object:
    """Focal loss on the heat map (channel 0) plus L1 on box height/width (channels 1-2) at the centres.

    ``target`` is :func:`box_targets`'s ``(N, 4, H, W)``; the size term is averaged over the centre pixels.
    """
    import torch

    logits, target = torch.as_tensor(logits), torch.as_tensor(target)
    if logits.shape[1] != 3 or target.shape[1] != 4 or logits.shape[2:] != target.shape[2:]:
        raise ShapeMismatchError(
            f"centernet_loss needs outputs (N, 3, H, W) and targets (N, 4, H, W); got {tuple(logits.shape)} and "
            f"{tuple(target.shape)}"
        )
    heat = heatmap_focal_loss(logits[:, :1], target[:, :1])
    mask = target[:, 3:4]
    size = (torch.abs(logits[:, 1:3].float() - target[:, 1:3]) * mask).sum() / mask.sum().clamp_min(1.0)
    return heat + size_weight * size


def decode_boxes(output: np.ndarray, *, threshold: float = 0.05, min_distance: int = 3,
                 nms_iou: float | None = 0.5) -> list[tuple[np.ndarray, np.ndarray]]:
    """Turn CenterNet outputs ``(N, 3, H, W)`` (heat-map logits, height, width) into boxes and scores per image.

    Peaks of the sigmoid heat map are the detections; the box around each peak has the size predicted
    there. ``nms_iou`` (MONAI's ``non_max_suppression``) then drops boxes overlapping a better one by more.
    """
    from monai.data.box_utils import non_max_suppression

    output = np.asarray(output, dtype=np.float32)
    if output.ndim != 4 or output.shape[1] != 3:
        raise ShapeMismatchError(f"decode_boxes needs (N, 3, H, W) outputs, got {output.shape}")
    heat = 1.0 / (1.0 + np.exp(-output[:, 0]))
    out = []
    for i in range(len(output)):
        coords, scores = find_peaks(heat[i], threshold=threshold, min_distance=min_distance)
        rc = np.asarray(coords, dtype=np.int64).reshape(-1, 2)
        hw = np.maximum(output[i][1:, rc[:, 0], rc[:, 1]].T if len(rc) else np.zeros((0, 2)), 1.0)  # (k, 2)
        boxes = np.c_[rc - hw / 2, rc + hw / 2].astype(np.float32) if len(rc) else np.zeros((0, 4), np.float32)
        scores = np.asarray(scores, np.float32)
        if nms_iou is not None and len(boxes) > 1:
            keep = np.asarray(non_max_suppression(boxes, scores, nms_iou), dtype=np.int64)
            boxes, scores = boxes[keep], scores[keep]
        out.append((boxes, scores))
    return out


def _average_precision(scores: np.ndarray, is_tp: np.ndarray, n_positive: int) -> float:
    if n_positive == 0 or len(scores) == 0:
        return 0.0
    order = np.argsort(-scores, kind="stable")
    tp = np.asarray(is_tp, bool)[order]
    hits = np.cumsum(tp)
    precision = hits / np.arange(1, len(tp) + 1)
    recall = hits / n_positive
    envelope = np.maximum.accumulate(precision[::-1])[::-1]
    return float(np.sum(np.diff(np.r_[0.0, recall]) * envelope))


def box_average_precision(detections: Sequence[tuple[np.ndarray, np.ndarray]], true_boxes: Sequence[np.ndarray],
                          iou_threshold: float = 0.5) -> float:
    """AP of box detections at an IoU threshold (PASCAL VOC / COCO AP@0.5 for one class; mAP averages classes).

    In each image detections are taken by decreasing score; one is a hit when its IoU with a not yet matched
    true box is at least ``iou_threshold`` (MONAI's ``box_iou``). AP is the area under the all-point
    interpolated precision-recall curve over all images.
    """
    from monai.data.box_utils import box_iou

    if len(detections) != len(true_boxes):
        raise ShapeMismatchError(f"detections for {len(detections)} images but boxes for {len(true_boxes)}")
    all_scores, all_tp, n_pos = [], [], 0
    for (boxes, scores), truth in zip(detections, true_boxes):
        boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
        truth = np.asarray(truth, np.float32).reshape(-1, 4)
        scores = np.asarray(scores, np.float64)
        n_pos += len(truth)
        tp = np.zeros(len(boxes), bool)
        if len(boxes) and len(truth):
            iou = np.asarray(box_iou(boxes, truth))
            free = np.ones(len(truth), bool)
            for i in np.argsort(-scores, kind="stable"):
                cand = np.where(free, iou[i], -1.0)
                j = int(np.argmax(cand))
                if cand[j] >= iou_threshold:
                    tp[i], free[j] = True, False
        all_scores.append(scores)
        all_tp.append(tp)
    scores = np.concatenate(all_scores) if all_scores else np.zeros(0)
    tp = np.concatenate(all_tp) if all_tp else np.zeros(0, bool)
    return _average_precision(scores, tp, n_pos)
