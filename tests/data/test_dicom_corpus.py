"""pydicom's own test corpus (bundled files + the ``pydicom-data`` wheel) through the kit's viewers' reading.

Every file is read by path and as the only file (renamed without a suffix) of a folder. A file pydicom
decodes must come out with the same values as pydicom's ``pixel_array`` after the documented display
transform (``medimg_kernel.data.io.dicom``), or be refused with a ``DataError``; anything else (pydicom
cannot read or decode it) must be refused with a ``DataError``. No raw exception, none wrong. The
summary (files checked, refused, extra time over pydicom's own decode) is printed; wall-clock times are
reported, not asserted (the machine is shared).
"""

from __future__ import annotations

import hashlib
import shutil
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

pydicom = pytest.importorskip("pydicom")
from pydicom.data import get_testdata_files  # noqa: E402
from pydicom.pixels import apply_color_lut, apply_modality_lut  # noqa: E402

from medimg_kernel.data.io import read_image  # noqa: E402
from medimg_kernel.errors import DataError  # noqa: E402
from medimg_kernel.viz.scene import prepare_scene  # noqa: E402
from medimg_kernel.viz.snapshot import PLANES, compose_plane  # noqa: E402
from medimg_kernel.viz.volume import _reorient_ras, as_volume  # noqa: E402

SEG = "1.2.840.10008.5.1.4.1.1.66.4"


def _corpus() -> list[str]:
    return sorted(f for f in get_testdata_files("*") if Path(f).is_file())


def _reference(path: str):
    """(dataset, frames after the display transform (F, R, C[, S]), seconds) or None if pydicom can't."""
    t0 = time.perf_counter()
    try:
        try:
            ds = pydicom.dcmread(path)
        except pydicom.errors.InvalidDicomError:  # no preamble: pydicom reads it when forced
            ds = pydicom.dcmread(path, force=True)
        if not any(k in ds for k in ("PixelData", "FloatPixelData", "DoubleFloatPixelData")):
            return None
        if "TransferSyntaxUID" not in getattr(ds, "file_meta", {}):  # no file meta: the encoding tells
            from pydicom.dataset import FileMetaDataset
            from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

            implicit, little = ds.original_encoding
            ds.file_meta = getattr(ds, "file_meta", None) or FileMetaDataset()
            ds.file_meta.TransferSyntaxUID = (
                ImplicitVRLittleEndian
                if implicit
                else ExplicitVRLittleEndian
                if little
                else ExplicitVRBigEndian
            )
        arr = ds.pixel_array
    except Exception:  # noqa: BLE001 - pydicom can't: the kit must refuse
        return None
    seconds = time.perf_counter() - t0
    nf, spp = int(ds.get("NumberOfFrames", 1) or 1), int(ds.get("SamplesPerPixel", 1) or 1)
    frames = arr.reshape((nf, *arr.shape[-3:])) if spp > 1 else arr.reshape((nf, *arr.shape[-2:]))
    pi = ds.PhotometricInterpretation
    if pi == "PALETTE COLOR":
        return ds, apply_color_lut(frames, ds), seconds
    if spp == 1:
        if "PixelData" in ds:
            fg = ds.get("SharedFunctionalGroupsSequence")
            per = ds.get("PerFrameFunctionalGroupsSequence")
            pvt = [
                (
                    g.get("PixelValueTransformationSequence")
                    or (fg[0].get("PixelValueTransformationSequence") if fg else None)
                )
                for g in (per or [None] * nf)
                if g is not None
            ]
            if "RescaleSlope" not in ds and pvt and all(pvt) and len(pvt) == nf:
                frames = np.stack(
                    [f * float(p[0].RescaleSlope) + float(p[0].RescaleIntercept) for f, p in zip(frames, pvt)]
                )
            elif "RescaleSlope" not in ds and fg and fg[0].get("PixelValueTransformationSequence"):
                p = fg[0].PixelValueTransformationSequence[0]
                frames = frames * float(p.RescaleSlope) + float(p.RescaleIntercept)
            else:
                frames = apply_modality_lut(frames, ds)
        if ds.get("Modality") == "RTDOSE" and "DoseGridScaling" in ds:
            frames = frames * float(ds.DoseGridScaling)
        if pi == "MONOCHROME1":
            frames = frames.min() + frames.max() - frames.astype(np.float64)
    return ds, frames, seconds


def _viewer_read(folder):
    """What mk.view / mk.snapshot read for a folder (the viewers' cached reader), as an ImageData-like."""
    from types import SimpleNamespace

    from medimg_kernel.viz.volume import _load_path

    arr, affine = _load_path(folder)
    return SimpleNamespace(array=arr, affine=affine, rgb=None, meta={"labels": None})


def _frame_hashes(frames: np.ndarray) -> list[str]:
    return sorted(
        hashlib.sha1(np.ascontiguousarray(f, dtype=np.float64).tobytes()).hexdigest() for f in frames
    )


def _check_same(path: str, ds, ref: np.ndarray, img) -> None:
    got = np.swapaxes(img.array, 0, 2)  # (cols, rows, frames[, s]) -> (frames, rows, cols[, s])
    if str(ds.get("SOPClassUID", "")) == SEG and img.meta.get("labels") is not None:
        # a label map: each frame's foreground carries its segment number on the slice at the frame's
        # position (found through the reader's affine), and nothing else is labelled
        lab = np.asarray(img.array)
        inv = np.linalg.inv(img.affine)
        union = np.zeros(lab.shape, bool)
        for f, group in enumerate(ds.PerFrameFunctionalGroupsSequence):
            lps = np.asarray([float(v) for v in group.PlanePositionSequence[0].ImagePositionPatient])
            ijk = inv @ np.r_[-lps[0], -lps[1], lps[2], 1.0]  # LPS -> RAS -> voxel
            assert np.allclose(ijk[:2], 0, atol=1e-3), f"{path}: frame {f} origin off the grid"
            k = int(round(ijk[2]))
            seg_no = int(group.SegmentIdentificationSequence[0].ReferencedSegmentNumber)
            fg = ref[f].T > 0  # (rows, cols) -> (cols, rows)
            assert np.all(lab[..., k][fg] == seg_no), f"{path}: frame {f} not labelled {seg_no} at slice {k}"
            union[..., k] |= fg
        assert np.array_equal(lab > 0, union), f"{path}: voxels labelled outside every segment frame"
        return
    assert got.shape == ref.shape, f"{path}: shape {got.shape} != pydicom {ref.shape}"
    if img.rgb:
        assert ref.ndim == 4 and ref.shape[-1] == 3, path
    if np.array_equal(got, ref):  # numpy compares the values across dtypes
        return
    # frames sorted by position: the same frames, in another order
    assert _frame_hashes(got) == _frame_hashes(ref), f"{path}: values differ from pydicom's pixel_array"


@pytest.mark.slow
def test_every_corpus_file_is_shown_right_or_refused(tmp_path):
    files = _corpus()
    assert len(files) > 100, "pydicom-data is not installed (pip install pydicom-data)"
    stats = {"files": 0, "decoded_by_pydicom": 0, "shown": 0, "refused": 0, "refused_decodable": []}
    extra: list[tuple[float, str]] = []
    for k, path in enumerate(files):
        stats["files"] += 1
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = _reference(path)
            folder = tmp_path / f"case{k:03d}"
            folder.mkdir()
            shutil.copyfile(path, folder / "IM0001")  # no suffix, alone in a folder
            results = []
            big = Path(path).stat().st_size > 5_000_000  # large files: path and folder only (time)
            sources = (path, folder) if big else (path, folder / "IM0001", folder)
            for src in sources:
                t0 = time.perf_counter()
                try:
                    # the folder goes through the viewers' own reader (mk.view / mk.snapshot on a folder)
                    img = read_image(src) if src != folder else _viewer_read(folder)
                except DataError as err:
                    assert str(src) in str(err) or str(folder) in str(err), (
                        f"error does not name the file: {err}"
                    )
                    results.append(None)
                    continue
                except Exception as err:  # noqa: BLE001
                    pytest.fail(f"{src}: raw {type(err).__name__} from the kit's reader: {err}")
                seconds = time.perf_counter() - t0
                results.append(img)
                if ref is not None and src == path:
                    extra.append((seconds - ref[2], path))
        if ref is None:
            assert all(r is None for r in results), f"{path}: pydicom cannot decode it, but the kit showed it"
            stats["refused"] += 1
            continue
        stats["decoded_by_pydicom"] += 1
        if results[0] is None:
            stats["refused"] += 1
            stats["refused_decodable"].append(path)
            continue
        stats["shown"] += 1
        ds, frames, _ = ref
        for img in results:
            assert img is not None, f"{path}: read by path but refused without its suffix or as a folder"
            img.rgb, img.meta = results[0].rgb, results[0].meta
            _check_same(path, ds, frames, img)
        # the viewers' path: canonical RAS volume, then three planes of the snapshot
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            vol = as_volume(folder, max_voxels=10**9)  # reuses the viewers' read of the folder
            expect, _ = _reorient_ras(results[0].array, results[0].affine)
            assert np.array_equal(np.asarray(vol.data), np.asarray(expect))
            scene = prepare_scene(folder, max_voxels=2 * 10**6)
            assert (scene.rgb is not None) == results[0].rgb, path
            pos = tuple(s // 2 for s in scene.shape)
            for _, axis in PLANES:
                assert compose_plane(scene, axis, pos).dtype == np.uint8
    worst = max(extra) if extra else (0.0, "")
    print(
        f"\nDICOM corpus: {stats['files']} files, {stats['decoded_by_pydicom']} decoded by pydicom, "
        f"{stats['shown']} shown identically by path, suffix-less and as a folder, {stats['refused']} refused "
        f"with DataError ({len(stats['refused_decodable'])} of them decodable by pydicom: "
        f"{stats['refused_decodable']}); max extra read time over pydicom's decode {worst[0]:.2f} s ({worst[1]}), "
        f"median {np.median([e for e, _ in extra]):.3f} s (machine shared, not asserted)"
    )
    assert not stats["refused_decodable"], "files pydicom decodes were refused"
