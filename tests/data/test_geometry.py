"""Geometry checks and resampling onto a reference grid."""

from __future__ import annotations

import numpy as np
import pytest

from medimg_kernel.data.geometry import Geometry, check_same_geometry, resample_to
from medimg_kernel.errors import ShapeMismatchError


def _aff(spacing=2.0, origin=(0.0, 0.0, 0.0), flip_x=False):
    a = np.diag([spacing, spacing, spacing, 1.0])
    if flip_x:
        a[0, 0] = -spacing
    a[:3, 3] = origin
    return a


def test_geometry_properties():
    g = Geometry.of((4, 5, 6), _aff(2.0, (10, 20, 30)))
    assert g.spacing == (2.0, 2.0, 2.0)
    assert g.origin == (10.0, 20.0, 30.0)
    assert g.orientation == "RAS"
    assert Geometry.of((4, 5, 6), _aff(flip_x=True)).orientation == "LAS"
    assert "spacing=(2, 2, 2)" in repr(g)


@pytest.mark.parametrize(
    ("other", "word"),
    [
        (Geometry.of((4, 5, 7), _aff()), "shape"),
        (Geometry.of((4, 5, 6), _aff(3.0)), "spacing"),
        (Geometry.of((4, 5, 6), _aff(flip_x=True)), "orientation"),
        (Geometry.of((4, 5, 6), _aff(origin=(5, 0, 0))), "origin"),
    ],
)
def test_differences_are_named(other, word):
    ref = Geometry.of((4, 5, 6), _aff())
    diff = ref.differences(other)
    assert diff and any(word in d for d in diff)
    with pytest.raises(ShapeMismatchError) as info:
        check_same_geometry({"t1": ref, "pet": other})
    msg = str(info.value)
    assert "'pet'" in msg and "'t1'" in msg and word in msg and "resample" in msg


def test_same_geometry_passes():
    check_same_geometry({"a": Geometry.of((3, 3, 3)), "b": Geometry.of((3, 3, 3))})


def test_resample_identity_and_coarse_to_fine():
    rng = np.random.default_rng(0)
    img = rng.random((8, 8, 8)).astype(np.float32)
    same = resample_to(img, _aff(), Geometry.of(img.shape, _aff()))
    np.testing.assert_allclose(same, img, atol=1e-5)
    # a linear ramp resampled from a 4 mm to a 2 mm grid with the same field of view stays a ramp
    x = np.arange(8, dtype=np.float32)
    ramp = np.broadcast_to(x[:, None, None], (8, 8, 8)).copy()
    coarse_aff = _aff(4.0, origin=(1.0, 1.0, 1.0))  # voxel centres at 1, 5, 9, ... mm
    fine = Geometry.of((16, 16, 16), _aff(2.0))  # voxel centres at 0, 2, 4, ... mm
    out = resample_to(ramp, coarse_aff, fine)
    world = np.arange(16) * 2.0
    expected = (world - 1.0) / 4.0
    inside = (expected >= 0) & (expected <= 7)
    np.testing.assert_allclose(out[inside, 5, 5], expected[inside], atol=1e-4)


def test_resample_nearest_keeps_labels():
    lab = np.zeros((6, 6, 6), np.uint8)
    lab[2:4, 2:4, 2:4] = 3
    out = resample_to(
        lab, _aff(2.0), Geometry.of((12, 12, 12), _aff(1.0, origin=(-0.5, -0.5, -0.5))), order=0
    )
    assert set(np.unique(out)) <= {0, 3}
    assert (out == 3).sum() == 8 * 8


def test_resample_rejects_non_3d():
    with pytest.raises(ShapeMismatchError, match="3D"):
        resample_to(np.zeros((2, 4, 4, 4)), np.eye(4), Geometry.of((4, 4, 4)))
