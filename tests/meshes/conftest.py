from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(scope="session")
def mni1():
    from medimg_kernel.data.samples import load_mni152

    return load_mni152(1)


@pytest.fixture(scope="session")
def mni():
    from medimg_kernel.data.samples import load_mni152

    return load_mni152(2)


@pytest.fixture
def two_balls():
    """A 40x44x36 label map: label 1 a ball, label 2 a box touching the grid border; an oblique affine."""
    x, y, z = np.ogrid[:40, :44, :36]
    lab = np.zeros((40, 44, 36), dtype=np.uint8)
    lab[np.sqrt((x - 14) ** 2 + (y - 20) ** 2 + (z - 18) ** 2) < 10] = 1
    lab[28:, 5:20, 0:12] = 2
    th = np.deg2rad(20)
    rot = np.array([[np.cos(th), -np.sin(th), 0], [np.sin(th), np.cos(th), 0], [0, 0, 1]])
    aff = np.eye(4)
    aff[:3, :3] = rot @ np.diag([0.9, 1.1, 1.5])
    aff[:3, 3] = (-20.0, 5.0, 30.0)
    return lab, aff
