"""Early fusion: co-registered modalities stacked as channels of one input.

The simplest fusion and the one MONAI's BraTS tutorial uses (4 MRI sequences → ``in_channels=4``). It
needs every modality on one voxel grid: :func:`stack_modalities` checks that and either raises a
:class:`ShapeMismatchError` naming both geometries or, with ``resample=True``, resamples explicitly.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import numpy as np
import torch

from ..data.geometry import Geometry, check_same_geometry, resample_to
from ..errors import ShapeMismatchError
from ._errors import MissingModalityError

__all__ = ["stack_modalities", "EarlyFusion"]

log = logging.getLogger(__name__)


def stack_modalities(
    images: Mapping[str, np.ndarray],
    affines: Mapping[str, np.ndarray] | np.ndarray | None = None,
    *,
    order: Sequence[str] | None = None,
    reference: str | Geometry | None = None,
    resample: bool = False,
    atol: float = 1e-3,
) -> np.ndarray:
    """Stack 3D modalities into one float32 array (C, X, Y, Z), channel order = ``order`` or dict order.

    Parameters
    ----------
    images : mapping name -> ndarray (X, Y, Z)
        The modalities of one patient.
    affines : mapping name -> (4, 4) ndarray, one (4, 4) shared by all, or None (identity for all)
        Voxel-to-world transforms; a modality missing from the mapping is an error.
    order : sequence of names, optional
        Channel order; defaults to the order of ``images``.
    reference : name or Geometry, optional
        The grid to stack on (default: the first modality's).
    resample : bool
        If False (default) any difference of shape, spacing, orientation or origin raises
        :class:`ShapeMismatchError`; if True the other modalities are resampled (trilinear) onto the
        reference grid, which is logged.
    """
    names = list(order) if order is not None else list(images)
    missing = [n for n in names if n not in images]
    if missing:
        raise MissingModalityError(
            f"modalities {missing} requested but not given; available: {sorted(images)}"
        )
    if not names:
        raise ShapeMismatchError("stack_modalities needs at least one modality")
    geoms: dict[str, Geometry] = {}
    for n in names:
        arr = np.asarray(images[n])
        if arr.ndim != 3:
            raise ShapeMismatchError(
                f"modality {n!r} must be a 3D array (X, Y, Z), got shape {arr.shape}; "
                "squeeze a channel axis first"
            )
        if affines is None or isinstance(affines, np.ndarray):
            aff = affines
        else:
            if n not in affines:
                raise MissingModalityError(
                    f"no affine for modality {n!r}; affines given for {sorted(affines)}"
                )
            aff = affines[n]
        geoms[n] = Geometry.of(arr.shape, aff)
    if isinstance(reference, Geometry):
        ref_geom, ref_name = reference, "reference"
    else:
        ref_name = reference or names[0]
        if ref_name not in geoms:
            raise MissingModalityError(f"reference modality {ref_name!r} not among {names}")
        ref_geom = geoms[ref_name]
    channels = []
    for n in names:
        if ref_geom.differences(geoms[n], atol=atol):
            if not resample:
                check_same_geometry({ref_name: ref_geom, n: geoms[n]}, atol=atol)
            log.info(
                "resampling %s onto the %s grid: %s", n, ref_name, "; ".join(ref_geom.differences(geoms[n]))
            )
            channels.append(resample_to(np.asarray(images[n]), geoms[n].affine, ref_geom))
        else:
            channels.append(np.asarray(images[n], dtype=np.float32))
    return np.stack(channels).astype(np.float32, copy=False)


class EarlyFusion(torch.nn.Module):
    """Concatenate modality tensors (B, C_m, *spatial) along channels and run one ``backbone``.

    ``model({"t1": x1, "flair": x2})`` equals ``backbone(torch.cat([x1, x2], 1))`` with channels in
    ``modalities`` order; a plain tensor input is passed straight to the backbone. A missing modality
    raises: early fusion cannot run without it (use :class:`LateFusion` for that).
    """

    def __init__(self, backbone: torch.nn.Module, modalities: Sequence[str]) -> None:
        super().__init__()
        self.backbone = backbone
        self.modalities = list(modalities)

    def forward(self, x: torch.Tensor | Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Stack the modalities of ``x`` as channels and apply the backbone."""
        if isinstance(x, torch.Tensor):
            return self.backbone(x)
        missing = [m for m in self.modalities if m not in x]
        if missing:
            raise MissingModalityError(
                f"early fusion needs all of {self.modalities}; missing {missing}. Early and intermediate "
                "fusion cannot skip a modality: use LateFusion, or train with ModalityDropout."
            )
        parts = [x[m] for m in self.modalities]
        shapes = {m: tuple(p.shape[2:]) for m, p in zip(self.modalities, parts)}
        if len(set(shapes.values())) > 1:
            raise ShapeMismatchError(f"modalities have different spatial shapes {shapes}; resample first")
        return self.backbone(torch.cat(parts, dim=1))

    def extra_repr(self) -> str:
        return f"modalities={self.modalities}"
