"""Zarr v3 and OME-Zarr round trips are bit for bit; a cohort reads back as a lazy dask.array."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest
import zarr

import medimg_kernel as mk


def _volume(dtype, seed=0):
    rng = np.random.default_rng(seed)
    v = (rng.normal(0, 300, (37, 29, 21))).astype(dtype)
    if np.issubdtype(dtype, np.floating):
        v[1, 2, 3], v[4, 5, 6] = np.nan, -np.inf
    return v


@pytest.mark.parametrize("dtype", [np.float32, np.int16, np.uint8, np.float64])
@pytest.mark.parametrize("ome", [False, True])
def test_round_trip_bit_for_bit(tmp_path, dtype, ome):
    vol = _volume(dtype)
    aff = np.array([[0.8, 0, 0, -10], [0, 0.9, 0, 5], [0, 0, 2.5, 1], [0, 0, 0, 1]])
    nib.save(nib.Nifti1Image(vol, aff), tmp_path / "v.nii.gz")
    store = mk.cohort.to_zarr(tmp_path / "v.nii.gz", tmp_path / "v.zarr", chunks=(16, 16, 16), ome=ome)
    back, aff2 = mk.cohort.from_zarr(store)
    assert back.dtype == vol.dtype and back.shape == vol.shape
    assert back.tobytes() == vol.tobytes()
    np.testing.assert_array_equal(aff2, nib.load(tmp_path / "v.nii.gz").affine)  # the file keeps float32
    lazy = mk.cohort.open_dask(store)
    assert lazy.shape == vol.shape and lazy.numblocks != (1, 1, 1)
    assert lazy.compute().tobytes() == vol.tobytes()


def test_ome_metadata_has_physical_scale(tmp_path):
    vol = _volume(np.int16)
    aff = np.diag([0.8, 0.9, 2.5, 1.0])
    store = mk.cohort.to_zarr(nib.Nifti1Image(vol, aff), tmp_path / "o.zarr", ome=True)
    attrs = dict(zarr.open_group(store, mode="r").attrs)
    ms = attrs["ome"]["multiscales"][0]
    assert [a["name"] for a in ms["axes"]] == ["z", "y", "x"]
    scale = ms["datasets"][0]["coordinateTransformations"][0]["scale"]
    np.testing.assert_allclose(scale, [2.5, 0.9, 0.8])


def test_cohort_reads_lazily(faulty_cohort, dask_client):
    _, truth = faulty_cohort
    clean = truth[truth.fault.isna() & truth.label.notna()].path.head(8).tolist()
    import tempfile

    with tempfile.TemporaryDirectory() as root:
        stores = mk.cohort.cohort_to_zarr(clean, root, chunks=(16, 16, 12), client=dask_client, progress=False)
        stack = mk.cohort.read_cohort(stores)
        assert stack.shape == (8, 32, 32, 24) and stack.chunksize == (1, 16, 16, 12)
        mean = stack.mean(axis=(1, 2, 3)).compute()
        ref = [np.asarray(nib.load(p).dataobj).mean(dtype=np.float64) for p in clean]
        np.testing.assert_allclose(mean, ref, rtol=1e-5)


def test_mixed_shapes_are_refused(tmp_path):
    a = mk.cohort.to_zarr(np.zeros((4, 4, 4)), tmp_path / "a.zarr")
    b = mk.cohort.to_zarr(np.zeros((4, 4, 5)), tmp_path / "b.zarr")
    with pytest.raises(mk.MedimgKernelError, match="different shapes"):
        mk.cohort.read_cohort([a, b])
