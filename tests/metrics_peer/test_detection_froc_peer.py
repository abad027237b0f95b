"""Lesson 04's FROC against MONAI's CAMELYON-style FROC (compute_fp_tp_probs_nd / compute_froc_curve_data)."""

from __future__ import annotations

import numpy as np
import pytest
from monai.metrics import compute_fp_tp_probs_nd, compute_froc_curve_data, compute_froc_score

from medimg_kernel.lessons.detection import LUNA16_FP_RATES, froc

R = 3  # lesion radius = hit distance (pixels)


def _scene(rng, n_images=12, size=48):
    """Non-overlapping disk lesions, detections near some of them and elsewhere; one detection per lesion
    at most (duplicates are the two libraries' one documented difference, tested separately)."""
    dets, centres, masks = [], [], []
    yy, xx = np.mgrid[:size, :size]
    for _ in range(n_images):
        c = []
        while len(c) < rng.integers(0, 4):
            p = rng.integers(R + 1, size - R - 1, 2)
            if all(np.hypot(*(p - q)) > 2 * R + 2 for q in c):
                c.append(p)
        c = np.array(c, dtype=float).reshape(-1, 2)
        mask = np.zeros((size, size), np.int64)
        for k, p in enumerate(c, 1):
            mask[np.hypot(yy - p[0], xx - p[1]) <= R] = k
        pts, scores = [], []
        for p in c:
            if rng.random() < 0.7:  # found (somewhere inside the disk)
                off = rng.integers(-2, 3, 2)
                pts.append(p + off if np.hypot(*off) <= R else p)
                scores.append(rng.uniform(0.2, 1.0))
        for _ in range(rng.integers(0, 4)):  # false positives away from any lesion
            q = rng.integers(0, size, 2)
            if mask[tuple(q)] == 0:
                pts.append(q.astype(float))
                scores.append(rng.uniform(0.05, 0.9))
        # scores on a 1/64 grid: ties between hits and false positives, and exact in MONAI's float32 tp_probs
        dets.append((np.array(pts, dtype=float).reshape(-1, 2), np.round(np.array(scores) * 64) / 64))
        centres.append(c)
        masks.append(mask)
    return dets, centres, masks


def _monai(dets, masks):
    fps, tps, n_targets = [], [], 0
    for (coords, scores), mask in zip(dets, masks):
        fp, tp, n = compute_fp_tp_probs_nd(scores, coords.astype(int).reshape(-1, 2), mask)
        fps.append(fp)
        tps.append(tp.astype(np.float64))
        n_targets += n
    return compute_froc_curve_data(np.concatenate(fps), np.concatenate(tps), n_targets, len(masks))


@pytest.mark.parametrize("seed", range(4))
def test_froc_curve_equals_monai(seed):
    rng = np.random.default_rng(seed)
    dets, centres, masks = _scene(rng)
    f = froc(dets, centres, hit_distance=float(R))
    m_fps, m_sens = _monai(dets, masks)
    assert f.n_lesions == sum(len(c) for c in centres)
    missed = f.sensitivity.max() < 1  # MONAI's zero score of a missed lesion is its skipped lowest threshold
    assert missed, "the scene must leave a lesion unfound for MONAI's curve to start at the origin"
    kit_pts = {(round(a, 12), round(b, 12)) for a, b in zip(f.fps_per_image, f.sensitivity)}
    ref_pts = {(round(a, 12), round(b, 12)) for a, b in zip(m_fps, m_sens)}
    assert kit_pts == ref_pts
    # CPM: the kit reads the step curve (documented), MONAI/LUNA16 interpolate linearly, never lower
    step = np.mean([m_sens[m_fps <= r + 1e-12].max() for r in LUNA16_FP_RATES])
    assert f.cpm() == pytest.approx(step, abs=1e-12)
    assert f.cpm() <= compute_froc_score(m_fps, m_sens, LUNA16_FP_RATES) + 1e-12


def test_duplicate_detection_convention():
    """Two detections in one lesion: the kit counts the second as a false positive, MONAI ignores it."""
    mask = np.zeros((20, 20), np.int64)
    mask[8:13, 8:13] = 1
    mask[1:4, 1:4] = 2  # a second lesion, missed (MONAI's curve then starts at its zero score)
    coords, scores = np.array([[10.0, 10.0], [11.0, 11.0]]), np.array([0.9, 0.6])
    f = froc([(coords, scores)], [np.array([[10.0, 10.0], [2.0, 2.0]])], hit_distance=2.0)
    assert f.sensitivity_at(0.0) == 0.5 and f.fps_per_image[-1] == 1.0
    m_fps, m_sens = _monai([(coords, scores)], [mask])
    assert m_fps.max() == 0.0 and m_sens.max() == 0.5


def test_edge_cases_no_lesions_no_detections():
    f = froc([(np.zeros((0, 2)), np.zeros(0))] * 3, [np.zeros((0, 2))] * 3)
    assert f.n_lesions == 0 and f.cpm() == 0.0 and f.fps_per_image.tolist() == [0.0]
    fp_only = froc([(np.array([[1.0, 1.0]]), np.array([0.5]))], [np.zeros((0, 2))])
    assert fp_only.fps_per_image.tolist() == [0.0, 1.0] and fp_only.sensitivity.max() == 0.0
    # tied scores make one operating point, as MONAI's thresholds on distinct probabilities do
    tied = froc([(np.array([[1.0, 1.0], [9.0, 9.0]]), np.array([0.5, 0.5]))], [np.array([[9.0, 9.0]])])
    assert tied.fps_per_image.tolist() == [0.0, 1.0] and tied.sensitivity.tolist() == [0.0, 1.0]
