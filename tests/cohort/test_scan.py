"""Cohort tables from real NIfTI and DICOM files: geometry from headers, data streamed, bad files as rows."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

import medimg_kernel as mk


def test_one_row_per_scan_with_header_geometry(faulty_cohort):
    folder, truth = faulty_cohort
    table = mk.cohort.scan(folder / "manifest.csv", progress=False)
    images = table[(table.role == "image") & (table.format == "nifti")]
    labels = table[table.role == "label"]
    assert len(images) == 60 and len(labels) == 60
    assert set(table.columns) >= set(mk.cohort.COLUMNS) and "site" in table  # manifest columns kept
    ok = images[images.error.isna()].iloc[3]
    img = nib.load(ok.path)
    data = np.asarray(img.dataobj)
    assert ok["shape"] == img.shape and ok["dtype"] == "float32" and ok.orientation == "RAS"
    assert np.allclose(ok.spacing, img.header.get_zooms(), atol=1e-6)
    assert ok["min"] == pytest.approx(float(data.min())) and ok["max"] == pytest.approx(float(data.max()))
    assert ok["mean"] == pytest.approx(float(data.mean()), rel=1e-6)
    assert ok.file_size == (folder / ok.path).stat().st_size and len(ok.file_hash) == 64
    lab = labels[labels.image == ok.path].iloc[0]
    assert lab.label_values == (0.0, 1.0, 2.0)


def test_dicom_grouped_by_series(faulty_cohort):
    folder, _ = faulty_cohort
    table = mk.cohort.scan(folder, progress=False)
    dcm = table[table.format == "dicom"]
    assert len(dcm) == 2 and set(dcm.n_files) == {12}
    row = dcm.iloc[0]
    assert row.modality == "CT" and row["shape"] == (32, 32, 12)
    assert np.allclose(row.spacing, (0.8, 0.8, 2.5)) and row.orientation == "LPS"
    assert row.series_uid and row.subject.startswith("sub-D")
    assert row["min"] < 0  # rescale intercept applied


def test_headers_only_reads_no_voxels(faulty_cohort, monkeypatch):
    folder, _ = faulty_cohort
    from medimg_kernel.cohort import tables as scan_mod

    def boom(*a, **k):
        raise AssertionError("voxel data read in header-only mode")

    monkeypatch.setattr(scan_mod._Stats, "update", boom)
    table = mk.cohort.scan(folder, read_data=False, progress=False)
    assert table["min"].isna().all() and table.shape[0] > 100
    assert table.error.isna().sum() >= len(table) - 1


def test_bad_files_become_error_rows(tmp_path):
    good = np.random.default_rng(0).normal(size=(16, 16, 8)).astype(np.float32)
    nib.save(nib.Nifti1Image(good, np.eye(4)), tmp_path / "a.nii")
    nib.save(nib.Nifti1Image(good, np.eye(4)), tmp_path / "b.nii")
    raw = (tmp_path / "b.nii").read_bytes()
    (tmp_path / "b.nii").write_bytes(raw[:600])  # header intact, data cut
    nib.save(nib.Nifti1Image(good, np.eye(4)), tmp_path / "c.nii.gz")
    gz = (tmp_path / "c.nii.gz").read_bytes()
    (tmp_path / "c.nii.gz").write_bytes(gz[: len(gz) // 2])
    (tmp_path / "d.nii").write_bytes(b"not an image at all" * 20)
    (tmp_path / "e.dcm").write_bytes(b"\0" * 10)
    table = mk.cohort.scan(tmp_path, progress=False).set_index(pd.Index(["a", "b", "c", "d", "e"]))
    assert table.at["a", "error"] is None
    assert table.at["b", "error"].startswith("truncated") and table.at["c", "error"].startswith("truncated")
    assert table.at["d", "error"].startswith("unreadable") and table.at["e", "error"]
    # header-only mode still sees the uncompressed truncation
    assert mk.cohort.scan(tmp_path, read_data=False, progress=False).error.str.startswith("truncated").sum() == 1


def test_distributed_scan_equals_threaded(faulty_cohort, dask_client):
    folder, _ = faulty_cohort
    local = mk.cohort.scan(folder, client=False, progress=False)
    dist = mk.cohort.scan(folder, client=dask_client, progress=False)
    pd.testing.assert_frame_equal(local, dist)


def test_missing_source_is_one_clear_error(tmp_path):
    with pytest.raises(mk.MedimgKernelError, match="does not exist"):
        mk.cohort.scan(tmp_path / "nope", progress=False)
