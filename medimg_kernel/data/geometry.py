"""Image geometry (shape, voxel-to-world affine) and resampling one image onto another's grid.

Early fusion stacks modalities voxel by voxel, which is only meaningful when every modality lives on
the same grid. :func:`check_same_geometry` says precisely how two grids differ;
:func:`resample_to` moves an image onto a reference grid with scipy's ``affine_transform``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import ShapeMismatchError

__all__ = ["Geometry", "check_same_geometry", "resample_to", "orientation_codes"]


def orientation_codes(affine: np.ndarray) -> str:
    """Return the axis codes of ``affine`` (e.g. ``"RAS"``), as nibabel's ``aff2axcodes`` gives them."""
    import nibabel as nib

    return "".join(nib.orientations.aff2axcodes(np.asarray(affine, dtype=float)))


@dataclass(frozen=True, eq=False)
class Geometry:
    """The sampling grid of a 3D image: array ``shape`` and 4×4 voxel-to-world ``affine`` (mm)."""

    shape: tuple[int, ...]
    affine: np.ndarray

    @classmethod
    def of(cls, shape: Sequence[int], affine: np.ndarray | None = None) -> Geometry:
        """Build a geometry; ``affine=None`` means 1 mm isotropic voxels at the origin (identity)."""
        aff = np.eye(4) if affine is None else np.asarray(affine, dtype=np.float64)
        if aff.shape != (4, 4):
            raise ShapeMismatchError(f"an affine must be a 4x4 matrix, got shape {aff.shape}")
        return cls(tuple(int(s) for s in shape), aff)

    @property
    def spacing(self) -> tuple[float, ...]:
        """Voxel size in mm along each array axis."""
        return tuple(float(s) for s in np.sqrt((self.affine[:3, :3] ** 2).sum(axis=0)))

    @property
    def origin(self) -> tuple[float, ...]:
        """World position (mm) of the centre of voxel (0, 0, 0)."""
        return tuple(float(v) for v in self.affine[:3, 3])

    @property
    def orientation(self) -> str:
        """Axis codes such as ``"RAS"``."""
        return orientation_codes(self.affine)

    def differences(self, other: Geometry, *, atol: float = 1e-3) -> list[str]:
        """List the ways ``other`` differs from this grid (shape, spacing, orientation, origin); empty if equal."""
        out = []
        if self.shape != other.shape:
            out.append(f"shape {self.shape} vs {other.shape}")
        if not np.allclose(self.spacing, other.spacing, atol=atol):
            out.append(f"spacing {_fmt(self.spacing)} vs {_fmt(other.spacing)} mm")
        if self.orientation != other.orientation:
            out.append(f"orientation {self.orientation} vs {other.orientation}")
        if not np.allclose(self.origin, other.origin, atol=max(atol, 1e-6)):
            out.append(f"origin {_fmt(self.origin)} vs {_fmt(other.origin)} mm")
        elif not np.allclose(self.affine, other.affine, atol=atol):
            out.append("direction cosines differ")
        return out

    def __repr__(self) -> str:
        return (
            f"Geometry(shape={self.shape}, spacing={_fmt(self.spacing)}, orientation={self.orientation}, "
            f"origin={_fmt(self.origin)})"
        )


def _fmt(values: Sequence[float]) -> str:
    return "(" + ", ".join(f"{v:g}" for v in values) + ")"


def check_same_geometry(geometries: dict[str, Geometry], *, atol: float = 1e-3) -> None:
    """Raise :class:`ShapeMismatchError` naming both modalities and grids if any geometry differs from the first."""
    names = list(geometries)
    if not names:
        return
    ref_name, ref = names[0], geometries[names[0]]
    for name in names[1:]:
        diff = ref.differences(geometries[name], atol=atol)
        if diff:
            raise ShapeMismatchError(
                f"modality {name!r} is not on the grid of {ref_name!r}: {'; '.join(diff)}. "
                f"{ref_name}: {ref!r}; {name}: {geometries[name]!r}. Resample explicitly with "
                f"medimg_kernel.fusion.resample_to(image, source_affine, reference) or pass "
                f"resample=True to stack_modalities to put every modality on the {ref_name!r} grid."
            )


def resample_to(
    image: np.ndarray, source_affine: np.ndarray, reference: Geometry, *, order: int = 1, cval: float = 0.0
) -> np.ndarray:
    """Resample a 3D ``image`` with voxel-to-world ``source_affine`` onto the ``reference`` grid.

    Parameters
    ----------
    image : ndarray (X, Y, Z)
        The moving image.
    source_affine : ndarray (4, 4)
        Its voxel-to-world transform (mm).
    reference : Geometry
        The target grid.
    order : int
        Spline order: 0 nearest neighbour (use it for label maps), 1 trilinear.
    cval : float
        Value outside the moving image's field of view.

    Returns
    -------
    ndarray with ``reference.shape``, same dtype family (float32 for order ≥ 1).
    """
    from scipy import ndimage

    img = np.asarray(image)
    if img.ndim != 3:
        raise ShapeMismatchError(f"resample_to expects a 3D image (X, Y, Z), got shape {img.shape}")
    src = np.asarray(source_affine, dtype=np.float64)
    # reference voxel -> world -> moving voxel
    mapping = np.linalg.inv(src) @ reference.affine
    data = img.astype(np.float32) if order > 0 else img
    out = ndimage.affine_transform(
        data,
        mapping[:3, :3],
        offset=mapping[:3, 3],
        output_shape=reference.shape,
        order=order,
        mode="constant",
        cval=cval,
    )
    return out
