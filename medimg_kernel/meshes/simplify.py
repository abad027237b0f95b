"""Volume-preserving smoothing (trimesh) and decimation to a face budget (fast_simplification via trimesh)."""

from __future__ import annotations

import math
from typing import Any

from ..errors import ConfigError, MeshError

__all__ = ["smooth", "decimate", "min_faces"]


def smooth(mesh: Any, iterations: int = 10, *, lamb: float = 0.5) -> Any:
    """Laplacian smoothing with trimesh's volume constraint: the staircase goes, the volume stays.

    Returns a new :class:`~medimg_kernel.meshes.LabelMesh`; the input is not changed.
    """
    import trimesh

    if int(iterations) < 0:
        raise ConfigError(f"smoothing iterations must be >= 0, got {iterations}")
    out = mesh.copy()
    if iterations:
        trimesh.smoothing.filter_laplacian(
            out.mesh, lamb=lamb, iterations=int(iterations), volume_constraint=True
        )
    return out


def _component_min_faces(euler: int) -> int:
    """Fewest triangles of a closed surface with Euler characteristic ``euler`` (Heawood's vertex bound)."""
    v = math.ceil((7 + math.sqrt(max(49 - 24 * euler, 1))) / 2)
    return max(4, 2 * v - 2 * euler)


def min_faces(mesh: Any) -> int:
    """The fewest triangles that can keep this mesh's topology: per connected piece, a tetrahedron (4) for
    a sphere-like piece, 14 for a torus, more with more handles (F = 2V − 2χ at Heawood's minimum V)."""
    tm = getattr(mesh, "mesh", mesh)
    total = 0
    for part in tm.split(only_watertight=False):
        total += _component_min_faces(int(part.euler_number)) if part.is_watertight else 4
    return total


def decimate(mesh: Any, faces: int, *, aggression: int = 7) -> Any:
    """Quadric decimation to at most ``faces`` triangles (a new LabelMesh, faces kept outward).

    Raises :class:`~medimg_kernel.errors.MeshError` when ``faces`` is below :func:`min_faces`.
    """
    faces = int(faces)
    floor = min_faces(mesh)
    if faces < floor:
        raise MeshError(
            f"a face budget of {faces} is below the minimum of {floor} this mesh's topology allows "
            f"({len(mesh.mesh.split(only_watertight=False))} piece(s)); ask for at least {floor} faces"
        )
    if mesh.n_faces <= faces:
        return mesh.copy()
    tm = mesh.mesh.simplify_quadric_decimation(face_count=faces, aggression=aggression)
    if len(tm.faces) > faces:  # the decimator stops near the target: one more pass to honour the budget
        tm = tm.simplify_quadric_decimation(face_count=faces, aggression=aggression)
    if len(tm.faces) > faces:
        raise MeshError(
            f"decimation stopped at {len(tm.faces)} faces, above the budget of {faces}; raise the budget"
        )
    if tm.volume < 0:
        tm.invert()
    out = mesh.copy(mesh=tm)
    out.meta["decimated_from"] = mesh.n_faces
    return out
