"""Meshes in the NiiVue backend: LabelMeshes / GIfTI surfaces as in-memory PLY for ``ipyniivue`` and
``mk.view_mesh()``, a NiiVue 3D view of surfaces alone or over a volume.

NiiVue places meshes in world millimetres, as it places volumes by their affine, so a mesh made from a
label map (``mk.meshes.label_meshes``) lands exactly on its volume.
"""

from __future__ import annotations

from typing import Any

import ipywidgets

__all__ = ["niivue_mesh_dicts", "view_mesh", "MeshView"]


def _ply(mesh: Any) -> bytes:
    import trimesh

    tm = trimesh.Trimesh(mesh.vertices, mesh.faces, process=False)
    return trimesh.exchange.ply.export_ply(tm, encoding="binary", include_attributes=False)


def niivue_mesh_dicts(meshes: Any, opacity: float | dict[str, float] = 1.0) -> list[dict[str, Any]]:
    """``ipyniivue`` mesh dicts (binary PLY bytes, name, colour, opacity) for LabelMeshes or trimeshes."""
    from .xr import _as_label_meshes

    out = []
    for m in _as_label_meshes(meshes):
        op = float(opacity.get(m.name, 1.0) if isinstance(opacity, dict) else opacity)
        out.append(
            {
                "data": _ply(m),
                "name": f"{m.name.replace(' ', '_')}.ply",
                "rgba255": [int(c) for c in m.color] + [255],
                "opacity": op,
            }
        )
    return out


class MeshView(ipywidgets.VBox):
    """A NiiVue 3D view of meshes (``.widget`` is the ``ipyniivue.NiiVue``); :meth:`set_opacity` per mesh."""

    def __init__(
        self, meshes: Any, *, height: int = 420, opacity: float | dict[str, float] = 1.0, **options: Any
    ):
        import ipyniivue
        from ipyniivue import SliceType

        from . import niivue  # noqa: F401  (applies the ipyniivue 2.4.4 fix)

        super().__init__()
        from .xr import _as_label_meshes

        self.meshes = _as_label_meshes(meshes)
        opts = {"back_color": (0.0, 0.0, 0.0, 1.0), **options}
        self.widget = ipyniivue.NiiVue(height=int(height), **opts)
        self.widget.load_meshes(niivue_mesh_dicts(self.meshes, opacity))
        self.widget.set_slice_type(SliceType.RENDER)
        self.children = (self.widget,)

    def set_opacity(self, name: str | int, value: float) -> MeshView:
        """Opacity (0..1) of the mesh called ``name`` (or at index ``name``)."""
        from .scene import check_opacity

        names = [m.name for m in self.meshes]
        i = name if isinstance(name, int) else names.index(name) if name in names else None
        if i is None:
            from ..errors import ConfigError

            raise ConfigError(f"no mesh called {name!r}; meshes here: {names}")
        self.widget.meshes[i].opacity = check_opacity(value)
        return self

    def __repr__(self) -> str:
        return f"MeshView(meshes={[m.name for m in self.meshes]})"


def view_mesh(
    *meshes: Any,
    image: Any = None,
    labels: Any = None,
    height: int = 420,
    opacity: float | dict[str, float] = 1.0,
    **options: Any,
) -> Any:
    """Show meshes (LabelMeshes, lists of them, trimeshes, fsaverage surfaces) in NiiVue's 3D view.

    With ``image`` (and optional ``labels``), the meshes are drawn with that volume: this is
    ``mk.view(image, labels, meshes=..., render="3d")``; other options go to :func:`medimg_kernel.view`.
    """
    flat: list[Any] = []
    for m in meshes:
        flat.extend(m if isinstance(m, list | tuple) else [m])
    if image is not None:
        from .view import view

        return view(image, labels, meshes=flat, render=options.pop("render", "3d"), height=height, **options)
    return MeshView(flat, height=height, opacity=opacity, **options)
