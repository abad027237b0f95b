"""The light viewer: our own WebGL-free anywidget (2D canvas, three orthogonal planes, overlays).

Its front end is ``widgets/light_viewer.js`` (+ ``.css``), plain ES modules shipped with the package.
Voxel data goes to the browser once, as binary buffers in the smallest faithful dtype (uint8 windowed
image, uint8/uint16 labels, float16 heat map); slicing, window/level and opacity sliders run in the
browser with no kernel round trip. Python methods (``set_slice``, ``set_opacity``...) change the view.
"""

from __future__ import annotations

import logging
from typing import Any

import anywidget
import numpy as np
import traitlets as t

from ..errors import ConfigError
from ._assets import asset_path
from .colors import colormap_lut
from .scene import Scene, axis_index, check_index, check_opacity

__all__ = ["LightViewer"]

log = logging.getLogger(__name__)


def _buffer(arr: np.ndarray) -> memoryview:
    """A flat byte view of ``arr`` (no copy when it is already C-contiguous): sent as a binary buffer."""
    return memoryview(np.ascontiguousarray(arr).reshape(-1).view(np.uint8))


def _flat(lut: np.ndarray) -> list[int]:
    return [int(v) for v in np.asarray(lut, dtype=np.uint8).ravel()]


class LightViewer(anywidget.AnyWidget):
    """Three orthogonal planes of a :class:`~medimg_kernel.viz.scene.Scene` on a 2D canvas (no WebGL).

    ``rows`` lists what each row of panels shows: ``{"title", "labels": [layer indices], "heat", "mods"}``;
    :func:`medimg_kernel.view` uses one row, :func:`medimg_kernel.compare` one row per label map, all
    rows sharing one crosshair.
    """

    _esm = asset_path("light_viewer.js")
    _css = asset_path("light_viewer.css")

    height = t.Int(400).tag(sync=True)
    note = t.Unicode("").tag(sync=True)
    shape = t.List(t.Int(), default_value=[1, 1, 1]).tag(sync=True)
    spacing = t.List(t.Float(), default_value=[1.0, 1.0, 1.0]).tag(sync=True)
    _base = t.Any(None, allow_none=True).tag(sync=True)
    base_lut = t.List(t.Int()).tag(sync=True)
    value_slope = t.Float(1.0).tag(sync=True)
    value_inter = t.Float(0.0).tag(sync=True)
    display_range = t.List(t.Float(), default_value=[0.0, 255.0]).tag(sync=True)
    _labels = t.List(t.Any()).tag(sync=True)
    label_meta = t.List(t.Dict()).tag(sync=True)
    _heat = t.Any(None, allow_none=True).tag(sync=True)
    heat_meta = t.Dict().tag(sync=True)
    _mods = t.List(t.Any()).tag(sync=True)
    mod_meta = t.List(t.Dict()).tag(sync=True)
    rows = t.List(t.Dict()).tag(sync=True)
    slice_index = t.List(t.Int(), default_value=[0, 0, 0]).tag(sync=True)

    def __init__(
        self,
        scene: Scene,
        *,
        height: int = 400,
        rows: list[dict] | None = None,
        note: str = "",
        **kwargs: Any,
    ) -> None:
        super().__init__(height=int(height), note=note, **kwargs)
        self.scene = scene
        with self.hold_sync():
            self.shape = list(scene.shape)
            self.spacing = list(scene.spacing)
            self.slice_index = [s // 2 for s in scene.shape]
            self.rows = rows or [
                {"title": "", "labels": list(range(len(scene.labels))), "heat": True, "mods": True}
            ]
            self._push_base()
            self._labels = [_buffer(lay.data) for lay in scene.labels]
            self._push_label_meta()
            if scene.heat is not None:
                self._heat = _buffer(scene.heat.data)
                self._push_heat_meta()
            self._mods = [_buffer(m.data) for m in scene.modalities]
            self.mod_meta = [
                {
                    "name": m.name,
                    "lut": _flat(colormap_lut(m.colormap)),
                    "opacity": m.opacity,
                    "visible": True,
                }
                for m in scene.modalities
            ]

    # ----------------------------------------------------------------------- pushes
    def _push_base(self) -> None:
        s = self.scene
        self._base = _buffer(s.base)
        self.base_lut = _flat(colormap_lut(s.colormap))
        self.value_slope = s.window.slope
        self.value_inter = s.window.low
        self.display_range = [0.0, 255.0]

    def _push_label_meta(self) -> None:
        old = list(self.label_meta)  # keep what the user toggled in the browser
        self.label_meta = [
            {
                "name": lay.name,
                "dtype": str(lay.data.dtype),
                "lut": _flat(lay.lut()),
                "opacity": lay.opacity,
                "visible": old[i].get("visible", True) if i < len(old) else True,
            }
            for i, lay in enumerate(self.scene.labels)
        ]

    def _push_heat_meta(self) -> None:
        h = self.scene.heat
        assert h is not None
        self.heat_meta = {
            "name": h.name,
            "lut": _flat(colormap_lut(h.colormap)),
            "opacity": h.opacity,
            "threshold": h.threshold,
            "vmin": h.vmin,
            "vmax": h.vmax,
            "visible": True,
        }

    # ----------------------------------------------------------------------- public
    def set_slice(self, axis: int | str, index: int) -> None:
        """Show slice ``index`` along ``axis`` (0/'x'/'sagittal', 1/'y'/'coronal', 2/'z'/'axial')."""
        ax = axis_index(axis)
        pos = list(self.slice_index)
        pos[ax] = check_index(self.scene, ax, index)
        self.slice_index = pos

    def get_slice(self) -> tuple[int, int, int]:
        """The current crosshair voxel (follows the browser, debounced)."""
        return tuple(self.slice_index)  # type: ignore[return-value]

    def set_opacity(self, layer: str | int = "labels", value: float = 0.5) -> None:
        """Set the opacity of ``"labels"`` (all label layers, or layer index ``int``), ``"overlay"`` or a modality name."""
        v = check_opacity(value)
        if layer == "labels" or isinstance(layer, int):
            idx = range(len(self.scene.labels)) if layer == "labels" else [int(layer)]
            for i in idx:
                self.scene.labels[i].opacity = v
            meta = [dict(m) for m in self.label_meta]
            for i in idx:
                meta[i]["opacity"] = v
            self.label_meta = meta
        elif layer in ("overlay", "heat"):
            if self.scene.heat is None:
                raise ConfigError("this view has no overlay; pass overlay=... to view()")
            self.scene.heat.opacity = v
            self.heat_meta = {**self.heat_meta, "opacity": v}
        else:
            names = [m["name"] for m in self.mod_meta]
            if layer not in names:
                raise ConfigError(f"unknown layer {layer!r}; choose 'labels', 'overlay' or one of {names}")
            meta = [dict(m) for m in self.mod_meta]
            meta[names.index(layer)]["opacity"] = v
            self.mod_meta = meta

    def set_label_opacity(self, label: int, value: float, layer: int = 0) -> None:
        """Set the opacity factor of one label value (multiplies the layer opacity)."""
        lay = self.scene.labels[layer]
        lay.label_alpha[int(label)] = check_opacity(value)
        self._push_label_meta()

    def show_labels(
        self, labels: int | list[int] | None = None, visible: bool = True, layer: int = 0
    ) -> None:
        """Show or hide some label values (``None``: all of them) of label layer ``layer``."""
        lay = self.scene.labels[layer]
        values = lay.all_labels() if labels is None else [int(v) for v in np.atleast_1d(labels)]
        lay.hidden = (lay.hidden - set(values)) if visible else (lay.hidden | set(values))
        self._push_label_meta()

    def set_overlay_threshold(self, threshold: float | None) -> None:
        """Draw the heat map only where it is >= ``threshold`` (``None``: above its minimum)."""
        if self.scene.heat is None:
            raise ConfigError("this view has no overlay; pass overlay=... to view()")
        self.scene.heat.threshold = None if threshold is None else float(threshold)
        self.heat_meta = {**self.heat_meta, "threshold": self.scene.heat.threshold}

    def set_window(self, window: None | str | tuple[float, float]) -> None:
        """Re-window the image (preset name, ``(center, width)`` or ``None`` for auto); resends the image."""
        self.scene.rewindow(window)
        with self.hold_sync():
            self._push_base()

    def set_render(self, render: str) -> None:
        """The light viewer only draws planes; ``"3d"`` needs the NiiVue backend (WebGL2)."""
        if render != "multiplanar":
            raise ConfigError(
                "the light viewer draws the three planes only; use backend='niivue' for render='3d'"
            )

    def __repr__(self) -> str:  # never dump voxel bytes into text/plain outputs
        return f"LightViewer(shape={tuple(self.shape)}, labels={len(self._labels)}, overlay={self._heat is not None})"
