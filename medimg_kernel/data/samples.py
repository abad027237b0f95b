"""Real sample images shipped inside installed packages, usable with no network.

The MNI152 2009a template with its grey/white-matter probability maps comes with nilearn, CT and MR
test DICOMs with pydicom, a retina fundus photograph and an immunohistochemistry slide with
scikit-image, and an example NIfTI volume with nibabel. Nothing here downloads anything.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError, RegistryError

__all__ = ["MNI152", "load_mni152", "sample_path", "load_sample", "SAMPLES"]

log = logging.getLogger(__name__)

_MNI_FILES = {
    "t1": "mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz",
    "gm": "mni_icbm152_gm_tal_nlin_sym_09a_converted.nii.gz",
    "wm": "mni_icbm152_wm_tal_nlin_sym_09a_converted.nii.gz",
}


@dataclass(frozen=True, eq=False)
class MNI152:
    """The MNI152 (ICBM 2009a, symmetric) template at one resolution.

    Attributes
    ----------
    t1 : float32 ndarray (X, Y, Z)
        T1-weighted intensity scaled to [0, 1].
    gm, wm, csf : float32 ndarray (X, Y, Z)
        Tissue probabilities in [0, 1]; ``csf`` is the brain mask minus GM minus WM, clipped.
    mask : bool ndarray (X, Y, Z)
        Brain mask (T1 above 0.2, holes filled), as in ``nilearn.datasets.load_mni152_brain_mask``.
    affine : float64 ndarray (4, 4)
        Voxel-to-world (RAS, mm) transform.
    spacing : tuple of 3 floats
        Voxel size in mm.
    """

    t1: np.ndarray
    gm: np.ndarray
    wm: np.ndarray
    csf: np.ndarray
    mask: np.ndarray
    affine: np.ndarray
    spacing: tuple[float, float, float]

    def __repr__(self) -> str:
        return f"MNI152(shape={self.t1.shape}, spacing={self.spacing})"


def _nilearn_data_dir() -> Path | None:
    spec = importlib.util.find_spec("nilearn")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data"
    return folder if all((folder / f).is_file() for f in _MNI_FILES.values()) else None


def _block_mean(vol: np.ndarray, factor: int) -> np.ndarray:
    if factor == 1:
        return vol
    shape = [s // factor for s in vol.shape]
    cropped = vol[: shape[0] * factor, : shape[1] * factor, : shape[2] * factor]
    return cropped.reshape(shape[0], factor, shape[1], factor, shape[2], factor).mean(axis=(1, 3, 5))


@functools.lru_cache(maxsize=4)
def load_mni152(resolution: int = 2) -> MNI152:
    """Load the MNI152 T1 template and its tissue maps at ``resolution`` mm (integer, ≥ 1), offline.

    Parameters
    ----------
    resolution : int
        Isotropic voxel size in mm; the 1 mm maps are block-averaged by this factor.

    Returns
    -------
    MNI152
        float32 ``t1``/``gm``/``wm``/``csf`` arrays, a bool ``mask``, ``affine`` and ``spacing``.
        At 2 mm the arrays are (98, 116, 94). Cached per process.

    Notes
    -----
    ICBM 2009a nonlinear symmetric template (Fonov et al., NeuroImage 2011), as shipped by nilearn.
    Free to use with attribution (see the McConnell Brain Imaging Centre copyright notice).
    """
    if not isinstance(resolution, int) or resolution < 1:
        raise ConfigError(
            f"MNI152 resolution must be a positive integer (mm), got {resolution!r}; try 1 or 2"
        )
    import nibabel as nib
    from scipy import ndimage

    folder = _nilearn_data_dir()
    maps: dict[str, np.ndarray] = {}
    if folder is not None:
        affine = None
        for key, fname in _MNI_FILES.items():
            img = nib.load(str(folder / fname))
            maps[key] = np.asarray(img.dataobj, dtype=np.float32) / 255.0
            affine = img.affine
    else:  # file layout changed: go through nilearn's public API (slower, resamples)
        from nilearn import datasets as nd

        imgs = {
            "t1": nd.load_mni152_template(resolution=1),
            "gm": nd.load_mni152_gm_template(resolution=1),
            "wm": nd.load_mni152_wm_template(resolution=1),
        }
        maps = {k: np.asarray(v.get_fdata(), dtype=np.float32) for k, v in imgs.items()}
        affine = imgs["t1"].affine
    affine = np.array(affine, dtype=np.float64)
    out = {k: np.clip(_block_mean(v, resolution), 0.0, 1.0).astype(np.float32) for k, v in maps.items()}
    scaled = affine.copy()
    scaled[:3, :3] = affine[:3, :3] * resolution
    # voxel centre of the first block: shift by half of the (factor - 1) original voxels
    scaled[:3, 3] = affine[:3, :3] @ np.full(3, (resolution - 1) / 2.0) + affine[:3, 3]
    mask = ndimage.binary_fill_holes(out["t1"] > 0.2)
    csf = np.clip(mask.astype(np.float32) - out["gm"] - out["wm"], 0.0, 1.0).astype(np.float32)
    spacing = tuple(float(s) for s in np.sqrt((scaled[:3, :3] ** 2).sum(axis=0)))
    for arr in (*out.values(), csf, mask):
        arr.setflags(write=False)
    return MNI152(out["t1"], out["gm"], out["wm"], csf, mask, scaled, spacing)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------------
# other shipped samples: name -> (package, relative path inside the package, kind)
SAMPLES: dict[str, tuple[str, str, str]] = {
    "pydicom-ct": ("pydicom", "data/test_files/CT_small.dcm", "dicom"),
    "pydicom-mr": ("pydicom", "data/test_files/MR_small.dcm", "dicom"),
    "skimage-retina": ("skimage", "data/retina.jpg", "image"),
    "skimage-ihc": ("skimage", "data/ihc.png", "image"),
    "nibabel-example4d": ("nibabel", "tests/data/example4d.nii.gz", "nifti"),
    "nibabel-example-nifti2": ("nibabel", "tests/data/example_nifti2.nii.gz", "nifti"),
}


def sample_path(name: str) -> Path:
    """Return the path of the shipped sample file ``name`` (see :data:`SAMPLES`)."""
    if name not in SAMPLES:
        raise RegistryError(f"no shipped sample {name!r}; available: {', '.join(sorted(SAMPLES))}")
    package, rel, _ = SAMPLES[name]
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise RegistryError(f"sample {name!r} needs the package {package!r}; install it with pip")
    path = Path(next(iter(spec.submodule_search_locations))) / rel
    if not path.is_file():
        raise RegistryError(f"sample {name!r}: {path} is missing from the installed {package!r}")
    return path


def load_sample(name: str) -> dict[str, Any]:
    """Load a shipped sample as ``{"image": float32 ndarray (C, *spatial), "affine"/"spacing", "meta"}``.

    DICOM and NIfTI volumes come back with one channel; RGB photographs as (3, H, W) scaled to [0, 1].
    """
    if name == "mni152":
        m = load_mni152(2)
        return {
            "image": m.t1[None].copy(),
            "label": _tissue_labels(m)[None],
            "affine": m.affine,
            "spacing": m.spacing,
            "meta": {"source": "nilearn"},
        }
    from .io import read_image  # the kit's one reading boundary

    path = sample_path(name)
    kind = SAMPLES[name][2]
    img = read_image(path)
    if kind == "dicom":
        ds_meta = img.meta
        arr = np.asarray(img.array[:, :, 0], dtype=np.float32).T  # (cols, rows) -> (rows, cols)
        col_mm, row_mm = img.spacing[0], img.spacing[1]
        return {
            "image": arr[None],
            "spacing": (row_mm, col_mm),
            "meta": {"modality": ds_meta.get("modality", ""), "path": str(path)},
        }
    if kind == "image":
        arr = np.asarray(img.array[:, :, 0], dtype=np.float32)  # (cols, rows[, 3])
        arr = np.repeat(arr[..., None], 3, axis=-1) if arr.ndim == 2 else arr
        return {"image": np.ascontiguousarray(np.moveaxis(arr, -1, 0).transpose(0, 2, 1)) / 255.0,
                "spacing": (1.0, 1.0), "meta": {"path": str(path)}}
    data = np.asarray(img.array, dtype=np.float32)
    image = data[None] if data.ndim == 3 else np.moveaxis(data, -1, 0)
    return {
        "image": np.ascontiguousarray(image),
        "affine": np.asarray(img.affine),
        "spacing": img.spacing,
        "meta": {"path": str(path)},
    }


def _tissue_labels(m: MNI152) -> np.ndarray:
    """Hard labels 0=background, 1=CSF, 2=GM, 3=WM from the argmax of the tissue maps inside the mask."""
    probs = np.stack([m.csf, m.gm, m.wm])
    lab = probs.argmax(axis=0).astype(np.int64) + 1
    lab[~m.mask | (probs.max(axis=0) < 0.05)] = 0
    return lab
