"""Windowing presets, smallest faithful dtypes, overlay geometry checks and bad overlays."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest

from medimg_kernel.errors import ConfigError, ShapeMismatchError
from medimg_kernel.viz.scene import prepare_scene
from medimg_kernel.viz.volume import VolumeWarning
from medimg_kernel.viz.windowing import WINDOW_PRESETS, apply_window, resolve_window


def test_presets_cover_common_ct_windows():
    for name in ("brain", "lung", "bone", "abdomen", "liver", "mediastinum", "subdural"):
        assert name in WINDOW_PRESETS
    assert WINDOW_PRESETS["lung"] == (-600.0, 1500.0)
    w = resolve_window("Lung", np.zeros(3))
    assert (w.low, w.high, w.source) == (-1350.0, 150.0, "lung")


def test_apply_window_maps_edges_to_0_and_255():
    w = resolve_window("brain", np.zeros(1))  # 40 +- 40 HU
    hu = np.array([-1000.0, 0.0, 40.0, 80.0, 3000.0])
    out = apply_window(hu, w)
    assert out.dtype == np.uint8
    assert out.tolist() == [0, 0, 128, 255, 255]
    # the window keeps the way back to HU (NIfTI scl_slope / scl_inter)
    assert out[2] * w.slope + w.low == pytest.approx(40.0, abs=w.slope)


def test_bad_windows_name_the_choices():
    with pytest.raises(ConfigError, match="lung"):
        resolve_window("lungs", np.zeros(1))
    with pytest.raises(ConfigError, match="width must be > 0"):
        resolve_window((40, 0), np.zeros(1))


def test_auto_window_ignores_outliers():
    rng = np.random.default_rng(0)
    data = rng.normal(100, 10, 100_000)
    data[:10] = 1e6
    w = resolve_window(None, data)
    assert 50 < w.low < 100 < w.high < 150


def test_smallest_faithful_dtypes_and_bytes_per_voxel(mni):
    labels = np.zeros(mni.t1.shape, dtype=np.int64)
    labels[mni.gm > 0.5] = 1
    labels[mni.wm > 0.5] = 300  # needs uint16
    scene = prepare_scene(
        mni.t1, [(mni.gm > 0.5).astype(np.int64), labels], mni.wm.astype(np.float64), affine=mni.affine
    )
    assert scene.base.dtype == np.uint8
    assert scene.labels[0].data.dtype == np.uint8
    assert scene.labels[1].data.dtype == np.uint16
    assert scene.heat.data.dtype == np.float16
    assert scene.base.nbytes / scene.base.size == 1.0  # the image: one byte per voxel after windowing


def test_nan_and_inf_are_replaced_with_a_warning(phantom):
    phantom[0, 0, 0] = np.nan
    phantom[1, 0, 0] = np.inf
    with pytest.warns(VolumeWarning, match="2 NaN/Inf"):
        scene = prepare_scene(phantom, window=(50, 100))
    assert scene.base[0, 0, 0] == 0 and scene.base[1, 0, 0] == 255


def test_empty_labels_warn_but_show_the_image(phantom):
    with pytest.warns(VolumeWarning, match="empty"):
        scene = prepare_scene(phantom, np.zeros_like(phantom, dtype=np.uint8))
    assert scene.labels[0].n_labels == 0


def test_fractional_or_negative_labels_are_refused(phantom):
    with pytest.raises(ConfigError, match="overlay="):
        prepare_scene(phantom, phantom / 7.0)
    with pytest.raises(ConfigError, match="negative"):
        prepare_scene(phantom, -np.ones(phantom.shape, dtype=np.int16))


def test_bare_arrays_of_another_shape_are_refused_naming_both(phantom):
    with pytest.raises(ShapeMismatchError) as err:
        prepare_scene(phantom, np.zeros((10, 12, 8), dtype=np.uint8))
    msg = str(err.value)
    assert "(20, 24, 16)" in msg and "(10, 12, 8)" in msg


def test_overlays_with_geometry_are_resampled(phantom):
    img = nib.Nifti1Image(phantom, np.diag([1.0, 1.0, 1.0, 1.0]))
    coarse = np.zeros((10, 12, 8), dtype=np.uint8)
    coarse[1:3, 5:7, 3:5] = 1  # the same cube at half resolution
    lab = nib.Nifti1Image(coarse, np.diag([2.0, 2.0, 2.0, 1.0]))
    scene = prepare_scene(img, lab)
    assert scene.labels[0].data.shape == (20, 24, 16)
    inside = np.argwhere(scene.labels[0].data == 1)
    assert inside.min(axis=0)[0] >= 1 and inside.max(axis=0)[0] <= 6
    with pytest.raises(ShapeMismatchError, match="resample=True"):
        prepare_scene(img, lab, resample=False)


def test_bare_labels_follow_the_image_reorientation(phantom):
    # image in LAS order (x flipped); bare labels given in the same raw voxel order must flip with it
    affine = np.diag([-1.0, 1.0, 1.0, 1.0])
    scene = prepare_scene(phantom, (phantom > 50).astype(np.uint8), affine=affine)
    np.testing.assert_array_equal(scene.labels[0].data > 0, scene.base == scene.base.max())


def test_modalities_and_channels(mni):
    scene = prepare_scene(mni.t1, modalities={"PET": mni.gm}, affine=mni.affine)
    assert [m.name for m in scene.modalities] == ["PET"] and scene.modalities[0].data.dtype == np.uint8
    stacked = prepare_scene(np.stack([mni.t1, mni.wm]), affine=mni.affine)  # (C, X, Y, Z)
    assert stacked.shape == mni.t1.shape and [m.name for m in stacked.modalities] == ["channel 1"]


def test_unknown_colormap(phantom):
    with pytest.raises(ConfigError, match="viridis"):
        prepare_scene(phantom, colormap="rainbowz")
