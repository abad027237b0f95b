"""``LabelMesh``: one surface with the label it came from, its name, colour and voxel-count volume."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["LabelMesh"]


@dataclass
class LabelMesh:
    """A triangle mesh (``trimesh.Trimesh``, vertices in world mm) of one label.

    ``voxel_volume_mm3`` is the label's voxel count times the voxel volume (``nan`` for surfaces that
    did not come from a label map), so ``volume_error`` compares the two.
    """

    mesh: Any
    label: int = 0
    name: str = "mesh"
    color: tuple[int, int, int] = (255, 255, 255)
    voxel_volume_mm3: float = float("nan")
    voxel_size_mm: float = float("nan")
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def vertices(self) -> np.ndarray:
        """(V, 3) float vertex positions in world RAS millimetres."""
        return np.asarray(self.mesh.vertices)

    @property
    def faces(self) -> np.ndarray:
        """(F, 3) int vertex indices, counter-clockwise seen from outside."""
        return np.asarray(self.mesh.faces)

    @property
    def n_faces(self) -> int:
        """Number of triangles."""
        return len(self.mesh.faces)

    @property
    def volume_mm3(self) -> float:
        """Enclosed volume in mm³ (positive when the faces are wound outwards)."""
        return float(self.mesh.volume)

    @property
    def area_mm2(self) -> float:
        """Surface area in mm²."""
        return float(self.mesh.area)

    @property
    def is_watertight(self) -> bool:
        """Every edge is shared by exactly two faces (a closed surface)."""
        return bool(self.mesh.is_watertight)

    @property
    def volume_error(self) -> float:
        """Relative difference (mesh volume − voxel volume) / voxel volume."""
        return (self.volume_mm3 - self.voxel_volume_mm3) / self.voxel_volume_mm3

    @property
    def bounds(self) -> np.ndarray:
        """(2, 3) world bounding box in mm: min and max corner."""
        return np.asarray(self.mesh.bounds)

    def copy(self, mesh: Any = None) -> LabelMesh:
        """A copy, optionally with another ``trimesh.Trimesh`` in place of the geometry."""
        return LabelMesh(
            mesh=self.mesh.copy() if mesh is None else mesh,
            label=self.label,
            name=self.name,
            color=self.color,
            voxel_volume_mm3=self.voxel_volume_mm3,
            voxel_size_mm=self.voxel_size_mm,
            meta=dict(self.meta),
        )

    def __repr__(self) -> str:
        vol = f"{self.volume_mm3:,.0f} mm³"
        if np.isfinite(self.voxel_volume_mm3):
            vol += f" (voxels {self.voxel_volume_mm3:,.0f}, {100 * self.volume_error:+.2f}%)"
        return (
            f"LabelMesh({self.name!r}, label={self.label}, faces={self.n_faces:,}, volume={vol}, "
            f"watertight={self.is_watertight})"
        )
