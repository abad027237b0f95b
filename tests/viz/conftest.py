from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(scope="session")
def mni():
    from medimg_kernel.data.samples import load_mni152

    return load_mni152(2)


@pytest.fixture
def phantom():
    """A 20x24x16 float32 volume with a bright cube at low x (left side in RAS voxel order)."""
    arr = np.zeros((20, 24, 16), dtype=np.float32)
    arr[2:6, 10:14, 6:10] = 100.0
    return arr
