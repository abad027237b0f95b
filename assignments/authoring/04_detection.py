# Assignment 04 - Detection: peaks in a heat map, matching detections to lesions, an FROC point.
# Authoring source of assignments/source/04_detection/04_detection.ipynb
# (regenerate with `medimg grade build`; format: assignments/README.md).

# %% [markdown] readonly id=intro
# # Assignment 04 — Evaluating a lesion detector
#
# Lesson 04's detector outputs a heat map whose peaks are lesion centres. A detection counts as a **true
# positive** when it lies within a radius of a real lesion that no higher-scoring detection has claimed;
# everything else is a false positive. The **FROC** curve plots sensitivity against the average number
# of false positives per image. You implement these three steps, then the detector's training target and
# loss, and compare a learned detector with a hand-crafted blob filter in words.
#
# * Use `numpy` (and `scipy.ndimage` if you like).
#
# | Exercise | Points |
# |---|---|
# | 1. Peak finding | 3 |
# | 2. Matching detections to lesions | 4 |
# | 3. Sensitivity at a fixed number of false positives per image | 3 |
# | 4. Heat-map targets and the penalty-reduced focal loss | 3 |
# | 5. A learned detector or a blob filter? (written, rubric) | 2 |

# %% readonly id=setup
import numpy as np

import medimg_kernel as mk


def gaussian_heatmap(centres, heights, shape=(48, 48), sigma=2.0):
    """A heat map with one Gaussian bump per centre (row, col)."""
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    out = np.zeros(shape)
    for (r, c), h in zip(centres, heights):
        out = np.maximum(out, h * np.exp(-((yy - r) ** 2 + (xx - c) ** 2) / (2 * sigma**2)))
    return out


# your own variant: the seed comes from your student id (mk.student_id()), so your numbers differ from
# your neighbour's; solve the general problem and the tests pass for every variant
rng = np.random.default_rng(mk.variant_seed("04_detection"))
centres = []  # three lesion centres (row, col), at least 12 pixels apart and 4 from the border
while len(centres) < 3:
    c = tuple(int(v) for v in rng.integers(4, 44, size=2))
    if all(np.hypot(c[0] - o[0], c[1] - o[1]) >= 12 for o in centres):
        centres.append(c)
# one strong, one medium and one faint lesion, in that order (so centres[0] is the highest peak)
heights = [round(float(rng.uniform(lo, hi)), 2) for lo, hi in ((0.8, 0.95), (0.55, 0.7), (0.2, 0.4))]
heat = gaussian_heatmap(centres, heights)
print("variant of", mk.student_id(), "- heat map", heat.shape, "max", round(float(heat.max()), 3),
      "| lesions at", centres)

# %% [markdown] readonly id=ex1_text
# ## Exercise 1 — Peaks (3 points)
#
# Implement `find_peaks(heatmap, threshold, min_distance=3)`: return a list of `(row, col, score)`
# tuples for pixels that are **local maxima** within a `(2*min_distance+1)` square window and have
# `score >= threshold`, sorted by score, highest first. (`scipy.ndimage.maximum_filter` helps.)

# %% solution id=ex1_answer exercise=peaks
def find_peaks(heatmap, threshold, min_distance=3):
    """Local maxima >= threshold as (row, col, score), highest score first."""
    ### BEGIN SOLUTION
    from scipy.ndimage import maximum_filter

    h = np.asarray(heatmap, dtype=float)
    local_max = maximum_filter(h, size=2 * min_distance + 1, mode="constant", cval=-np.inf) == h
    rows, cols = np.nonzero(local_max & (h >= threshold))
    peaks = [(int(r), int(c), float(h[r, c])) for r, c in zip(rows, cols)]
    return sorted(peaks, key=lambda p: -p[2])
    ### END SOLUTION

# %% tests id=ex1_tests points=3
def test_three_bumps():
    """finds the three bumps, highest first. Hint: compare the map with its maximum_filter"""
    peaks = find_peaks(heat, threshold=0.1)
    assert [(r, c) for r, c, _ in peaks] == centres


def test_threshold():
    """a threshold of 0.5 keeps two peaks. Hint: keep scores >= threshold"""
    assert len(find_peaks(heat, threshold=0.5)) == 2


def test_tuples():
    """each peak is (row, col, score). Hint: score = heatmap[row, col]"""
    r, c, s = find_peaks(heat, threshold=0.8)[0]
    assert (r, c) == centres[0] and abs(s - heat[centres[0]]) < 1e-9


mk.check("peaks", test_three_bumps, test_threshold, test_tuples, budget=5)
### BEGIN HIDDEN TESTS
def _pk_close_bumps_suppressed():
    h = gaussian_heatmap([(20, 20), (20, 22)], [0.8, 0.7], sigma=1.5)
    peaks = find_peaks(h, 0.1, min_distance=3)
    assert len(peaks) == 1 and peaks[0][:2] == (20, 20)


def _pk_held_out():
    cs = [(5, 40), (25, 25), (44, 3), (12, 30)]
    h = gaussian_heatmap(cs, [0.4, 0.95, 0.7, 0.55])
    got = [(r, c) for r, c, _ in find_peaks(h, 0.2)]
    assert got == [(25, 25), (44, 3), (12, 30), (5, 40)]


def _pk_empty():
    assert list(find_peaks(np.zeros((10, 10)), 0.1)) == []


mk.check("peaks", _pk_close_bumps_suppressed, _pk_held_out, _pk_empty, budget=5, hidden=True)
### END HIDDEN TESTS

# %% [markdown] readonly id=ex2_text
# ## Exercise 2 — Matching (4 points)
#
# `match_detections(pred, scores, truth, radius)`: `pred` is `(P, 2)` predicted centres, `scores` their
# `(P,)` scores, `truth` `(T, 2)` lesion centres. Go through predictions from the **highest score**
# down; a prediction is a true positive if an **unclaimed** lesion lies within `radius` (Euclidean
# distance `<= radius`; take the closest unclaimed one), which it then claims. Return a boolean array
# `is_tp` of shape `(P,)` **in the original order of `pred`**. Empty inputs must work.

# %% solution id=ex2_answer exercise=matching
def match_detections(pred, scores, truth, radius):
    """Greedy score-ordered matching; returns is_tp (P,) in the input order."""
    ### BEGIN SOLUTION
    pred = np.asarray(pred, dtype=float).reshape(-1, 2)
    truth = np.asarray(truth, dtype=float).reshape(-1, 2)
    is_tp = np.zeros(len(pred), dtype=bool)
    claimed = np.zeros(len(truth), dtype=bool)
    for i in np.argsort(-np.asarray(scores, dtype=float), kind="stable"):
        if len(truth) == 0:
            break
        d = np.linalg.norm(truth - pred[i], axis=1)
        d[claimed] = np.inf
        j = int(np.argmin(d))
        if d[j] <= radius:
            claimed[j] = True
            is_tp[i] = True
    return is_tp
    ### END SOLUTION

# %% tests id=ex2_tests points=4
def test_simple_hit_and_miss():
    """one hit within the radius, one far miss. Hint: distance = np.linalg.norm(a - b)"""
    tp = match_detections(np.array([[10, 10], [40, 40]]), np.array([0.9, 0.8]), np.array([[11, 12]]), 3)
    assert tp.tolist() == [True, False]


def test_duplicate_detections_count_once():
    """two detections of one lesion: only the higher-scoring one is a TP. Hint: a lesion is claimed once"""
    tp = match_detections(np.array([[10, 11], [10, 10]]), np.array([0.5, 0.9]), np.array([[10, 10]]), 3)
    assert tp.tolist() == [False, True]


def test_radius_is_inclusive():
    """a distance equal to the radius is a hit. Hint: use <="""
    assert match_detections(np.array([[0, 0]]), np.array([1.0]), np.array([[3, 4]]), 5).tolist() == [True]


mk.check("matching", test_simple_hit_and_miss, test_duplicate_detections_count_once, test_radius_is_inclusive,
         budget=5)
### BEGIN HIDDEN TESTS
def _mt_empty_inputs():
    assert match_detections(np.zeros((0, 2)), np.zeros(0), np.array([[1, 1]]), 2).shape == (0,)
    assert match_detections(np.array([[1, 1]]), np.array([0.3]), np.zeros((0, 2)), 2).tolist() == [False]


def _mt_closest_unclaimed():
    pred = np.array([[0, 0], [0, 3]])
    truth = np.array([[0, 1], [0, 4]])
    assert match_detections(pred, np.array([0.9, 0.8]), truth, 2).tolist() == [True, True]


def _mt_held_out():
    rng = np.random.default_rng(8)
    truth = rng.uniform(0, 100, (6, 2))
    pred = np.concatenate([truth[:4] + rng.normal(0, 1, (4, 2)), rng.uniform(0, 100, (5, 2)), truth[:1] + 0.5])
    scores = np.concatenate([np.linspace(0.9, 0.6, 4), np.linspace(0.5, 0.1, 5), [0.05]])
    tp = match_detections(pred, scores, truth, 4)
    assert tp[:4].all() and not tp[-1] and tp.sum() <= 6


mk.check("matching", _mt_empty_inputs, _mt_closest_unclaimed, _mt_held_out, budget=5, hidden=True)
### END HIDDEN TESTS

# %% [markdown] readonly id=ex3_text
# ## Exercise 3 — An FROC point (3 points)
#
# `sensitivity_at_fp(images, radius, fp_per_image)`: `images` is a list of dicts with keys `pred`,
# `scores`, `truth` (one per image). Match each image with your `match_detections`. Then consider every
# score threshold: keep detections with `score >= t` over **all** images, count TPs and FPs. Return the
# highest **sensitivity** (TPs / total lesions) whose average FPs per image (FPs / number of images) is
# `<= fp_per_image`. Return 0.0 if no threshold qualifies.

# %% solution id=ex3_answer exercise=froc
def sensitivity_at_fp(images, radius, fp_per_image):
    """Best sensitivity with at most ``fp_per_image`` false positives per image on average."""
    ### BEGIN SOLUTION
    all_scores, all_tp = [], []
    n_lesions = 0
    for im in images:
        tp = match_detections(im["pred"], im["scores"], im["truth"], radius)
        all_scores.extend(np.asarray(im["scores"], dtype=float).tolist())
        all_tp.extend(tp.tolist())
        n_lesions += len(np.asarray(im["truth"]).reshape(-1, 2))
    if n_lesions == 0 or not all_scores:
        return 0.0
    scores = np.array(all_scores)
    tps = np.array(all_tp, dtype=bool)
    best = 0.0
    for t in np.unique(scores):
        keep = scores >= t
        fp = np.sum(keep & ~tps) / len(images)
        if fp <= fp_per_image:
            best = max(best, np.sum(keep & tps) / n_lesions)
    return float(best)
    ### END SOLUTION

# %% tests id=ex3_tests points=3 requires=matching
_rng = np.random.default_rng(mk.variant_seed("04_detection", salt="froc"))
_offset = _rng.integers(0, 20, size=2)  # your variant places the two images' findings elsewhere
_gain = _rng.uniform(0.5, 1.0)  # and rescales the scores (their order is what matters)
two_images = [
    {"pred": np.array([[5, 5], [20, 20], [30, 5]]) + _offset, "scores": np.array([0.9, 0.7, 0.4]) * _gain,
     "truth": np.array([[5, 6], [30, 6]]) + _offset},
    {"pred": np.array([[8, 8], [40, 40]]) + _offset, "scores": np.array([0.8, 0.6]) * _gain,
     "truth": np.array([[40, 41]]) + _offset},
]


def test_zero_false_positives():
    """with no FPs allowed only the top detections count. Hint: try every score as a threshold"""
    assert np.isclose(sensitivity_at_fp(two_images, 3, 0.0), 1 / 3)


def test_one_fp_per_image():
    """one FP per image on average finds every lesion. Hint: average FPs = total FPs / number of images"""
    assert np.isclose(sensitivity_at_fp(two_images, 3, 1.0), 1.0)


mk.check("froc", test_zero_false_positives, test_one_fp_per_image, budget=5)
### BEGIN HIDDEN TESTS
def _fr_half_fp():
    assert np.isclose(sensitivity_at_fp(two_images, 3, 0.5), 1 / 3)


def _fr_no_detections():
    ims = [{"pred": np.zeros((0, 2)), "scores": np.zeros(0), "truth": np.array([[1, 1]])}]
    assert sensitivity_at_fp(ims, 2, 1.0) == 0.0


def _fr_held_out():
    rng = np.random.default_rng(12)
    ims = []
    for _ in range(5):
        truth = rng.uniform(0, 64, (2, 2))
        pred = np.concatenate([truth + rng.normal(0, 0.5, (2, 2)), rng.uniform(0, 64, (3, 2))])
        ims.append({"pred": pred, "scores": np.concatenate([rng.uniform(0.5, 1, 2), rng.uniform(0, 0.6, 3)]),
                    "truth": truth})
    s_lo, s_hi = sensitivity_at_fp(ims, 3, 0.2), sensitivity_at_fp(ims, 3, 3.0)
    assert 0.0 <= s_lo <= s_hi and np.isclose(s_hi, 1.0)


mk.check("froc", _fr_half_fp, _fr_no_detections, _fr_held_out, budget=5, hidden=True)
### END HIDDEN TESTS

# %% [markdown] readonly id=ex4_text
# ## Exercise 4 — Heat-map targets and the focal loss (3 points)
#
# A centre-point detector learns to output a heat map. Its **target** has one Gaussian bump of peak 1
# per lesion, centred on the pixel nearest to the lesion centre: $T(p) = \max_k \exp(-\|p - c_k\|^2 / 2\sigma^2)$.
# Implement `centre_target(centres, shape, sigma=2.0)` returning a float array of `shape` (an empty
# `centres` gives all zeros; round each centre to the nearest pixel first).
#
# Then CenterNet's **penalty-reduced focal loss** on predicted probabilities $P$ (not logits):
# pixels with $T = 1$ are positives, contributing $-(1-P)^{\alpha}\log P$; every other pixel contributes
# $-(1-T)^{\beta} P^{\alpha}\log(1-P)$, so a near-miss next to a centre is hardly punished. The sum is divided
# by the number of positives (at least 1). Implement `focal_loss(prob, target, alpha=2, beta=4, eps=1e-7)`
# returning a float; clip `prob` to `[eps, 1 - eps]`.

# %% solution id=ex4_answer exercise=heatmap_loss
def centre_target(centres, shape, sigma=2.0):
    """Gaussian heat-map target: peak 1 at the pixel nearest each centre, max where bumps overlap."""
    ### BEGIN SOLUTION
    grid = np.indices(shape).astype(float)
    out = np.zeros(shape)
    for c in np.asarray(centres, dtype=float).reshape(-1, len(shape)):
        c = np.rint(c)
        d2 = sum((grid[a] - c[a]) ** 2 for a in range(len(shape)))
        out = np.maximum(out, np.exp(-d2 / (2 * sigma**2)))
    return out
    ### END SOLUTION


def focal_loss(prob, target, alpha=2, beta=4, eps=1e-7):
    """CenterNet's penalty-reduced focal loss, summed and divided by the number of centre pixels."""
    ### BEGIN SOLUTION
    p = np.clip(np.asarray(prob, dtype=float), eps, 1 - eps)
    t = np.asarray(target, dtype=float)
    pos = t >= 0.999
    pos_loss = -((1 - p[pos]) ** alpha * np.log(p[pos])).sum()
    neg_loss = -((1 - t[~pos]) ** beta * p[~pos] ** alpha * np.log(1 - p[~pos])).sum()
    return float((pos_loss + neg_loss) / max(1, int(pos.sum())))
    ### END SOLUTION

# %% tests id=ex4_tests points=3
def test_target_peaks_at_each_centre():
    """one pixel equals 1 per lesion, values in [0, 1]. Hint: np.maximum of one Gaussian per centre"""
    t = centre_target(centres, (48, 48), sigma=2.0)
    assert t.shape == (48, 48) and t.min() >= 0 and np.isclose(t.max(), 1.0)
    assert all(np.isclose(t[r, c], 1.0) for r, c in centres) and (t >= 0.999).sum() == len(centres)


def test_focal_loss_rewards_the_right_map():
    """the target itself scores lower than a flat or inverted guess. Hint: positives are pixels with T == 1"""
    t = centre_target(centres, (48, 48))
    good = focal_loss(np.clip(t, 0.01, 0.99), t)
    assert good < focal_loss(np.full_like(t, 0.5), t) and good < focal_loss(1 - t, t)


mk.check("heatmap_loss", test_target_peaks_at_each_centre, test_focal_loss_rewards_the_right_map, budget=5)
### BEGIN HIDDEN TESTS
def _tg_empty_and_rounding():
    assert np.all(centre_target(np.zeros((0, 2)), (8, 8)) == 0)
    t = centre_target([[2.4, 5.6]], (8, 8), sigma=1.0)
    assert np.isclose(t[2, 6], 1.0) and np.isclose(t[2, 5], np.exp(-0.5))


def _tg_overlap_is_max_not_sum():
    t = centre_target([[4, 4], [4, 6]], (9, 11), sigma=2.0)
    assert np.isclose(t.max(), 1.0) and np.isclose(t[4, 5], np.exp(-1 / 8))


def _tg_3d():
    t = centre_target([[1, 2, 3]], (4, 5, 6), sigma=1.5)
    assert t.shape == (4, 5, 6) and np.isclose(t[1, 2, 3], 1.0) and np.isclose(t[1, 2, 4], np.exp(-1 / 4.5))


def _fl_reference():
    r = np.random.default_rng(4)
    t = centre_target([[3, 3], [10, 12]], (16, 16), sigma=1.5)
    pr = r.uniform(0.01, 0.99, t.shape)
    pos = t >= 0.999
    ref = (-((1 - pr[pos]) ** 2 * np.log(pr[pos])).sum()
           - ((1 - t[~pos]) ** 4 * pr[~pos] ** 2 * np.log(1 - pr[~pos])).sum()) / 2
    assert np.isclose(focal_loss(pr, t), ref, rtol=1e-6)


def _fl_no_positive_divides_by_one():
    pr = np.full((4, 4), 0.2)
    ref = -(16 * 0.2**2 * np.log(0.8))
    assert np.isclose(focal_loss(pr, np.zeros((4, 4))), ref, rtol=1e-6)


def _fl_near_miss_is_cheap():
    t = centre_target([[8, 8]], (17, 17))
    near = np.full(t.shape, 0.01)
    near[8, 9] = 0.9
    far = np.full(t.shape, 0.01)
    far[1, 1] = 0.9
    assert focal_loss(near, t) < focal_loss(far, t)


mk.check("heatmap_loss", _tg_empty_and_rounding, _tg_overlap_is_max_not_sum, _tg_3d, _fl_reference,
         _fl_no_positive_divides_by_one, _fl_near_miss_is_cheap, budget=5, hidden=True)
### END HIDDEN TESTS

# %% [markdown] readonly id=q5_text
# ## Exercise 5 — A learned detector or a blob filter? (written, 2 points)
#
# In lesson 04 a Laplacian-of-Gaussian blob filter with no training was compared with the U-Net trained
# on heat maps, both scored with the same FROC. In a few sentences: when can a hand-crafted blob filter
# match or beat the learned detector, and what does the learned one buy you on real CT? Name what you
# would measure to decide, on which data.

# %% [markdown] manual id=q5_answer points=2
# ### BEGIN SOLUTION
# A blob filter wins when lesions really are isolated bright round blobs of a known size on a smooth
# background (as in the synthetic smoke data, by construction) and when labels are few: it needs no
# training data and cannot overfit. On real CT, vessels, bronchi and other bright structures are blobs too,
# lesions vary in size, contrast and shape, and a learned detector uses context to reject look-alikes, so
# it reaches a higher sensitivity at a low FP rate. Decide with the same FROC/CPM on a held-out, patient-
# level test set from the target scanners, with confidence intervals, not on the training data.
# ### END SOLUTION

# %% [markdown] rubric id=q5_rubric for=q5_answer
# - 1: when the filter can win (isolated round blobs of known size, few labels, no training/overfitting) and why the synthetic data favour it by construction
# - 1: what learning buys on real images (context rejects vessel/structure look-alikes, varied sizes and contrast) and how to decide: the same FROC/CPM on held-out patient-level data, with intervals
