"""Measurements on meshes: voxel-count volume, symmetric surface distances, placing a mesh by an affine."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import MeshError

__all__ = ["voxel_volume", "surface_distance", "point_to_surface", "apply_affine"]


def voxel_volume(labels: Any, label: int = 1, affine: Any = None, *, spacing: Any = None) -> float:
    """Volume of ``label`` by counting voxels: count × |det(affine[:3, :3])| in mm³."""
    from .marching import world_affine

    a = world_affine(affine, spacing)
    return float(np.count_nonzero(np.asarray(labels) == label) * abs(np.linalg.det(a[:3, :3])))


def apply_affine(mesh: Any, affine: Any) -> Any:
    """The mesh with its vertices (voxel indices) mapped to world mm by ``affine``; faces kept outward.

    Accepts a LabelMesh or a ``trimesh.Trimesh`` and returns the same kind (a copy).
    """
    from .marching import world_affine

    a = world_affine(affine)
    tm = getattr(mesh, "mesh", mesh).copy()
    tm.apply_transform(a)  # trimesh flips the winding itself when det < 0
    if tm.volume < 0:
        tm.invert()
    return mesh.copy(mesh=tm) if hasattr(mesh, "mesh") else tm


def _surface_points(tm: Any, n: int, seed: int) -> np.ndarray:
    import trimesh

    pts, _ = trimesh.sample.sample_surface(tm, n, seed=seed)
    verts = np.asarray(tm.vertices)
    if len(verts) > n:  # keep the work bounded on big meshes: a random subset of the vertices
        verts = verts[np.random.default_rng(seed).choice(len(verts), n, replace=False)]
    return np.vstack([verts, pts])


def point_to_surface(points: np.ndarray, tm: Any, k: int = 6) -> np.ndarray:
    """Distance (mm) from each point to the surface ``tm``: exact point-triangle distances to the ``k``
    triangles whose centres are nearest (a KD-tree), so no spatial-index package is needed."""
    import trimesh
    from scipy.spatial import cKDTree

    keep = np.asarray(tm.area_faces) > 1e-12  # degenerate (zero-area) triangles have no closest point
    tris = np.asarray(tm.triangles)[keep]
    k = int(min(k, len(tris)))
    _, cand = cKDTree(tris.mean(axis=1)).query(points, k=k)
    cand = np.asarray(cand).reshape(len(points), k)
    pts = np.repeat(np.asarray(points, dtype=float), k, axis=0)
    closest = trimesh.triangles.closest_point(tris[cand.ravel()], pts)
    return np.linalg.norm(closest - pts, axis=1).reshape(len(points), k).min(axis=1)


def surface_distance(a: Any, b: Any, *, samples: int = 20000, seed: int = 0) -> dict[str, float]:
    """Symmetric surface distances (mm) between two meshes: ``mean``, ``hd95`` and ``hausdorff``.

    Each surface is sampled (up to ``samples`` of its vertices plus ``samples`` area-uniform points) and
    every sample's exact distance to the other surface is measured; the two directions are pooled.
    """
    ta, tb = getattr(a, "mesh", a), getattr(b, "mesh", b)
    if len(ta.faces) == 0 or len(tb.faces) == 0:
        raise MeshError("surface distance needs two non-empty meshes")
    dab = point_to_surface(_surface_points(ta, samples, seed), tb)
    dba = point_to_surface(_surface_points(tb, samples, seed + 1), ta)
    both = np.concatenate([dab, dba])
    return {
        "mean": float(both.mean()),
        "hd95": float(max(np.percentile(dab, 95), np.percentile(dba, 95))),
        "hausdorff": float(max(dab.max(), dba.max())),
    }
