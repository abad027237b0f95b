"""Window/level presets and windowing to uint8 (the smallest faithful dtype for a displayed image).

A window is ``(center, width)`` in the image's units (Hounsfield units for CT). Windowing maps
``[center - width/2, center + width/2]`` onto 0..255; the linear map back to real units is kept as
``(slope, intercept)`` so viewers can still show HU values.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError

__all__ = ["WINDOW_PRESETS", "Window", "resolve_window", "apply_window"]

#: CT window presets, name -> (center, width) in HU (Radiopaedia's usual values).
WINDOW_PRESETS: dict[str, tuple[float, float]] = {
    "brain": (40.0, 80.0),
    "subdural": (75.0, 215.0),
    "stroke": (40.0, 40.0),
    "temporal_bone": (600.0, 2800.0),
    "soft_tissue": (50.0, 350.0),
    "mediastinum": (50.0, 350.0),
    "abdomen": (50.0, 400.0),
    "liver": (30.0, 150.0),
    "lung": (-600.0, 1500.0),
    "bone": (400.0, 1800.0),
}


@dataclass(frozen=True)
class Window:
    """A resolved window: ``center``/``width`` in image units and where it came from (preset name)."""

    center: float
    width: float
    source: str = "manual"

    @property
    def low(self) -> float:
        return self.center - self.width / 2.0

    @property
    def high(self) -> float:
        return self.center + self.width / 2.0

    @property
    def slope(self) -> float:
        """Real units per uint8 step (the NIfTI ``scl_slope`` of the windowed image)."""
        return self.width / 255.0


def resolve_window(window: None | str | tuple[float, float], data: np.ndarray) -> Window:
    """Turn ``None`` (robust 0.5–99.5 percentile range), a preset name or ``(center, width)`` into a Window."""
    if window is None or window == "auto":
        finite = data[np.isfinite(data)] if data.dtype.kind == "f" else data
        sample = finite.ravel()
        if sample.size > 2_000_000:  # percentiles of a strided sample are plenty for display
            sample = sample[:: sample.size // 1_000_000]
        if sample.size == 0:
            return Window(0.5, 1.0, "auto")
        lo, hi = (float(v) for v in np.percentile(sample, [0.5, 99.5]))
        if hi <= lo:
            lo, hi = float(sample.min()), float(sample.max())
        if hi <= lo:
            hi = lo + 1.0
        return Window((lo + hi) / 2.0, hi - lo, "auto")
    if isinstance(window, str):
        key = window.lower().replace("-", "_").replace(" ", "_")
        if key not in WINDOW_PRESETS:
            raise ConfigError(
                f"unknown window preset {window!r}; choose one of {', '.join(sorted(WINDOW_PRESETS))}, "
                "'auto', or pass (center, width)"
            )
        c, w = WINDOW_PRESETS[key]
        return Window(c, w, key)
    try:
        c, w = (float(v) for v in window)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"window must be None, a preset name or (center, width); got {window!r}") from err
    if not w > 0:
        raise ConfigError(f"window width must be > 0, got {w}; e.g. window=(40, 80) for brain CT")
    return Window(c, w, "manual")


def apply_window(data: np.ndarray, window: Window) -> np.ndarray:
    """Map ``data`` through ``window`` to uint8 (0 = low edge, 255 = high edge, rounded), clipping outside."""
    scale = np.float32(255.0 / window.width)
    buf = np.multiply(data, scale, dtype=np.float32)  # one float32 working copy, updated in place
    buf += np.float32(0.5 - window.low * 255.0 / window.width)
    np.clip(buf, 0.0, 255.5, out=buf)
    return buf.astype(np.uint8)  # truncation of x + 0.5 = rounding for x >= 0
