"""Conversion of every supported input to one canonical RAS volume; geometry and bad input."""

from __future__ import annotations

import warnings

import nibabel as nib
import numpy as np
import pytest
import SimpleITK as sitk
import torch

from medimg_kernel.errors import ConfigError, ShapeMismatchError
from medimg_kernel.viz.volume import Volume, VolumeWarning, as_volume


def _marker_world(vol: Volume) -> np.ndarray:
    idx = np.argwhere(vol.data == vol.data.max()).mean(axis=0)
    return (vol.affine @ np.array([*idx, 1.0]))[:3]


def test_numpy_with_spacing_is_ras_and_anisotropic(phantom):
    vol = as_volume(phantom, spacing=(0.5, 0.8, 3.0))
    assert vol.orientation == "RAS"
    assert vol.spacing == pytest.approx((0.5, 0.8, 3.0))
    assert vol.shape == (20, 24, 16)
    assert vol.has_geometry


def test_flipped_nifti_is_reoriented_and_left_stays_left(tmp_path, phantom):
    # LPS-like voxel order: voxel index x grows towards the patient's LEFT
    affine = np.diag([-2.0, -2.0, 2.0, 1.0])
    affine[:3, 3] = [19 * 2.0, 23 * 2.0, 0.0]
    path = tmp_path / "flipped.nii.gz"
    nib.save(nib.Nifti1Image(phantom, affine), str(path))
    vol = as_volume(path)
    assert vol.orientation == "RAS" and vol.name == "flipped"
    assert np.all(np.diag(vol.affine)[:3] > 0)
    # the marker keeps its world position: voxels 2..5 at x = 38 - 2*i, i.e. the patient's right (x > 0)
    original = affine @ np.array([3.5, 11.5, 7.5, 1.0])
    np.testing.assert_allclose(_marker_world(vol), original[:3], atol=1e-6)
    # in RAS order a right-sided marker sits at HIGH x index
    assert np.argwhere(vol.data == 100).mean(axis=0)[0] > 10


def test_simpleitk_lps_to_ras(phantom):
    img = sitk.GetImageFromArray(np.transpose(phantom, (2, 1, 0)).copy())  # sitk arrays are z, y, x
    img.SetSpacing((1.0, 1.5, 2.5))
    img.SetOrigin((10.0, -20.0, 5.0))
    vol = as_volume(img)
    assert vol.orientation == "RAS"
    assert vol.spacing == pytest.approx((1.0, 1.5, 2.5))
    lps = np.array(img.TransformContinuousIndexToPhysicalPoint((3.5, 11.5, 7.5)))
    np.testing.assert_allclose(_marker_world(vol), lps * [-1, -1, 1], atol=1e-6)


@pytest.mark.parametrize("suffix", [".nrrd", ".mha"])
def test_itk_file_formats(tmp_path, phantom, suffix):
    img = sitk.GetImageFromArray(np.transpose(phantom, (2, 1, 0)).copy())
    img.SetSpacing((0.7, 0.7, 3.0))
    path = tmp_path / f"ct{suffix}"
    sitk.WriteImage(img, str(path))
    vol = as_volume(path)
    assert vol.shape == (20, 24, 16) and vol.spacing == pytest.approx((0.7, 0.7, 3.0))
    assert vol.data.max() == 100


def test_dicom_series_folder(tmp_path, phantom):
    series = tmp_path / "series"
    series.mkdir()
    vol16 = np.transpose(phantom, (2, 1, 0)).astype(np.int16)
    writer = sitk.ImageFileWriter()
    writer.KeepOriginalImageUIDOn()
    for z in range(vol16.shape[0]):
        sl = sitk.GetImageFromArray(vol16[z])
        sl.SetSpacing((0.8, 0.8))
        for tag, value in {
            "0008|0060": "CT",
            "0020|000e": "1.2.3.4.5",
            "0020|000d": "1.2.3.4",
            "0020|0013": str(z + 1),
            "0020|0032": f"0\\0\\{z * 2.0}",
            "0020|0037": "1\\0\\0\\0\\1\\0",
            "0018|0050": "2.0",
        }.items():
            sl.SetMetaData(tag, value)
        sl.SetMetaData("0008|0018", f"1.2.3.4.5.{z + 1}")
        writer.SetFileName(str(series / f"slice{z:03d}.dcm"))
        writer.Execute(sl)
    vol = as_volume(series)
    assert vol.shape == (20, 24, 16)
    assert vol.spacing == pytest.approx((0.8, 0.8, 2.0))
    assert vol.data.max() == 100


def test_torch_metatensor_and_channel_axis(phantom):
    from monai.data import MetaTensor

    t = torch.from_numpy(phantom)[None]  # (1, X, Y, Z)
    assert as_volume(t).shape == (20, 24, 16)
    affine = torch.diag(torch.tensor([2.0, 2.0, 4.0, 1.0]))
    mt = MetaTensor(t, affine=affine)
    vol = as_volume(mt)
    assert vol.spacing == pytest.approx((2.0, 2.0, 4.0)) and vol.has_geometry


def test_dataset_item_dict(mni):
    from medimg_kernel.viz.scene import prepare_scene

    item = {"image": mni.t1[None], "label": (mni.gm > 0.5)[None].astype(np.int64), "affine": mni.affine}
    scene = prepare_scene(item)
    assert scene.shape == mni.t1.shape and len(scene.labels) == 1
    assert scene.spacing == pytest.approx((2.0, 2.0, 2.0))


@pytest.mark.parametrize("shape", [(30, 40), (2, 3, 10, 10, 10), (5,)])
def test_not_3d_is_refused(shape):
    with pytest.raises(ShapeMismatchError, match="3D volume"):
        as_volume(np.zeros(shape, dtype=np.float32))


def test_unsupported_type():
    with pytest.raises(ConfigError, match="numpy array"):
        as_volume(object())


def test_huge_volume_is_downsampled_without_copy():
    # 2 GiB of float32 that occupy a few bytes: the conversion must stride, not copy
    big = np.broadcast_to(np.float32(1.0), (1024, 1024, 512))
    with pytest.warns(VolumeWarning, match="display budget"):
        vol = as_volume(big)
    assert int(np.prod(vol.shape)) <= 256 * 256 * 512
    assert vol.shape == (342, 342, 171)  # every 3rd voxel: 2x would still be 64 M voxels
    assert vol.spacing == pytest.approx((3.0, 3.0, 3.0))
    assert vol.data.nbytes < 2**31


def test_bool_and_no_warning_for_normal_input(phantom):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        vol = as_volume(phantom > 50)
    assert vol.data.dtype == np.uint8
