"""Volume-rendering transfer-function presets for the NiiVue 3D render (``mk.view(..., preset=...)``).

Each preset names one of NiiVue's own transfer functions (colour and opacity ramps designed for
volume rendering) and the intensity range it spans: Hounsfield units for CT, quantiles of the
non-zero voxels for MR (its units are arbitrary).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import ConfigError

__all__ = ["VOLUME_PRESETS", "preset_window", "preset_colormap"]

#: name -> NiiVue colormap, and the range it spans ("hu": fixed HU; "quantile": of non-zero voxels)
VOLUME_PRESETS: dict[str, dict[str, Any]] = {
    "ct_bone": {"colormap": "ct_bones", "hu": (180.0, 600.0), "what": "CT bone: skull, spine, ribs"},
    "ct_soft_tissue": {
        "colormap": "ct_soft_tissue",
        "hu": (-10.0, 110.0),
        "what": "CT soft tissue and organs",
    },
    "ct_vessels": {
        "colormap": "ct_vessels",
        "hu": (114.0, 246.0),
        "what": "contrast-enhanced CT vessels (CTA)",
    },
    "ct_artery": {"colormap": "ct_artery", "hu": (114.0, 800.0), "what": "CTA arteries with bone in white"},
    "mr": {"colormap": "gray", "quantile": (0.4, 0.995), "what": "MR (T1/T2): brighter tissue more opaque"},
}


def _check(name: str) -> dict[str, Any]:
    if name not in VOLUME_PRESETS:
        raise ConfigError(f"unknown volume preset {name!r}; choose one of {', '.join(VOLUME_PRESETS)}")
    return VOLUME_PRESETS[name]


def preset_colormap(name: str) -> str:
    """The NiiVue colormap of preset ``name``."""
    return _check(name)["colormap"]


def preset_window(name: str, data: np.ndarray | None = None) -> tuple[float, float]:
    """``(center, width)`` of preset ``name``; MR presets need ``data`` (quantiles of its non-zero voxels)."""
    p = _check(name)
    if "hu" in p:
        lo, hi = p["hu"]
    else:
        if data is None:
            raise ConfigError(f"preset {name!r} windows by the image's own quantiles: pass the image data")
        vals = np.asarray(data, dtype=np.float32)
        vals = vals[vals != 0] if np.any(vals != 0) else vals.ravel()
        lo, hi = (float(v) for v in np.quantile(vals[:: max(1, vals.size // 2_000_000)], p["quantile"]))
        if hi <= lo:
            hi = lo + 1.0
    return ((lo + hi) / 2.0, hi - lo)
