"""Corrupt variants of real files for every reader: truncations, flipped header bytes, wrong suffixes, empty
files, a folder where a file should be, a symlink loop. Each must give the package's ``DataError`` naming
the file (through ``read_image``, the dataset check ``probe`` and the viewers' ``as_volume``), and leave no
file behind. Runs in a few seconds."""

from __future__ import annotations

import os
import shutil

import nibabel as nib
import numpy as np
import pytest
import SimpleITK as sitk
from PIL import Image

from medimg_kernel.data.io import probe, read_image
from medimg_kernel.errors import DataError
from medimg_kernel.viz.volume import as_volume

ENTRY_POINTS = {"read_image": read_image, "probe_full": lambda p: probe(p, full=True), "as_volume": as_volume}

#: where each format's magic / critical header bytes are (flipping them must be refused)
MAGIC = {
    "nii": (344, 345, 346),
    "nii.gz": (0, 1),
    "mgz": (0, 1),
    "nrrd": (0, 1, 2, 3),
    "mha": (0, 1, 2),
    "dcm": (128, 129, 130, 131),
    "png": (1, 2, 3),
    "jpg": (0, 1, 2),
    "npz": (0, 1, 2),
}


@pytest.fixture(scope="module")
def originals(tmp_path_factory):
    """One small real file per format."""
    d = tmp_path_factory.mktemp("orig")
    vol = (np.arange(6 * 7 * 8).reshape(6, 7, 8) % 50).astype(np.int16)
    nib.save(nib.Nifti1Image(vol, np.diag([1.0, 1.5, 2.0, 1.0])), d / "a.nii")
    nib.save(nib.Nifti1Image(vol, np.eye(4)), d / "a.nii.gz")
    nib.save(nib.MGHImage(vol.astype(np.float32), np.eye(4)), d / "a.mgz")
    img = sitk.GetImageFromArray(vol)
    sitk.WriteImage(img, str(d / "a.nrrd"))
    sitk.WriteImage(img, str(d / "a.mha"))
    import pydicom
    from pydicom.data import get_testdata_file

    shutil.copyfile(get_testdata_file("CT_small.dcm"), d / "a.dcm")
    assert pydicom.dcmread(d / "a.dcm").pixel_array.shape == (128, 128)
    rgb = (
        np.random.default_rng(0).integers(0, 256, (20, 30, 3)).astype(np.uint8)
    )  # noise: data fills the file
    Image.fromarray(rgb).save(d / "a.png")
    Image.fromarray(rgb).save(d / "a.jpg", quality=90)
    np.savez(d / "a.npz", image=vol)
    for p in d.iterdir():
        read_image(p)  # the originals read fine
    return d


def _variants(orig, work):
    """(label, path) of corrupt variants of ``orig`` written into ``work``."""
    data = orig.read_bytes()
    ext = orig.name.split(".", 1)[1]
    out = []
    for frac in (0.02, 0.3, 0.6, 0.95):
        cut = max(1, int(len(data) * frac))
        p = work / f"trunc{int(frac * 100)}.{ext}"
        p.write_bytes(data[:cut])
        out.append((f"truncated at {cut}/{len(data)}", p))
    flipped = bytearray(data)
    for i in MAGIC[ext]:
        flipped[i] ^= 0xFF
    p = work / f"flipped.{ext}"
    p.write_bytes(bytes(flipped))
    out.append(("flipped magic bytes", p))
    p = work / f"empty.{ext}"
    p.write_bytes(b"")
    out.append(("empty", p))
    p = work / f"folder.{ext}"
    p.mkdir()
    (p / "notes.txt").write_text("not an image")
    out.append(("folder", p))
    p = work / f"loop.{ext}"
    os.symlink(p, p)
    out.append(("symlink loop", p))
    p = work / f"dangling.{ext}"
    os.symlink(work / "missing", p)
    out.append(("dangling link", p))
    other = "png" if ext != "png" else "nii.gz"
    p = work / f"wrongext.{other}"
    p.write_bytes(data)
    out.append((f"{ext} named .{other}", p))
    return out


def _random_flips(orig, work, rng, n=6):
    data = orig.read_bytes()
    ext = orig.name.split(".", 1)[1]
    head = min(len(data), 400)
    out = []
    for k in range(n):
        b = bytearray(data)
        for i in rng.choice(head, size=4, replace=False):
            b[int(i)] ^= int(rng.integers(1, 256))
        p = work / f"rflip{k}.{ext}"
        p.write_bytes(bytes(b))
        out.append(p)
    return out


@pytest.mark.parametrize("fmt", list(MAGIC))
def test_corrupt_variants_give_the_package_error(originals, tmp_path, fmt):
    orig = originals / f"a.{fmt}"
    work = tmp_path / "work"
    work.mkdir()
    cases = _variants(orig, work)
    before = sorted(os.listdir(work))
    for label, path in cases:
        for name, fn in ENTRY_POINTS.items():
            if label == "folder" and name == "probe_full":
                continue  # probe of a folder reads it as a DICOM series: covered by read_image
            with pytest.raises(DataError) as err:
                fn(path)
                pytest.fail(f"{fmt} {label} via {name}: accepted")
            msg = str(err.value)
            assert str(path) in msg or path.name in msg, f"{fmt} {label} via {name}: file not named: {msg}"
    assert sorted(os.listdir(work)) == before, "a reader left files behind"


@pytest.mark.parametrize("fmt", list(MAGIC))
def test_random_header_flips_read_or_refuse_cleanly(originals, tmp_path, fmt):
    rng = np.random.default_rng(abs(hash(fmt)) % 2**32)
    for path in _random_flips(originals / f"a.{fmt}", tmp_path, rng):
        try:
            read_image(path)
        except DataError as err:
            assert str(path) in str(err)


def test_dicom_folder_with_a_corrupt_slice(originals, tmp_path):
    folder = tmp_path / "series"
    folder.mkdir()
    data = (originals / "a.dcm").read_bytes()
    (folder / "IM1").write_bytes(data)
    (folder / "IM2").write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="IM2"):
        read_image(folder)
    os.symlink(folder / "IM3", folder / "IM3")
    with pytest.raises(DataError, match="IM3 .*symbolic link that loops"):
        read_image(folder, strict=True)
