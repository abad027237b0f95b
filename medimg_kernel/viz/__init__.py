"""Viewing 3D medical images in notebooks: interactive widgets, linked comparisons and static snapshots.

Public API
----------
``view(image, labels=None, overlay=None, *, backend="auto", render="multiplanar", window=None, ...)``
    NiiVue (WebGL2) or the light 2D-canvas viewer; returns a :class:`View` with ``set_slice``,
    ``set_opacity``, ``show_labels``/``hide_labels``, ``set_overlay_threshold``, ``set_window``, ``set_render``.
``compare(image, prediction, truth, **options)``
    Prediction / truth / error map with one shared crosshair, plus Dice per class in ``.summary``.
``snapshot(image, labels=None, overlay=None, *, path=None, **options)``
    A matplotlib ``Figure`` of three planes; PNG ``bytes`` when ``path`` (or ``as_bytes=True``) is given.
``frontend_status()``, ``webgl2_status()``, ``check_browser()``
    Are the widget front ends installed; did the browser report WebGL2.
``WINDOW_PRESETS``
    CT window presets (center, width) in HU.
``view(..., meshes=..., preset=...)``, ``view_mesh(*meshes, image=None)``, ``VOLUME_PRESETS``
    Surfaces in NiiVue with or without a volume; volume-rendering transfer functions (CT bone, soft
    tissue, vessels, MR).
``view_xr(meshes)`` / ``XRViewer``
    three.js view with "Enter VR" / "View in AR" (WebXR); says why where the device has no XR.

Only light modules are imported here; ipyniivue, anywidget and matplotlib load when first used.
"""

from __future__ import annotations

from .._lazy import lazy_exports

__all__ = [
    "view",
    "View",
    "compare",
    "snapshot",
    "frontend_status",
    "webgl2_status",
    "check_browser",
    "WINDOW_PRESETS",
    "VOLUME_PRESETS",
    "view_mesh",
    "view_xr",
    "XRViewer",
    "as_volume",
    "Volume",
]

_LAZY = {
    "view": "view:view",
    "View": "view:View",
    "compare": "compare:compare",
    "snapshot": "snapshot:snapshot",
    "frontend_status": "frontend:frontend_status",
    "webgl2_status": "probe:webgl2_status",
    "check_browser": "probe:check_browser",
    "WINDOW_PRESETS": "windowing:WINDOW_PRESETS",
    "VOLUME_PRESETS": "presets:VOLUME_PRESETS",
    "view_mesh": "meshlayer:view_mesh",
    "view_xr": "xr:view_xr",
    "XRViewer": "xr:XRViewer",
    "as_volume": "volume:as_volume",
    "Volume": "volume:Volume",
}


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, listed=__all__)
