"""A tiny synthetic CT slice stored the way DICOM stores it (integers + rescale slope/intercept).

Shipped with assignment 01; the grader restores this file, so editing it does not change your grade.
"""

from __future__ import annotations

import numpy as np

# (slope, intercept) pairs seen in real scanners' DICOM headers
_RESCALE = ((1.0, -1024.0), (0.5, -1000.0), (2.0, -1024.0))


def make_ct_slice(seed: int = 0, size: int = 64) -> dict:
    """Return ``{"stored": uint16 (size, size), "slope": float, "intercept": float, "hu": float32}``.

    Air outside the body (-1000 HU), soft tissue (~40 HU), lungs (~-850 HU) and a bone ring (~1200 HU),
    with a little noise; ``hu`` is the ground truth in Hounsfield units.
    """
    rng = np.random.default_rng(seed)
    slope, intercept = _RESCALE[seed % len(_RESCALE)]
    yy, xx = np.mgrid[-1 : 1 : complex(size), -1 : 1 : complex(size)]
    hu = np.full((size, size), -1000.0)
    body = (xx / 0.85) ** 2 + (yy / 0.65) ** 2 < 1
    hu[body] = 40.0
    for cx in (-0.4, 0.4):
        hu[((xx - cx) / 0.28) ** 2 + (yy / 0.4) ** 2 < 1] = -850.0
    ring = np.abs(np.hypot(xx / 0.85, yy / 0.65) - 0.92) < 0.04
    hu[ring] = 1200.0
    hu = hu + rng.normal(0, 8, hu.shape)
    stored = np.clip(np.round((hu - intercept) / slope), 0, 65535).astype(np.uint16)
    return {
        "stored": stored,
        "slope": slope,
        "intercept": intercept,
        "hu": (stored * slope + intercept).astype(np.float32),
    }
