"""Colour tables shared by every backend, so a label has the same colour in NiiVue, the light viewer and
a snapshot."""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError

__all__ = ["LABEL_COLORS", "label_lut", "colormap_lut", "COLORMAPS"]

#: RGB of labels 1..N (label 0 is background and transparent); repeats after the last entry.
LABEL_COLORS: list[tuple[int, int, int]] = [
    (255, 0, 0),
    (0, 200, 0),
    (0, 90, 255),
    (255, 220, 0),
    (0, 220, 220),
    (230, 0, 230),
    (255, 140, 0),
    (140, 80, 255),
    (120, 255, 120),
    (255, 105, 180),
    (160, 110, 40),
    (0, 128, 128),
]

#: Continuous colour maps offered by every backend (names understood by NiiVue and matplotlib).
COLORMAPS = (
    "gray",
    "hot",
    "warm",
    "cool",
    "viridis",
    "plasma",
    "inferno",
    "jet",
    "winter",
    "red",
    "green",
    "blue",
)

_MPL_NAMES = {"warm": "autumn", "cool": "cool", "red": "Reds", "green": "Greens", "blue": "Blues"}


def label_lut(
    n_labels: int, opacity: float | dict[int, float] = 1.0, hidden: set[int] | frozenset[int] = frozenset()
) -> np.ndarray:
    """RGBA uint8 table (n_labels + 1, 4) for labels 0..n_labels: label 0 transparent, per-label alpha."""
    lut = np.zeros((n_labels + 1, 4), dtype=np.uint8)
    for lab in range(1, n_labels + 1):
        lut[lab, :3] = LABEL_COLORS[(lab - 1) % len(LABEL_COLORS)]
        alpha = opacity.get(lab, 1.0) if isinstance(opacity, dict) else 1.0
        lut[lab, 3] = 0 if lab in hidden else int(round(255 * float(np.clip(alpha, 0.0, 1.0))))
    return lut


def colormap_lut(name: str) -> np.ndarray:
    """RGBA uint8 table (256, 4) of a continuous colour map (``COLORMAPS``), alpha 255 everywhere."""
    if name not in COLORMAPS:
        raise ConfigError(f"unknown colormap {name!r}; choose one of {', '.join(COLORMAPS)}")
    from matplotlib import colormaps

    cmap = colormaps[_MPL_NAMES.get(name, name)]
    lut = (cmap(np.linspace(0.0, 1.0, 256)) * 255).round().astype(np.uint8)
    lut[:, 3] = 255
    return lut
