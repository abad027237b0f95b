"""Registration by mutual information recovers a known movement across contrasts (T2 onto T1)."""

from __future__ import annotations

import numpy as np
import pytest

import medimg_kernel as mk
from medimg_kernel import fusion as F
from medimg_kernel.errors import ConfigError, ShapeMismatchError


@pytest.fixture(scope="module")
def patient():
    d = mk.load("synthetic-multimodal", split="val", tier="smoke", as_arrays=True, n=1, size=32)
    return d["t1"][0], d["t2"][0], d["seg"][0], np.asarray(d["affine"])


def _landmarks(t1, affine, n=30):
    inside = np.argwhere(t1 > np.percentile(t1, 60))
    vox = inside[np.random.default_rng(0).choice(len(inside), n, replace=False)]
    return (affine @ np.c_[vox, np.ones(n)].T).T[:, :3]


def test_rigid_then_affine_recovers_a_known_movement(patient):
    t1, t2, seg, affine = patient
    moved, truth = F.misalign(t2, affine, rotation_deg=(6, -4, 8), translation_mm=(3, -2, 2.5), scale=(1.05, 1, 0.97))
    seg_moved, _ = F.misalign(seg, affine, rotation_deg=(6, -4, 8), translation_mm=(3, -2, 2.5),
                              scale=(1.05, 1, 0.97), labels=True)
    reg = F.register(t1, moved, affine, affine)
    pts = _landmarks(t1, affine)
    before, after = F.target_registration_error(pts, truth).mean(), F.target_registration_error(pts, truth, reg.transform).mean()
    voxel = np.linalg.norm(affine[:3, 0])
    assert before > voxel and after < 0.3 * voxel, (before, after, voxel)
    assert [s["stage"] for s in reg.stages] == ["rigid", "affine"] and all(s["metric"] < 0 for s in reg.stages)
    back = reg.apply(seg_moved, labels=True)
    assert back.dtype == seg.dtype and set(np.unique(back)) <= set(np.unique(seg))
    dice = lambda a, b: 2 * ((a > 0) & (b > 0)).sum() / ((a > 0).sum() + (b > 0).sum())  # noqa: E731
    assert dice(back, seg) > dice(seg_moved, seg) + 0.1
    assert reg.registered.shape == t1.shape
    # points mapped by the fitted transform land where the true movement put them
    np.testing.assert_allclose(reg.map_points(pts[:3]), [truth.TransformPoint(tuple(p)) for p in pts[:3]], atol=voxel)


def test_bad_input_is_refused_in_one_line(patient):
    t1, t2, _, affine = patient
    with pytest.raises(ConfigError, match="stages"):
        F.register(t1, t2, affine, affine, stages=("bspline",))
    with pytest.raises(ShapeMismatchError, match="3D"):
        F.register(t1[..., 0], t2[..., 0])
