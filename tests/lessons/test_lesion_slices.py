"""lesion_slices: labelled 3D scans (MSD Lung's layout) to a 2D detection set with centres, radii and boxes."""

from __future__ import annotations

import numpy as np
import pytest

from medimg_kernel.errors import ShapeMismatchError
from medimg_kernel.lessons.detection import lesion_slices


def test_each_scan_gives_its_most_lesioned_slice_and_one_without():
    vol = np.random.default_rng(0).normal(size=(2, 1, 20, 20, 6)).astype(np.float32)
    mask = np.zeros_like(vol, dtype=np.uint8)
    mask[0, 0, 2:6, 3:7, 4] = 1  # 4x4 = 16 px, centre (3.5, 4.5)
    mask[0, 0, 12:14, 12:15, 4] = 1  # a second component on the same slice, 2x3
    mask[0, 0, 3:5, 3:5, 1] = 1  # a smaller one on another slice: not the chosen slice
    d = lesion_slices(vol, mask, seed=0)  # scan 1 has no lesion at all: only its empty slice
    assert d["images"].shape == (3, 1, 20, 20) and d["labels"].tolist() == [1, 0, 0]
    assert d["images"].min() >= 0 and d["images"].max() <= 1 and d["images"].dtype == np.float32
    np.testing.assert_allclose(d["centers"][0], [[3.5, 4.5], [12.5, 13.0]])
    np.testing.assert_allclose(d["radii"][0], np.sqrt([16 / np.pi, 6 / np.pi]))
    np.testing.assert_array_equal(d["boxes"][0], [[2, 3, 6, 7], [12, 12, 14, 15]])
    assert d["centers"][1].shape == (0, 2) and d["boxes"][2].shape == (0, 4)
    assert d["masks"].shape == (3, 1, 20, 20) and d["masks"][0].sum() == 22 and not d["masks"][1:].any()
    assert d["scan"].tolist() == [0, 0, 1]


def test_mismatched_grids_are_refused():
    with pytest.raises(ShapeMismatchError, match="one grid"):
        lesion_slices(np.zeros((1, 1, 8, 8, 4)), np.zeros((1, 1, 8, 8, 5)))
