"""The reading boundary: DICOM series checks (strict / strict=False), true colour, grids, dataset loads with
bad files, and ``mk.load`` without torch. Real files written with pydicom, nibabel and Pillow."""

from __future__ import annotations

import subprocess
import sys
import warnings

import nibabel as nib
import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

import medimg_kernel as mk
from medimg_kernel.data.io import DataWarning, check_same_grid, read_image
from medimg_kernel.errors import DataError, ShapeMismatchError


def _slice(path, z, series_uid, *, pos=None, pixels=True, iop=(1, 0, 0, 0, 1, 0), suffix=".dcm", value=None):
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, meta.MediaStorageSOPInstanceUID
    ds.Modality, ds.SeriesInstanceUID, ds.StudyInstanceUID = "CT", series_uid, "1.2.3"
    ds.InstanceNumber = z + 1
    ds.ImagePositionPatient = list(pos if pos is not None else (0.0, 0.0, 2.0 * z))
    ds.ImageOrientationPatient = list(iop)
    ds.PixelSpacing = [0.8, 0.7]
    ds.SliceThickness = 2.0
    ds.Rows, ds.Columns = 6, 5
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.RescaleSlope, ds.RescaleIntercept = 1, -1024
    if pixels:
        arr = np.full((6, 5), 1000 + z if value is None else value, np.uint16)
        arr[0, 0] = 0  # a corner marker: row 0, column 0
        ds.PixelData = arr.tobytes()
    out = path / f"IM{z:04d}{suffix}"
    ds.save_as(out, enforce_file_format=True)
    return out


@pytest.fixture
def series(tmp_path):
    folder = tmp_path / "ct"
    folder.mkdir()
    uid = generate_uid()
    files = [_slice(folder, z, uid) for z in range(6)]
    return folder, uid, files


def test_series_volume_values_and_geometry(series):
    folder, _, _ = series
    img = read_image(folder)
    assert img.array.shape == (5, 6, 6)  # columns, rows, slices
    assert img.spacing == pytest.approx((0.7, 0.8, 2.0))
    assert img.array[0, 0, 0] == -1024 and img.array[1, 1, 3] == 1000 + 3 - 1024  # rescaled HU, z order
    assert not img.dropped


def test_suffixless_slices_are_read_by_their_preamble(tmp_path):
    folder = tmp_path / "noext"
    folder.mkdir()
    uid = generate_uid()
    files = [_slice(folder, z, uid, suffix="") for z in range(3)]
    assert read_image(folder).array.shape == (5, 6, 3)
    assert read_image(files[0]).array.shape == (5, 6, 1)
    from medimg_kernel.viz.volume import as_volume

    assert as_volume(files[0]).shape == (5, 6, 1)  # mk.view/snapshot on a suffix-less slice


def test_slice_without_pixel_data_is_refused_or_dropped_with_a_warning(series):
    folder, uid, files = series
    _slice(folder, 5, uid, pixels=False)  # overwrite the last slice without pixels
    with pytest.raises(DataError, match=r"without pixel data: IM0005\.dcm") as err:
        read_image(folder)
    assert str(folder) in str(err.value) and "strict=False" in str(err.value)
    with pytest.warns(DataWarning, match="left out 1"):
        img = read_image(folder, strict=False)
    assert img.array.shape[2] == 5 and "IM0005.dcm" in img.dropped[0]
    from medimg_kernel.viz.volume import as_volume

    vol = as_volume(
        img
    )  # what the error advises for the viewers: mk.view(mk.read_image(folder, strict=False))
    assert vol.shape == (5, 6, 5) and vol.spacing == pytest.approx((0.7, 0.8, 2.0))


def test_spacing_gap_is_refused_and_the_longest_run_kept(series):
    folder, _, files = series
    files[2].unlink()  # a missing slice: 2 mm, then 4 mm
    with pytest.raises(DataError, match=r"inconsistent slice spacing.*IM0001\.dcm and IM0003\.dcm"):
        read_image(folder)
    with pytest.warns(DataWarning):
        img = read_image(folder, strict=False)
    assert img.array.shape[2] == 3 and len(img.dropped) == 2  # IM0003..5 kept, IM0000..1 dropped


def test_duplicate_orientation_change_and_mixed_series(series):
    folder, uid, _ = series
    dup = _slice(folder, 9, uid, pos=(0.0, 0.0, 4.0))
    with pytest.raises(DataError, match="same position"):
        read_image(folder)
    dup.unlink()
    tilted = _slice(folder, 9, uid, pos=(0.0, 0.0, 12.0), iop=(1, 0, 0, 0, 0, -1))
    with pytest.raises(DataError, match="another orientation: IM0009"):
        read_image(folder)
    tilted.unlink()
    _slice(folder, 9, generate_uid(), pos=(0.0, 0.0, 12.0))
    with pytest.raises(DataError, match="mixes 2 DICOM series"):
        read_image(folder)
    with pytest.warns(DataWarning, match="series"):
        assert read_image(folder, strict=False).array.shape[2] == 6
    assert read_image(folder, series=uid).array.shape[2] == 6


def test_unreadable_slice_is_listed(series):
    folder, _, files = series
    files[3].write_bytes(files[3].read_bytes()[:300])
    with pytest.raises(DataError, match=r"1 unreadable file.*IM0003\.dcm \(is incomplete.*truncated"):
        read_image(folder)


def test_image_and_label_grids_are_checked(tmp_path):
    a = tmp_path / "img.nii.gz"
    b = tmp_path / "lab.nii.gz"
    nib.save(nib.Nifti1Image(np.zeros((4, 5, 6), np.float32), np.diag([1.0, 1, 1, 1])), a)
    nib.save(nib.Nifti1Image(np.zeros((4, 5, 6), np.uint8), np.diag([2.0, 1, 1, 1])), b)
    with pytest.raises(
        ShapeMismatchError, match=r"img.nii.gz: shape \(4, 5, 6\), spacing 1 x 1 x 1.*lab.nii.gz.*2 x 1 x 1"
    ):
        check_same_grid(read_image(a), read_image(b))


def test_png_rgb_is_true_colour_in_the_snapshot(tmp_path):
    from PIL import Image

    from medimg_kernel.viz.scene import prepare_scene
    from medimg_kernel.viz.snapshot import compose_plane

    rgb = np.zeros((8, 10, 3), np.uint8)
    rgb[0, :, 0] = 255  # top row red
    rgb[:, -1, 2] = 200  # right column blue
    path = tmp_path / "photo.png"
    Image.fromarray(rgb).save(path)
    img = read_image(path)
    assert img.rgb and img.array.shape == (10, 8, 1, 3)
    scene = prepare_scene(path)
    plane = compose_plane(scene, 2, (0, 0, 0))
    np.testing.assert_array_equal(plane, rgb)  # as the picture: row 0 on top, colours kept


def test_mk_load_does_not_import_torch():
    code = "import sys, medimg_kernel as mk; mk.load; print('torch' in sys.modules, 'monai' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_loader_table_is_what_the_registry_accepts():
    from medimg_kernel.data.loaders import LOADERS, register_loader
    from medimg_kernel.data.registry import loader_names
    from medimg_kernel.errors import RegistryError

    assert set(loader_names()) == set(LOADERS) >= {"synthetic", "sample", "mednist", "msd", "medmnist", "ixi"}
    with pytest.raises(RegistryError, match="registered twice"):
        register_loader("msd")(lambda entry, req: None)


def test_msd_dataset_with_bad_files_fails_first_or_skips(manifest, data_dir):
    ds = mk.load("test-msd", split="train", data_dir=data_dir, manifests=[manifest], size=8)
    images = [d["image"] for d in ds.data]
    from pathlib import Path

    bad = [Path(images[0]), Path(images[1])]
    saved = [p.read_bytes() for p in bad]
    try:
        bad[0].write_bytes(saved[0][:200])  # truncated gzip
        bad[1].write_bytes(b"")  # empty
        with pytest.raises(DataError) as err:
            mk.load("test-msd", split="train", data_dir=data_dir, manifests=[manifest], size=8)
        msg = str(err.value)
        assert (
            "2 of 3 files" in msg and str(bad[0]) in msg and str(bad[1]) in msg and "on_error='skip'" in msg
        )
        ds = mk.load(
            "test-msd", split="train", data_dir=data_dir, manifests=[manifest], size=8, on_error="skip"
        )
        assert len(ds) == 1 and ds.n_skipped == 2 and tuple(ds[0]["image"].shape) == (1, 8, 8, 8)
        arrays = mk.load(
            "test-msd",
            split="train",
            data_dir=data_dir,
            manifests=[manifest],
            size=8,
            on_error="skip",
            as_arrays=True,
        )
        assert arrays["n_skipped"] == 2 and arrays["images"].shape[0] == 1
    finally:
        for p, b in zip(bad, saved):
            p.write_bytes(b)


def test_mednist_skip_and_worker_read_error_names_the_file(manifest, data_dir):
    ds = mk.load("test-mednist", split="train", data_dir=data_dir, manifests=[manifest])
    from pathlib import Path

    victim = Path(ds.data[0]["image"])
    saved = victim.read_bytes()
    try:
        victim.write_bytes(saved[: len(saved) // 3])  # the header survives: only a full decode sees it
        ds = mk.load("test-mednist", split="train", data_dir=data_dir, manifests=[manifest])
        with pytest.raises(DataError, match=str(victim)):
            ds[0]
        with pytest.raises(DataError, match="1 of 36 files"):
            mk.load("test-mednist", split="train", data_dir=data_dir, manifests=[manifest], validate="full")
        ds = mk.load("test-mednist", split="train", data_dir=data_dir, manifests=[manifest], on_error="skip")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            item = ds[0]
        assert tuple(item["image"].shape) == (1, 32, 32) and ds.n_skipped == 1
    finally:
        victim.write_bytes(saved)


def test_train_npz_missing_key_is_a_data_error(tmp_path):
    from medimg_kernel.data.io import read_arrays

    path = tmp_path / "d.npz"
    np.savez(path, images=np.zeros((2, 1, 4, 4)))
    with pytest.raises(DataError, match=r"d.npz: has no array 'labels'"):
        read_arrays(path, ("images", "labels"))


def test_rt_dose_big_endian_values(tmp_path):
    from pydicom.data import get_testdata_file

    f = get_testdata_file("rtdose_expb.dcm") or pytest.skip("pydicom test file missing")
    ds = pydicom.dcmread(f)
    img = read_image(f)
    ref = ds.pixel_array.astype(np.float64) * float(ds.DoseGridScaling)
    got = np.swapaxes(img.array, 0, 2)
    assert img.array.dtype.isnative and np.allclose(np.sort(got.ravel()), np.sort(ref.ravel()))


def test_missing_decoder_names_the_extra_to_install(tmp_path):
    """A JPEG-LS file with every JPEG-LS decoder unimportable: refused, naming the file and the extra."""
    code = """
import sys
for mod in ("libjpeg", "pylibjpeg", "jpeg_ls", "gdcm", "pyjpegls"):
    sys.modules[mod] = None  # as if not installed
from pydicom.data import get_testdata_file
from medimg_kernel.data.io import read_image
from medimg_kernel.errors import DataError
path = get_testdata_file("MR_small_jpeg_ls_lossless.dcm")
try:
    read_image(path)
except DataError as err:
    print(str(err))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "MR_small_jpeg_ls_lossless.dcm" in out and "JPEG-LS" in out
    assert "medimg-kernel[dicom]" in out and "no decoder for it is installed" in out


def test_dataloader_workers_raise_the_package_error_naming_the_file(tmp_path):
    """A file that breaks after the up-front check: a DataLoader worker raises DataError naming it."""
    from torch.utils.data import DataLoader

    from medimg_kernel.data.torch_datasets import FileDataset

    items = []
    for k in range(4):
        p = tmp_path / f"v{k}.nii.gz"
        nib.save(nib.Nifti1Image(np.random.default_rng(k).random((8, 8, 8), dtype=np.float32), np.eye(4)), p)
        items.append({"image": str(p)})
    data = (tmp_path / "v2.nii.gz").read_bytes()
    (tmp_path / "v2.nii.gz").write_bytes(data[: len(data) // 2])  # gzip truncated inside the voxels
    ds = FileDataset(items, ["image"])
    with pytest.raises(DataError, match=r"v2\.nii\.gz: is truncated"):
        for _ in DataLoader(ds, batch_size=1, num_workers=2):
            pass
    skip = FileDataset(items, ["image"], on_error="skip")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        batches = [b["image"].shape for b in DataLoader(skip, batch_size=1, num_workers=0)]
    assert len(batches) == 4 and skip.n_skipped == 1  # the item after it stands in


def test_medimg_train_with_a_corrupt_npz_is_one_line(tmp_path, capsys):
    from medimg_kernel.cli import main

    npz = tmp_path / "d.npz"
    np.savez(npz, images=np.zeros((8, 1, 8, 8), np.float32), labels=np.zeros(8, np.int64))
    npz.write_bytes(npz.read_bytes()[:150])  # truncated zip
    cfg = tmp_path / "run.yaml"
    cfg.write_text(
        "model: {name: simplecnn, spatial_dims: 2, in_channels: 1, out_channels: 2}\n"
        f"data: {{npz: {npz}}}\ntrainer: {{max_epochs: 1, batch_size: 4}}\n"
    )
    assert main(["train", str(cfg)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("medimg: error: ") and str(npz) in err[-1] and "Traceback" not in "\n".join(err)
