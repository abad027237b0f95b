"""Write meshes for headsets, web and AR (GLB/glTF), 3D printers (STL) and other tools (OBJ, PLY).

Vertices are stored in millimetres in every format. glTF's unit is the metre, so each glTF node carries
a 0.001 scale: a headset or AR viewer shows the anatomy at its real size while the mesh data stay in mm.
Label names go into the file: glTF node/mesh/material names and ``extras``, OBJ ``o`` names, PLY
``comment`` lines, the STL header. The path is checked for writing before any mesh is converted.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError, MeshError

__all__ = ["export_meshes", "check_writable", "EXPORT_FORMATS"]

#: file suffix -> what it is for
EXPORT_FORMATS = {
    ".glb": "binary glTF 2.0: headsets (WebXR), AR Quick Look / Scene Viewer, web viewers",
    ".gltf": "glTF 2.0 JSON with the buffers embedded",
    ".stl": "binary STL: 3D printing slicers (mm)",
    ".obj": "Wavefront OBJ (+ .mtl colours)",
    ".ply": "binary PLY with per-face colours",
}

MM_TO_M = 0.001


def check_writable(path: str | os.PathLike) -> Path:
    """Fail now, with the reason, if ``path`` cannot be written (missing folder, not a folder, read-only)."""
    p = Path(path)
    if p.suffix.lower() not in EXPORT_FORMATS:
        raise ConfigError(
            f"cannot export {p.name!r}: unknown mesh format {p.suffix!r}; use one of {', '.join(EXPORT_FORMATS)}"
        )
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise MeshError(
            f"cannot write {p}: folder {parent} does not exist or is not a folder; create it first"
        )
    if p.is_dir():
        raise MeshError(f"cannot write {p}: it is a folder; give a file name ending in {p.suffix or '.glb'}")
    try:  # os.access lies for root and on read-only mounts: really try to create a file there
        with tempfile.NamedTemporaryFile(dir=parent, prefix=".medimg-write-test-"):
            pass
        if p.exists() and not os.access(p, os.W_OK):
            raise PermissionError(f"{p} is read-only")
    except OSError as err:
        raise MeshError(f"cannot write {p}: {err.strerror or err}; choose a writable folder") from err
    return p


def _items(meshes: Any) -> list[Any]:
    from .labelmesh import LabelMesh

    if isinstance(meshes, LabelMesh):
        meshes = [meshes]
    items = list(meshes) if isinstance(meshes, Sequence) else None
    if not items or not all(isinstance(m, LabelMesh) for m in items):
        raise ConfigError(
            "export_meshes needs a LabelMesh or a non-empty list of them (mk.meshes.label_meshes)"
        )
    for m in items:
        if m.n_faces == 0:
            raise MeshError(f"mesh {m.name!r} has no faces: nothing to export")
    names = [m.name for m in items]
    if len(set(names)) != len(names):
        raise ConfigError(
            f"mesh names must be unique in one file, got {names}; rename them (mesh.name = ...)"
        )
    return items


def _metadata(items: list[Any], fmt: str) -> dict[str, Any]:
    return {
        "generator": "medimg_kernel.meshes",
        "vertex_units": "mm",
        "coordinates": "world RAS (scanner) millimetres",
        **({"node_scale_to_metres": MM_TO_M} if fmt in (".glb", ".gltf") else {}),
        "labels": {m.name: {"label": int(m.label), "color": [int(c) for c in m.color]} for m in items},
    }


def _with_faces_colour(m: Any) -> Any:
    import trimesh

    tm = trimesh.Trimesh(m.vertices, m.faces, process=False)
    tm.visual = trimesh.visual.ColorVisuals(tm, face_colors=np.array([*m.color, 255], dtype=np.uint8))
    return tm


def _scene(items: list[Any], fmt: str) -> Any:
    import trimesh
    from trimesh.visual.material import PBRMaterial

    scene = trimesh.Scene()
    scale = np.diag([MM_TO_M] * 3 + [1.0]) if fmt in (".glb", ".gltf") else np.eye(4)
    for m in items:
        tm = trimesh.Trimesh(m.vertices, m.faces, process=False)
        mat = PBRMaterial(
            name=m.name,
            baseColorFactor=[*m.color, 255],
            metallicFactor=0.0,
            roughnessFactor=0.7,
            doubleSided=False,
        )
        tm.visual = trimesh.visual.TextureVisuals(material=mat)
        scene.add_geometry(tm, geom_name=m.name, node_name=m.name, transform=scale)
    scene.metadata.update(_metadata(items, fmt))
    return scene


def _ply_bytes(items: list[Any]) -> bytes:
    import trimesh

    tm = trimesh.util.concatenate([_with_faces_colour(m) for m in items])
    data = trimesh.exchange.ply.export_ply(tm, encoding="binary", include_attributes=False)
    head, sep, body = data.partition(b"end_header\n")
    lines = head.decode("ascii").splitlines()
    comments = ["comment units mm", "comment generator medimg_kernel.meshes"]
    start = 0
    for m in items:
        comments.append(
            f"comment label {m.label} {m.name.replace(' ', '_')} faces {start} {start + m.n_faces}"
        )
        start += m.n_faces
    lines = [ln for ln in lines if not ln.startswith("comment")]
    lines[2:2] = comments  # after "ply" and "format ..."
    return ("\n".join(lines) + "\n").encode("ascii") + sep + body


def _stl_bytes(items: list[Any]) -> bytes:
    import trimesh

    tm = trimesh.util.concatenate([trimesh.Trimesh(m.vertices, m.faces, process=False) for m in items])
    data = trimesh.exchange.stl.export_stl(tm)
    header = ("medimg mm " + ",".join(m.name for m in items)).encode("ascii", "replace")[:80].ljust(80, b" ")
    return header + data[80:]


def export_meshes(meshes: Any, path: str | os.PathLike) -> Path:
    """Write one or more LabelMeshes to ``path``; the suffix picks the format (see ``EXPORT_FORMATS``).

    Returns the path. Several meshes go into one file: separate named nodes in glTF and OBJ, one
    concatenated surface in STL and PLY (names in the header).
    """
    p = check_writable(path)
    fmt = p.suffix.lower()
    items = _items(meshes)
    if fmt in (".glb", ".gltf"):
        scene = _scene(items, fmt)
        if fmt == ".glb":
            data = scene.export(file_type="glb")
        else:
            files = scene.export(file_type="gltf", embed_buffers=True)
            data = files["model.gltf"] if isinstance(files, dict) else files
    elif fmt == ".obj":
        text = _scene(items, fmt).export(file_type="obj", include_texture=False, include_color=True)
        header = "# medimg_kernel.meshes; units: mm; labels: " + json.dumps(
            {m.name: int(m.label) for m in items}
        )
        data = (header + "\n" + text).encode()
    elif fmt == ".ply":
        data = _ply_bytes(items)
    else:
        data = _stl_bytes(items)
    tmp = p.with_name(f".{p.name}.part")
    tmp.write_bytes(data if isinstance(data, bytes) else data.encode())
    os.replace(tmp, p)  # never a half-written file under the real name
    return p
