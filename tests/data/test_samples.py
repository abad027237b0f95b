"""Shipped real samples load offline from installed packages."""

from __future__ import annotations

import numpy as np
import pytest

import medimg_kernel as mk
from medimg_kernel.data.samples import SAMPLES, load_mni152, load_sample


def test_mni152_contract():
    m = load_mni152(2)
    assert load_mni152(2) is m  # cached per process
    assert m.t1.shape == m.gm.shape == m.wm.shape == m.csf.shape == m.mask.shape == (98, 116, 94)
    for arr in (m.t1, m.gm, m.wm, m.csf):
        assert arr.dtype == np.float32 and 0.0 <= arr.min() and arr.max() <= 1.0
    assert m.mask.dtype == bool and 0.1 < m.mask.mean() < 0.5
    assert m.affine.shape == (4, 4) and m.spacing == (2.0, 2.0, 2.0)
    assert m.csf[~m.mask].max() == 0.0
    # tissue maps sit inside the brain; WM is bright on T1
    assert m.t1[m.wm > 0.9].mean() > m.t1[m.gm > 0.9].mean() > m.t1[m.csf > 0.9].mean()
    # world coordinates of the centre voxel are near the MNI origin
    centre = m.affine @ np.r_[np.array(m.t1.shape) / 2, 1]
    assert np.all(np.abs(centre[:3]) < 25)


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_package_samples(name):
    s = load_sample(name)
    assert s["image"].dtype == np.float32 and s["image"].ndim >= 3 and np.isfinite(s["image"]).all()


@pytest.mark.parametrize("name", ["mni152", "pydicom-ct", "pydicom-mr", "skimage-ihc", "nibabel-example4d"])
def test_load_package_dataset(name):
    ds = mk.load(name, split="test")
    assert len(ds) == 1 and ds[0]["image"].ndim >= 3
    assert mk.dataset_info(name).source == "package"
