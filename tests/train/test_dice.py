"""mk.dice_per_class: agrees with MONAI's compute_dice where both define Dice, and states the empty rule."""

import math

import numpy as np
import pytest
import torch
from monai.metrics import compute_dice
from monai.networks.utils import one_hot

import medimg_kernel as mk
from medimg_kernel.errors import ShapeMismatchError


def test_matches_monai_on_random_label_maps():
    rng = np.random.default_rng(0)
    pred, truth = rng.integers(0, 4, (3, 9, 10, 11)), rng.integers(0, 4, (3, 9, 10, 11))
    ours = mk.dice_per_class(pred, truth, per_sample=True)
    ref = compute_dice(one_hot(torch.as_tensor(pred)[:, None], 4), one_hot(torch.as_tensor(truth)[:, None], 4),
                       include_background=False).nanmean(0).numpy()
    assert list(ours) == [1, 2, 3]
    assert np.allclose(list(ours.values()), ref, atol=1e-6)
    pooled = mk.dice_per_class(pred, truth)  # all voxels together
    p, t = pred == 2, truth == 2
    assert pooled[2] == pytest.approx(2 * (p & t).sum() / (p.sum() + t.sum()))


def test_empty_class_convention():
    truth = np.array([[0, 1], [1, 0]])
    assert math.isnan(mk.dice_per_class(truth, truth, classes=[2])[2])  # in neither map: undefined
    assert mk.dice_per_class(np.array([[2, 1], [1, 0]]), truth, classes=[2])[2] == 0.0  # predicted only: 0
    assert mk.dice_per_class(truth.astype(bool), truth.astype(bool)) == {1: 1.0}
    with pytest.raises(ShapeMismatchError, match="same grid"):
        mk.dice_per_class(truth, truth[:1])
