"""The immersive viewer: meshes in three.js with "Enter VR" / "View in AR" buttons (WebXR), an anywidget.

Its front end is ``widgets/xr_viewer.js``: three.js and our code bundled by esbuild into one offline ES
module (source and build script in ``widgets/xr/``); nothing comes from a CDN at run time. Meshes go to
the browser once as float32 vertices (world mm) and uint32 faces. The scene is in metres, as WebXR's
reference spaces are, so a headset or phone shows the anatomy at its real size. Where the browser has
no immersive session (no headset, headless Chromium), each button is disabled with the reason, written
under the view and in :attr:`XRViewer.xr_status`, and the view stays an ordinary interactive 3D view.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import anywidget
import numpy as np
import traitlets as t

from ..errors import ConfigError
from ._assets import asset_path

__all__ = ["XRViewer", "view_xr", "XR_MODES"]

XR_MODES = ("immersive-vr", "immersive-ar")


def _as_label_meshes(meshes: Any) -> list[Any]:
    from ..meshes.labelmesh import LabelMesh

    if isinstance(meshes, LabelMesh):
        meshes = [meshes]
    if hasattr(meshes, "vertices") and hasattr(meshes, "faces") and not isinstance(meshes, Sequence):
        meshes = [LabelMesh(mesh=meshes)]  # a bare trimesh.Trimesh
    items = list(meshes) if isinstance(meshes, Sequence) else []
    if not items:
        raise ConfigError("give a LabelMesh or a list of them (mk.meshes.label_meshes(...)) to show")
    return [
        m if isinstance(m, LabelMesh) else LabelMesh(mesh=m, name=f"mesh_{i}") for i, m in enumerate(items)
    ]


class XRViewer(anywidget.AnyWidget):
    """Interactive three.js view of meshes with WebXR buttons; ``xr_status`` says what the browser allows."""

    _esm = asset_path("xr_viewer.js")
    _css = asset_path("xr_viewer.css")

    height = t.Int(420).tag(sync=True)
    background = t.List(t.Int(), default_value=[18, 18, 24]).tag(sync=True)
    modes = t.List(t.Unicode(), default_value=list(XR_MODES)).tag(sync=True)
    mesh_meta = t.List(t.Dict()).tag(sync=True)
    _positions = t.List(t.Any()).tag(sync=True)
    _indices = t.List(t.Any()).tag(sync=True)
    xr_status = t.Dict().tag(sync=True)
    xr_session = t.Unicode("").tag(sync=True)

    def __init__(
        self, meshes: Any, *, height: int = 420, opacity: float | dict[str, float] = 1.0, **kwargs: Any
    ):
        super().__init__(height=int(height), **kwargs)
        self.meshes = _as_label_meshes(meshes)
        self.set_meshes(self.meshes, opacity=opacity)

    def set_meshes(self, meshes: Any, *, opacity: float | dict[str, float] = 1.0) -> None:
        """Replace the meshes shown (LabelMesh or a list of them); ``opacity`` per name or for all."""
        items = _as_label_meshes(meshes)
        with self.hold_sync():
            self._positions = [
                memoryview(np.ascontiguousarray(m.vertices, dtype=np.float32).reshape(-1)).cast("B")
                for m in items
            ]
            self._indices = [
                memoryview(np.ascontiguousarray(m.faces, dtype=np.uint32).reshape(-1)).cast("B")
                for m in items
            ]
            self.mesh_meta = [
                {
                    "name": m.name,
                    "color": [int(c) for c in m.color],
                    "opacity": float(opacity.get(m.name, 1.0) if isinstance(opacity, dict) else opacity),
                    "n_vertices": len(m.vertices),
                    "n_faces": m.n_faces,
                }
                for m in items
            ]
        self.meshes = items

    @property
    def vr_available(self) -> bool | None:
        """True/False once the browser answered whether an immersive-vr session is possible, else None."""
        st = self.xr_status.get("immersive-vr")
        return None if st is None else st == "available"

    def __repr__(self) -> str:
        return f"XRViewer(meshes={[m.name for m in self.meshes]}, xr_status={dict(self.xr_status)})"


def view_xr(
    meshes: Any, *, height: int = 420, opacity: float | dict[str, float] = 1.0, ar: bool = True
) -> XRViewer:
    """Show meshes in the immersive viewer: rotate/zoom in the notebook, "Enter VR" / "View in AR" on XR devices.

    ``ar=False`` offers VR only. On a browser without immersive WebXR the buttons say why.
    """
    modes = list(XR_MODES) if ar else ["immersive-vr"]
    return XRViewer(meshes, height=height, opacity=opacity, modes=modes)
