"""Real cortical surfaces shipped with nilearn: fsaverage5 (10,242 vertices per hemisphere, GIfTI)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError, MedimgKernelError

__all__ = ["fsaverage", "FSAVERAGE_MESHES"]

FSAVERAGE_MESHES = ("pial", "white", "inflated", "sphere")
_FILES = {
    "pial": "pial_{h}.gii.gz",
    "white": "white_{h}.gii.gz",
    "inflated": "infl_{h}.gii.gz",
    "sphere": "sphere_{h}.gii.gz",
}
_COLORS = {"left": (230, 180, 160), "right": (160, 190, 230)}


def _folder() -> Path:
    import nilearn.datasets

    folder = Path(nilearn.datasets.__file__).resolve().parent / "data" / "fsaverage5"
    if not folder.is_dir():
        raise MedimgKernelError(
            f"nilearn's fsaverage5 surfaces are not at {folder}; reinstall nilearn (pip install 'nilearn>=0.10')"
        )
    return folder


def fsaverage(mesh: str = "pial", hemi: str = "left") -> Any:
    """The fsaverage5 ``mesh`` (pial, white, inflated, sphere) of ``hemi`` as a LabelMesh in MNI mm.

    The GIfTI file is read with nibabel from nilearn's package data, offline. Faces are wound outwards.
    Notes: FreeSurfer fsaverage (Fischl et al., NeuroImage 1999), as distributed by nilearn.
    """
    import nibabel as nib
    import trimesh

    from .labelmesh import LabelMesh

    if mesh not in _FILES:
        raise ConfigError(f"unknown fsaverage mesh {mesh!r}; choose one of {', '.join(FSAVERAGE_MESHES)}")
    if hemi not in _COLORS:
        raise ConfigError(f"hemi must be 'left' or 'right', got {hemi!r}")
    path = _folder() / _FILES[mesh].format(h=hemi)
    gii = nib.load(str(path))
    coords = np.asarray(gii.agg_data("NIFTI_INTENT_POINTSET"), dtype=np.float64)
    faces = np.asarray(gii.agg_data("NIFTI_INTENT_TRIANGLE"), dtype=np.int64)
    tm = trimesh.Trimesh(coords, faces, process=False)
    if tm.is_watertight and tm.volume < 0:
        tm.invert()
    return LabelMesh(
        mesh=tm,
        label=0,
        name=f"fsaverage5_{mesh}_{hemi}",
        color=_COLORS[hemi],
        meta={"source": str(path), "surface": mesh, "hemi": hemi},
    )
