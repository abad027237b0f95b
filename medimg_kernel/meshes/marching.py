"""Label map → surfaces: scikit-image marching cubes, placed in world RAS millimetres by the affine.

Each label is padded by one background voxel so a label touching the grid border still closes; the
surface at level 0.5 lies half a voxel outside the label's voxel centres. Faces are turned outwards
(a mirroring affine or marching cubes' own order can leave them inverted, which makes the volume
negative).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..errors import MeshError, ShapeMismatchError

__all__ = ["label_mesh", "label_meshes", "world_affine"]

log = logging.getLogger(__name__)


def world_affine(affine: Any, spacing: Any = None) -> np.ndarray:
    """A 4×4 voxel → world (mm) matrix from ``affine``, or from ``spacing`` (diagonal), or identity."""
    if affine is not None:
        a = np.asarray(affine, dtype=float)
        if a.shape != (4, 4):
            raise ShapeMismatchError(f"affine must be a 4x4 matrix, got shape {a.shape}")
        if abs(np.linalg.det(a[:3, :3])) < 1e-12:
            raise ShapeMismatchError("affine is singular (zero voxel size); pass the image's real affine")
        return a
    a = np.eye(4)
    if spacing is not None:
        a[:3, :3] = np.diag(np.asarray(spacing, dtype=float).reshape(3))
    return a


def _squeeze4(shape: tuple[int, ...]) -> tuple[int, ...]:
    if len(shape) == 4 and shape[0] == 1:
        return shape[1:]
    if len(shape) == 4 and shape[-1] == 1:
        return shape[:3]
    return shape


def _as_labels(labels: Any, image: Any) -> np.ndarray:
    if hasattr(labels, "dataobj"):  # a nibabel image (its affine is used by the callers)
        labels = np.asanyarray(labels.dataobj)
    arr = np.asarray(labels)
    arr = arr.reshape(_squeeze4(arr.shape))
    if arr.ndim != 3:
        raise ShapeMismatchError(f"a label map must be 3D, got shape {arr.shape}")
    if image is not None:
        ishape = _squeeze4(tuple(getattr(image, "shape", np.shape(image))))
        if ishape != arr.shape:
            raise ShapeMismatchError(
                f"label map shape {arr.shape} does not match image shape {ishape}; resample the labels "
                "onto the image grid first (mk.data resample_to) or pass the matching image"
            )
    if not (np.issubdtype(arr.dtype, np.integer) or arr.dtype == bool):
        if not np.all(np.equal(np.mod(arr, 1), 0)):
            raise MeshError("labels must be integers (0 = background); threshold a probability map first")
        arr = arr.astype(np.int32)
    return arr


def _default_name(label: int, names: Any) -> str:
    if isinstance(names, Mapping) and label in names:
        return str(names[label])
    if isinstance(names, Sequence) and not isinstance(names, str) and 0 < label <= len(names):
        return str(names[label - 1])
    return f"label_{label}"


def label_mesh(
    labels: Any,
    label: int = 1,
    affine: Any = None,
    *,
    spacing: Any = None,
    name: str | None = None,
    color: tuple[int, int, int] | None = None,
    smooth: int = 0,
    faces: int | None = None,
    image: Any = None,
) -> Any:
    """The surface of voxels equal to ``label`` as a :class:`~medimg_kernel.meshes.LabelMesh` in world mm.

    ``smooth`` runs that many volume-preserving Laplacian iterations; ``faces`` decimates to at most that
    many triangles. ``image`` (optional) is checked to be on the same grid as ``labels``.
    """
    import trimesh
    from skimage.measure import marching_cubes

    from ..viz.colors import LABEL_COLORS
    from .labelmesh import LabelMesh

    if affine is None and spacing is None and hasattr(labels, "affine"):
        affine = labels.affine  # a nibabel image carries its own voxel -> world matrix
    arr = _as_labels(labels, image)
    a = world_affine(affine, spacing)
    mask = arr == label
    count = int(mask.sum())
    if count == 0:
        present = [int(v) for v in np.unique(arr) if v != 0][:20]
        raise MeshError(
            f"label {label} has no voxels in this label map (labels present: {present or 'none'}); "
            "nothing to mesh: check the label value or the segmentation"
        )
    # crop to the label's box (+1 voxel of background all round) so 128³ grids with small labels are fast
    idx = np.argwhere(mask)
    lo, hi = idx.min(0), idx.max(0) + 1
    sub = np.zeros(tuple(hi - lo + 2), dtype=np.uint8)
    sub[1:-1, 1:-1, 1:-1] = mask[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]]
    verts, tri, _, _ = marching_cubes(sub, level=0.5, method="lorensen", allow_degenerate=False)
    verts = verts + (lo - 1)  # back to the voxel indices of the full grid
    world = verts @ a[:3, :3].T + a[:3, 3]
    # process=False: merging vertices by position would fuse sheets that touch at an edge (non-manifold)
    mesh = trimesh.Trimesh(world, tri, process=False)
    if mesh.volume < 0:  # marching cubes' order and mirroring affines both flip the winding
        mesh.invert()
    voxel_mm3 = float(abs(np.linalg.det(a[:3, :3])))
    out = LabelMesh(
        mesh=mesh,
        label=int(label),
        name=name or f"label_{label}",
        color=tuple(color) if color is not None else LABEL_COLORS[(int(label) - 1) % len(LABEL_COLORS)],
        voxel_volume_mm3=count * voxel_mm3,
        voxel_size_mm=float(np.cbrt(voxel_mm3)),
        meta={"voxels": count},
    )
    if smooth:
        from .simplify import smooth as _smooth

        out = _smooth(out, smooth)
    if faces is not None:
        from .simplify import decimate

        out = decimate(out, faces)
    return out


def label_meshes(
    labels: Any,
    affine: Any = None,
    *,
    spacing: Any = None,
    names: Mapping[int, str] | Sequence[str] | None = None,
    colors: Mapping[int, tuple[int, int, int]] | None = None,
    select: Sequence[int] | None = None,
    smooth: int = 0,
    faces: int | None = None,
    image: Any = None,
    out: Any = None,
) -> list[Any]:
    """One :class:`~medimg_kernel.meshes.LabelMesh` per non-zero label (or per label in ``select``).

    ``names`` maps label → name (or lists names of labels 1, 2, ...); ``colors`` maps label → RGB,
    defaulting to the label colours every viewer of the kit uses. ``faces`` is a budget per mesh.
    ``out`` (a .glb/.gltf/.stl/.obj/.ply path) is checked for writing first, then written.
    """
    from tqdm.auto import tqdm

    from .export import check_writable, export_meshes

    if out is not None:
        check_writable(out)

    if affine is None and spacing is None and hasattr(labels, "affine"):
        affine = labels.affine
    arr = _as_labels(labels, image)
    values = [int(v) for v in np.unique(arr) if v != 0] if select is None else [int(v) for v in select]
    if not values:
        raise MeshError("the label map is all background (0): nothing to mesh; check the segmentation")
    meshes = []
    for v in tqdm(values, desc="meshing labels", disable=len(values) < 4, leave=False):
        meshes.append(
            label_mesh(
                arr,
                v,
                affine,
                spacing=spacing,
                name=_default_name(v, names),
                color=None if colors is None else colors.get(v),
                smooth=smooth,
                faces=faces,
            )
        )
    if out is not None:
        export_meshes(meshes, out)
    return meshes
