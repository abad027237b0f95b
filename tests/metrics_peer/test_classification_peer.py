"""MetricSet (the Trainer's epoch metrics) against scikit-learn and MONAI, on random and edge-case inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn.metrics import accuracy_score, f1_score, mean_absolute_error, mean_squared_error, roc_auc_score

from medimg_kernel.train.metrics import MetricSet, binary_auc


def _compute(task, metrics, outs, ys, batches=3, **kw):
    ms = MetricSet(task, metrics, **kw)
    for o, y in zip(torch.tensor_split(outs, batches), torch.tensor_split(ys, batches)):
        ms.update(o, y)
    return ms.compute()


def _ovr_macro_auc(y, scores):
    """scikit-learn one-vs-rest AUC per class, averaged over the classes where it is defined."""
    aucs = [roc_auc_score(y == k, scores[:, k]) for k in range(scores.shape[1]) if 0 < (y == k).sum() < len(y)]
    return float(np.mean(aucs))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_binary_random_matches_sklearn(seed):
    rng = np.random.default_rng(seed)
    z = rng.normal(0, 2, 300)
    y = (rng.random(300) < 1 / (1 + np.exp(-z))).astype(int)
    res = _compute("classification", ["accuracy", "auc", "f1"], torch.tensor(z, dtype=torch.float32)[:, None],
                   torch.tensor(y))
    zf = np.float32(z).astype(np.float64)
    assert res["auc"] == pytest.approx(roc_auc_score(y, zf), abs=1e-12)
    assert res["accuracy"] == pytest.approx(accuracy_score(y, zf > 0), abs=1e-6)
    assert res["f1"] == pytest.approx(f1_score(y, zf > 0), abs=1e-6)


@pytest.mark.parametrize("scale", [1e-6, 1.0, 30.0, 1e3])
def test_binary_auc_is_scale_free_and_keeps_confident_logits_apart(scale):
    """A float32 sigmoid of logits beyond ~17 is exactly 1.0: the AUC must come from the order of the logits."""
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 400)
    z = (rng.normal(0, 1, 400) + 1.5 * y) * scale + (40.0 if scale >= 30 else 0.0)
    res = _compute("classification", ["auc"], torch.tensor(z, dtype=torch.float32), torch.tensor(y))
    ref = roc_auc_score(y, np.float32(z).astype(np.float64))
    assert res["auc"] == pytest.approx(ref, abs=1e-12)
    if scale >= 30:  # a float32 sigmoid ties most of these at exactly 1.0, and its AUC is off
        sig = torch.sigmoid(torch.tensor(z, dtype=torch.float32)).numpy()
        assert (sig == 1).mean() > 0.5
        assert abs(roc_auc_score(y, sig) - ref) > 0.01


@pytest.mark.parametrize("seed", [0, 1])
def test_multiclass_random_matches_sklearn(seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 4, 500)
    z = rng.normal(0, 1, (500, 4)) + 1.2 * np.eye(4)[y]
    res = _compute("classification", ["accuracy", "auc", "f1"], torch.tensor(z), torch.tensor(y))
    p = torch.softmax(torch.tensor(z), 1).numpy()
    assert res["auc"] == pytest.approx(roc_auc_score(y, p, multi_class="ovr", average="macro"), abs=1e-12)
    assert res["accuracy"] == pytest.approx(accuracy_score(y, z.argmax(1)), abs=1e-6)
    assert res["f1"] == pytest.approx(f1_score(y, z.argmax(1), average="macro"), abs=1e-6)


def test_absent_class_is_left_out_of_the_macro_auc_not_counted_as_zero():
    rng = np.random.default_rng(4)
    y = rng.integers(0, 3, 300)  # class 3 never occurs in this epoch
    z = rng.normal(0, 1, (300, 4)) + 1.5 * np.eye(4)[y]
    res = _compute("classification", ["auc", "f1"], torch.tensor(z), torch.tensor(y))
    p = torch.softmax(torch.tensor(z, dtype=torch.float64), 1).numpy()
    assert res["auc"] == pytest.approx(_ovr_macro_auc(y, p), abs=1e-12)
    from sklearn.exceptions import UndefinedMetricWarning

    with pytest.warns(UndefinedMetricWarning):  # scikit-learn: undefined for a class without positives
        assert math.isnan(roc_auc_score(y == 3, p[:, 3]))
    assert res["auc"] > 0.7  # averaging a 0 for class 3 would give about 3/4 of this
    # macro F1 as scikit-learn: classes in the labels or the predictions
    assert res["f1"] == pytest.approx(f1_score(y, z.argmax(1), average="macro"), abs=1e-6)


def test_huge_multiclass_logits_are_not_tied():
    rng = np.random.default_rng(5)
    y = rng.integers(0, 3, 300)
    z = 200.0 * (rng.normal(0, 1, (300, 3)) + 2 * np.eye(3)[y])
    res = _compute("classification", ["auc"], torch.tensor(z, dtype=torch.float32), torch.tensor(y))
    logp = torch.log_softmax(torch.tensor(z, dtype=torch.float32).double(), 1).numpy()
    assert res["auc"] == pytest.approx(_ovr_macro_auc(y, logp), abs=1e-12)
    assert res["auc"] > 0.9


@pytest.mark.parametrize("label", [0, 1])
def test_single_class_epoch_gives_nan_auc_and_sklearn_accuracy(label):
    z = torch.linspace(-3, 3, 40)
    y = torch.full((40,), label)
    res = _compute("classification", ["auc", "accuracy"], z, y)
    assert math.isnan(res["auc"])
    assert res["accuracy"] == pytest.approx(accuracy_score(y.numpy(), z.numpy() > 0))
    assert math.isnan(binary_auc(np.ones(5), np.arange(5)))


def test_binary_auc_ties_count_half_like_sklearn():
    rng = np.random.default_rng(6)
    y = rng.integers(0, 2, 200)
    s = rng.integers(0, 4, 200).astype(float)  # heavy ties
    assert binary_auc(y, s) == pytest.approx(roc_auc_score(y, s), abs=1e-12)


def test_regression_matches_sklearn():
    rng = np.random.default_rng(7)
    y = rng.normal(0, 5, 120)
    out = y + rng.normal(0, 1, 120)
    res = _compute("regression", ["mae", "rmse"], torch.tensor(out), torch.tensor(y))
    assert res["mae"] == pytest.approx(mean_absolute_error(y, out), abs=1e-12)
    assert res["rmse"] == pytest.approx(math.sqrt(mean_squared_error(y, out)), abs=1e-12)


def _masks(rng, n=4, c=3, size=16):
    truth = rng.integers(0, c, (n, 1, size, size))
    logits = rng.normal(0, 1, (n, c, size, size)) + 2.0 * np.moveaxis(np.eye(c)[truth[:, 0]], -1, 1)
    return torch.tensor(logits, dtype=torch.float32), torch.tensor(truth)


def _dice_ref(pred, truth, c, include_background=False):
    """Dice from the definition (scikit-learn F1 of the flattened masks), skipping empty ground truth (MONAI
    ignore_empty), averaged over valid classes per image, then over images with a valid class."""
    per_image = []
    for i in range(len(pred)):
        vals = [f1_score((truth[i] == k).ravel(), (pred[i] == k).ravel())
                for k in range(0 if include_background else 1, c) if (truth[i] == k).any()]
        if vals:
            per_image.append(np.mean(vals))
    return float(np.mean(per_image)) if per_image else math.nan


def test_segmentation_dice_matches_definition_and_monai():
    from monai.metrics import compute_dice
    from monai.networks.utils import one_hot

    rng = np.random.default_rng(8)
    out, y = _masks(rng)
    res = _compute("segmentation", ["dice"], out, y, batches=2)
    pred = out.argmax(1).numpy()
    assert res["dice"] == pytest.approx(_dice_ref(pred, y[:, 0].numpy(), 3), abs=1e-6)
    ref = compute_dice(one_hot(out.argmax(1, keepdim=True), 3), one_hot(y, 3), include_background=False)
    assert res["dice"] == pytest.approx(float(np.nanmean(ref.numpy())), abs=1e-6)
    res_bg = _compute("segmentation", ["dice"], out, y, include_background=True)
    assert res_bg["dice"] == pytest.approx(_dice_ref(pred, y[:, 0].numpy(), 3, True), abs=1e-6)


def test_segmentation_empty_masks_convention():
    """Empty ground truth is skipped (MONAI ignore_empty=True): NaN if every mask is empty, even with a
    false-positive prediction; an empty truth next to a non-empty one does not pull the mean to 0 or 1."""
    out = torch.full((2, 1, 8, 8), -5.0)
    out[0, 0, 2:4, 2:4] = 5.0  # a false positive on image 0
    empty = torch.zeros(2, 1, 8, 8)
    assert math.isnan(_compute("segmentation", ["dice"], out, empty, batches=1)["dice"])
    truth = empty.clone()
    truth[1, 0, 5:7, 5:7] = 1  # image 1 has a lesion that the prediction misses
    assert _compute("segmentation", ["dice"], out, truth, batches=1)["dice"] == pytest.approx(0.0)
    out[1, 0, 5:7, 5:7] = 5.0
    assert _compute("segmentation", ["dice"], out, truth, batches=1)["dice"] == pytest.approx(1.0)
    # images with some empty classes: mean over valid classes per image, then over images (MONAI)
    rng = np.random.default_rng(10)
    logits, y = _masks(rng, n=3, c=4, size=12)
    y[0][y[0] == 3] = 1  # class 3 absent from image 0
    y[1][y[1] >= 2] = 0  # classes 2, 3 absent from image 1
    res = _compute("segmentation", ["dice"], logits, y, batches=1)
    assert res["dice"] == pytest.approx(_dice_ref(logits.argmax(1).numpy(), y[:, 0].numpy(), 4), abs=1e-6)


def test_hausdorff_matches_monai():
    from monai.metrics import compute_hausdorff_distance
    from monai.networks.utils import one_hot

    rng = np.random.default_rng(9)
    out, y = _masks(rng, n=2, c=2, size=20)
    res = _compute("segmentation", ["dice", "hausdorff"], out, y, batches=1)
    ref = compute_hausdorff_distance(one_hot(out.argmax(1, keepdim=True), 2), one_hot(y, 2), percentile=95)
    assert res["hausdorff"] == pytest.approx(float(ref.mean()), rel=1e-6)
