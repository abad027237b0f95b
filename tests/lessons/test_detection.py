"""Peak finding, detection matching and FROC on hand-made heat maps with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from medimg_kernel.errors import ShapeMismatchError
from medimg_kernel.lessons.detection import (
    centre_heatmaps,
    find_peaks,
    froc,
    heatmap_focal_loss,
    match_detections,
)


def test_centre_heatmaps_peak_at_centres_2d_and_3d():
    h = centre_heatmaps([np.array([[10, 20]]), np.zeros((0, 2))], (32, 32), sigma=2.0)
    assert h.shape == (2, 1, 32, 32) and h.dtype == np.float32
    assert h[0, 0, 10, 20] == pytest.approx(1.0) and h[0, 0].argmax() == 10 * 32 + 20
    assert h[1].max() == 0.0
    sub = centre_heatmaps([np.array([[10.4, 19.6]])], (32, 32), sigma=2.0)
    assert sub[0, 0, 10, 20] == 1.0 and (sub >= 0.999).sum() == 1  # one positive pixel per lesion
    v = centre_heatmaps([np.array([[4.0, 5.0, 6.0]])], (12, 12, 12), sigma=[np.array([1.5])])
    assert np.unravel_index(v[0, 0].argmax(), (12, 12, 12)) == (4, 5, 6)


def test_find_peaks_separates_blobs_sorted_by_score():
    h = centre_heatmaps([np.array([[8, 8], [24, 20]])], (32, 32), sigma=2.0)[0, 0]
    h[17:, :] *= 0.5  # second blob weaker
    coords, scores = find_peaks(h, threshold=0.2, min_distance=3)
    assert len(coords) == 2
    np.testing.assert_allclose(coords, [[8, 8], [24, 20]], atol=0.5)
    assert scores[0] > scores[1]
    coords, _ = find_peaks(h, threshold=0.2, min_distance=3, max_peaks=1)
    assert len(coords) == 1
    assert len(find_peaks(h, threshold=1.5)[0]) == 0


def test_find_peaks_plateau_gives_one_peak_and_rejects_bad_shapes():
    h = np.zeros((16, 16), np.float32)
    h[5:7, 5:7] = 1.0
    coords, scores = find_peaks(h, threshold=0.5)
    assert len(coords) == 1 and scores[0] == 1.0
    with pytest.raises(ShapeMismatchError):
        find_peaks(np.zeros(5))


def test_match_detections_counts_duplicates_as_false_positives():
    coords = np.array([[10, 10], [11, 10], [30, 30]], np.float32)
    scores = np.array([0.9, 0.8, 0.7])
    tp, n = match_detections(coords, scores, np.array([[10, 11]]), hit_distance=3)
    assert n == 1 and tp.tolist() == [True, False, False]
    tp, n = match_detections(np.zeros((0, 2)), np.zeros(0), np.array([[1, 1]]), 3)
    assert n == 1 and tp.size == 0


def test_froc_known_curve():
    # image 0: a hit (0.9) and a false positive (0.5); image 1: a false positive (0.8), one lesion missed
    dets = [(np.array([[5, 5], [20, 20]]), np.array([0.9, 0.5])), (np.array([[2, 2]]), np.array([0.8]))]
    truth = [np.array([[5, 6]]), np.array([[25, 25]])]
    f = froc(dets, truth, hit_distance=2.0)
    assert f.n_lesions == 2 and f.n_images == 2
    np.testing.assert_allclose(f.sensitivity, [0, 0.5, 0.5, 0.5])
    np.testing.assert_allclose(f.fps_per_image, [0, 0, 0.5, 1.0])
    assert f.sensitivity_at(0.0) == 0.5 and f.sensitivity_at(8) == 0.5
    assert f.cpm() == pytest.approx(0.5)
    # a perfect detector
    perfect = froc([(t.astype(float), np.ones(len(t))) for t in truth], truth, hit_distance=[np.ones(1)] * 2)
    assert perfect.sensitivity_at(0.0) == 1.0 and perfect.cpm() == 1.0


def test_heatmap_focal_loss_prefers_peaks_at_the_centres():
    import torch

    target = torch.from_numpy(centre_heatmaps([np.array([[8, 8]])], (16, 16), sigma=1.5))
    good = torch.logit(target.clamp(1e-4, 1 - 1e-4))
    shifted = torch.roll(good, shifts=4, dims=-1)
    flat = torch.zeros_like(good)
    lg, ls, lf = (float(heatmap_focal_loss(x, target)) for x in (good, shifted, flat))
    assert lg < ls and lg < lf and lg >= 0
    with pytest.raises(ShapeMismatchError):
        heatmap_focal_loss(good, target[..., :8])


def test_average_precision_against_a_hand_computed_curve():
    # two images, three lesions; by score: 0.9 hit, 0.7 hit, 0.6 miss, 0.5 miss; lesion (40, 40) never found
    dets = [(np.array([[5.0, 5.0], [20.0, 20.0]]), np.array([0.9, 0.6])),
            (np.array([[10.0, 10.0], [30.0, 3.0]]), np.array([0.7, 0.5]))]
    centres = [np.array([[5.0, 6.0]]), np.array([[10.0, 11.0], [40.0, 40.0]])]
    curve = froc(dets, centres, hit_distance=3.0)
    # (precision, recall) after each: (1, 1/3), (1, 2/3), (2/3, 2/3), (1/2, 2/3) -> AP = 1/3 * 1 + 1/3 * 1
    assert np.isclose(curve.average_precision(), 2 / 3)
    # the same hits found late: (0, 0), (1/2, 1/3), (2/3, 2/3) after a 0.9 miss -> envelope 2/3 over both steps
    late = froc([(np.array([[20.0, 20.0], [5.0, 5.0], [10.0, 10.0]]), np.array([0.9, 0.8, 0.7]))],
                [np.array([[5.0, 6.0], [10.0, 11.0], [40.0, 40.0]])], hit_distance=3.0)
    assert np.isclose(late.average_precision(), 2 / 3 * 2 / 3)
    perfect = froc([(np.array([[5.0, 6.0]]), np.array([0.8]))], [np.array([[5.0, 6.0]])])
    assert perfect.average_precision() == 1.0
    assert froc([(np.zeros((0, 2)), np.zeros(0))], [np.zeros((0, 2))]).average_precision() == 0.0


def test_box_targets_decode_and_box_ap_round_trip():
    from medimg_kernel.lessons.detection import (
        box_average_precision,
        box_targets,
        boxes_from_circles,
        centernet_loss,
        decode_boxes,
    )

    boxes = boxes_from_circles([np.array([[10.0, 12.0], [30.0, 30.0]]), np.zeros((0, 2))], [np.array([3.0, 5.0]), []])
    np.testing.assert_allclose(boxes[0], [[7, 9, 13, 15], [25, 25, 35, 35]])
    t = box_targets(boxes, (40, 40))
    assert t.shape == (2, 4, 40, 40) and t[:, 3].sum() == 2 and t[0, 0, 10, 12] == 1.0
    assert tuple(t[0, 1:3, 30, 30]) == (10.0, 10.0) and not t[1].any()
    # a perfect "network output": logits high at the centres, the true sizes everywhere
    out = np.full((2, 3, 40, 40), -10.0, np.float32)
    out[0, 0, 10, 12], out[0, 0, 30, 30] = 5.0, 4.0
    out[0, 1:, 10, 12], out[0, 1:, 30, 30] = 6.0, 10.0
    dets = decode_boxes(out, threshold=0.5)
    np.testing.assert_allclose(dets[0][0], boxes[0], atol=1e-5)
    assert box_average_precision(dets, boxes) == 1.0
    # 3 px down: the 6-px box (score 5) falls to IoU 1/3, a miss; the 10-px one (score 4) keeps IoU 0.54, a hit
    shifted = [(dets[0][0] + np.array([3.0, 0, 3.0, 0]), dets[0][1]), dets[1]]
    assert box_average_precision(shifted, boxes, 0.5) == pytest.approx(0.25)  # precision 1/2 at recall 1/2
    import torch

    loss = centernet_loss(torch.as_tensor(out), torch.as_tensor(t))
    assert float(loss) >= 0


def test_nms_drops_a_duplicate_box():
    from medimg_kernel.lessons.detection import decode_boxes

    out = np.full((1, 3, 30, 30), -10.0, np.float32)
    out[0, 1:] = 10.0
    out[0, 0, 10, 10], out[0, 0, 10, 13] = 5.0, 4.0  # two peaks 3 px apart on one 10-px lesion
    assert len(decode_boxes(out, threshold=0.5, min_distance=1, nms_iou=None)[0][0]) == 2
    assert len(decode_boxes(out, threshold=0.5, min_distance=1, nms_iou=0.5)[0][0]) == 1
