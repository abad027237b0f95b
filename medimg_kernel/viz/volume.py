"""Turn whatever a student has in hand into one canonical 3D volume with its world geometry.

Accepted: numpy arrays, torch tensors, MONAI ``MetaTensor``, nibabel images, SimpleITK images, DICOM
series folders, NIfTI/NRRD/MHA/MHD paths and dataset items (dicts with ``"image"``/``"label"``).
Every volume is reoriented to the closest canonical RAS+ voxel order (first axis towards the patient's
Right, second Anterior, third Superior), so all viewers can draw "left is left" from the array alone and
use the spacing for the aspect ratio. The affine (voxel -> world mm, RAS) is kept alongside.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError, ShapeMismatchError

__all__ = [
    "Volume",
    "as_volume",
    "split_item",
    "downsample_to_budget",
    "resample_like",
    "DEFAULT_MAX_VOXELS",
    "VolumeWarning",
]

log = logging.getLogger(__name__)

#: Above this many voxels a volume is downsampled (with a warning) before it goes to the browser.
DEFAULT_MAX_VOXELS = 256 * 256 * 512



class VolumeWarning(UserWarning):
    """Something about the input was fixed up for display (NaN, downsampling, empty labels...)."""


@dataclass(eq=False)
class Volume:
    """A 3D array in canonical RAS+ voxel order with its voxel-to-world (mm, RAS) affine.

    Attributes
    ----------
    data : ndarray (X, Y, Z)
        Voxel values; axis 0 increases towards the patient's right, 1 anterior, 2 superior.
    affine : ndarray (4, 4)
        Voxel index -> world millimetres (RAS).
    name : str
        A display name.
    has_geometry : bool
        False when the input carried no spacing/orientation (a bare array): it then borrows the
        geometry of the image it is shown with.
    """

    data: np.ndarray
    affine: np.ndarray = field(default_factory=lambda: np.eye(4))
    name: str = "image"
    has_geometry: bool = False

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(int(s) for s in self.data.shape)  # type: ignore[return-value]

    @property
    def spacing(self) -> tuple[float, float, float]:
        """Voxel size in mm along the three array axes."""
        return tuple(float(s) for s in np.sqrt((self.affine[:3, :3] ** 2).sum(axis=0)))  # type: ignore[return-value]

    @property
    def orientation(self) -> str:
        """Axis codes of the array, e.g. ``'RAS'`` (always RAS after :func:`as_volume`)."""
        import nibabel as nib

        return "".join(nib.aff2axcodes(self.affine))

    def geometry(self) -> str:
        """One-line description of the grid, used in error messages."""
        origin = ", ".join(f"{v:.1f}" for v in self.affine[:3, 3])
        sp = " x ".join(f"{s:.3g}" for s in self.spacing)
        return f"{self.name}: shape {self.shape}, spacing {sp} mm, origin ({origin}), {self.orientation}"

    def same_grid(self, other: Volume, atol: float = 1e-3) -> bool:
        return self.shape == other.shape and bool(np.allclose(self.affine, other.affine, atol=atol))

    def __repr__(self) -> str:
        return f"Volume({self.geometry()}, dtype={self.data.dtype})"


# ----------------------------------------------------------------------------------------------- input
def _spacing_affine(spacing: Any, ndim: int = 3) -> np.ndarray:
    sp = [float(s) for s in np.atleast_1d(np.asarray(spacing, dtype=float))]
    if len(sp) == 1:
        sp = sp * 3
    if len(sp) != 3 or not all(s > 0 for s in sp):
        raise ConfigError(f"spacing must be 3 positive numbers (mm), got {spacing!r}")
    return np.diag([*sp, 1.0])


def _load_path(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read a file or DICOM folder through the kit's reading boundary -> (array (X,Y,Z[,C]), RAS affine)."""
    from ..data.io import read_image

    key = _path_key(path)
    if key is not None and _LAST_READ.get("key") == key:  # viewers convert their input twice
        arr, aff = _LAST_READ["value"]
        return arr.copy(), aff.copy()
    img = read_image(path)
    _LAST_READ.clear()
    if key is not None:
        _LAST_READ.update(key=key, value=(img.array, img.affine))
    return img.array, img.affine


_LAST_READ: dict[str, Any] = {}


def _path_key(path: Path) -> tuple[Any, ...] | None:
    """What identifies a file's (or a folder's files') current content, for the one-entry read cache."""
    import os

    try:
        st = os.stat(path)
        if not path.is_dir():
            return (str(path.resolve()), st.st_mtime_ns, st.st_size)
        return (str(path.resolve()), *((e.name, e.stat().st_mtime_ns, e.stat().st_size) for e in os.scandir(path)))
    except OSError:
        return None  # the reader reports it


def _from_sitk(img: Any) -> tuple[np.ndarray, np.ndarray]:
    """SimpleITK image (LPS world, array z,y,x) -> array (x,y,z) and RAS affine."""
    from ..data.io.formats import from_sitk

    return from_sitk(img)


def _to_array(obj: Any) -> tuple[np.ndarray, np.ndarray | None, str | None]:
    """Any supported object -> (array, RAS affine or None, name or None)."""
    if isinstance(obj, (str, Path)):
        path = Path(obj).expanduser()
        arr, aff = _load_path(path)
        stem = path.name.split(".")[0] or path.name
        return arr, aff, stem
    mod = type(obj).__module__
    if mod.startswith("SimpleITK"):
        arr, aff = _from_sitk(obj)
        return arr, aff, None
    if hasattr(obj, "dataobj") and hasattr(obj, "affine"):  # nibabel spatial image
        return np.asanyarray(obj.dataobj), np.asarray(obj.affine, dtype=float), None
    if mod.startswith(("torch", "monai")):
        affine = None
        if hasattr(obj, "affine") and getattr(obj, "affine", None) is not None and hasattr(obj, "meta"):
            affine = np.asarray(
                obj.affine.detach().cpu().numpy() if hasattr(obj.affine, "detach") else obj.affine,
                dtype=float,
            )
            if affine.shape != (4, 4):
                affine = None
        tensor = obj.detach().cpu()
        if hasattr(tensor, "as_tensor"):
            tensor = tensor.as_tensor()
        if str(tensor.dtype) in ("torch.bfloat16",):
            tensor = tensor.float()
        return tensor.numpy(), affine, None
    if isinstance(obj, np.ndarray) or hasattr(obj, "__array__"):
        return np.asarray(obj), None, None
    raise ConfigError(
        f"cannot show an object of type {type(obj).__name__}; pass a numpy array, torch tensor, MetaTensor, "
        "nibabel or SimpleITK image, a NIfTI/NRRD/MHA path, a DICOM folder or a dataset item dict"
    )


def split_item(item: dict[str, Any]) -> tuple[Any, Any, dict[str, Any]]:
    """Split a dataset item dict into (image, labels or None, geometry kwargs)."""
    from ..data.items import image_key, label_key

    ikey, lkey = image_key(item), label_key(item)
    geo: dict[str, Any] = {}
    if item.get("affine") is not None:
        geo["affine"] = np.asarray(item["affine"], dtype=float)
    elif item.get("spacing") is not None:
        geo["spacing"] = item["spacing"]
    return item[ikey], (item[lkey] if lkey else None), geo


def _squeeze_to_3d(arr: np.ndarray, what: str) -> np.ndarray:
    """Drop singleton channel/batch axes; return 3D (X,Y,Z) or 4D (X,Y,Z,C) or raise."""
    shape0 = arr.shape
    while arr.ndim > 3 and arr.shape[0] == 1:
        arr = arr[0]
    while arr.ndim > 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim == 4:
        if arr.shape[0] <= 8 and arr.shape[-1] > 8:  # channel-first (MONAI, C, X, Y, Z)
            arr = np.moveaxis(arr, 0, -1)
        return arr
    if arr.ndim == 3 and min(arr.shape) >= 1:
        return arr
    hint = (
        "add a slice axis (arr[..., None]) or use matplotlib's imshow for a 2D image"
        if arr.ndim == 2
        else "select one volume, e.g. arr[0]"
    )
    raise ShapeMismatchError(
        f"{what} must be a 3D volume (X, Y, Z), optionally with one channel axis; got shape {tuple(shape0)}: {hint}"
    )


def _reorient_ras(arr: np.ndarray, affine: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Flip/transpose the first three axes to the closest RAS+ order (views, no copy)."""
    import nibabel as nib
    from nibabel import orientations as no

    ornt = no.io_orientation(affine)
    target = no.axcodes2ornt("RAS")
    if np.array_equal(ornt, target):
        return arr, affine
    transform = no.ornt_transform(ornt, target)
    out = arr
    # nibabel's apply_orientation, written out so that it keeps trailing channel axes and returns views
    for ax, flip in enumerate(transform[:, 1]):
        if flip == -1:
            out = np.flip(out, axis=ax)
    perm = list(np.argsort(transform[:, 0])) + list(range(3, out.ndim))
    out = np.transpose(out, perm)
    new_affine = affine @ no.inv_ornt_aff(transform, arr.shape[:3])
    assert "".join(nib.aff2axcodes(new_affine)) == "RAS"
    return out, new_affine


def downsample_to_budget(vol: Volume, max_voxels: int = DEFAULT_MAX_VOXELS) -> Volume:
    """Stride the volume by the smallest integer factor that fits ``max_voxels`` (a view; warns)."""
    n = int(np.prod(vol.shape))
    if n <= max_voxels:
        return vol
    factor = 2
    while int(np.prod([-(-s // factor) for s in vol.shape])) > max_voxels:
        factor += 1
    data = vol.data[::factor, ::factor, ::factor]
    affine = vol.affine.copy()
    affine[:3, :3] = vol.affine[:3, :3] * factor
    warnings.warn(
        f"{vol.name} has {n / 1e6:.0f} M voxels {vol.shape}, more than the display budget of "
        f"{max_voxels / 1e6:.0f} M: showing every {factor}th voxel {data.shape[:3]}; pass max_voxels=... "
        "to change the budget, or crop the volume",
        VolumeWarning,
        stacklevel=3,
    )
    return replace(vol, data=data, affine=affine)


def as_volume(
    obj: Any,
    *,
    affine: np.ndarray | None = None,
    spacing: Any = None,
    name: str | None = None,
    max_voxels: int = DEFAULT_MAX_VOXELS,
) -> Volume:
    """Convert ``obj`` into a canonical :class:`Volume` (RAS+ voxel order, 3D or 3D + channels).

    Parameters
    ----------
    obj
        numpy array, torch tensor, MetaTensor, nibabel/SimpleITK image, path or DICOM folder.
    affine, spacing
        Geometry for bare arrays (an explicit ``affine`` wins over the object's own).
    name
        Display name; defaults to the file stem or ``"image"``.
    max_voxels
        Display budget; larger volumes are strided down with a :class:`VolumeWarning`.
    """
    if isinstance(obj, Volume):
        return downsample_to_budget(obj, max_voxels)
    if isinstance(obj, dict):
        img, _, geo = split_item(obj)
        affine = affine if affine is not None else geo.get("affine")
        spacing = spacing if spacing is not None else geo.get("spacing")
        obj = img
    arr, own_affine, own_name = _to_array(obj)
    has_geometry = True
    if affine is not None:
        aff = np.asarray(affine, dtype=float)
        if aff.shape != (4, 4):
            raise ConfigError(f"affine must be a 4x4 matrix, got shape {aff.shape}")
    elif spacing is not None:
        aff = _spacing_affine(spacing)
    elif own_affine is not None:
        aff = own_affine
    else:
        aff, has_geometry = np.eye(4), False
    arr = _squeeze_to_3d(arr, name or own_name or "image")
    if arr.dtype == bool:
        arr = arr.view(np.uint8)
    if arr.dtype.kind not in "biuf":
        raise ConfigError(f"cannot show voxels of dtype {arr.dtype}; expected numbers")
    if not np.all(np.isfinite(aff)) or abs(np.linalg.det(aff[:3, :3])) < 1e-12:
        raise ConfigError(f"the affine of {name or own_name or 'image'} is singular or not finite:\n{aff}")
    vol = Volume(arr, aff, name or own_name or "image", has_geometry)
    vol = downsample_to_budget(vol, max_voxels)
    data, aff = _reorient_ras(vol.data, vol.affine)
    return replace(vol, data=data, affine=aff)


def resample_like(moving: Volume, reference: Volume, *, order: int) -> Volume:
    """Resample ``moving`` onto the voxel grid of ``reference`` (world coordinates; ``order`` 0 for labels)."""
    from ..data.geometry import Geometry, resample_to

    data = np.asarray(moving.data)
    if data.dtype == np.float16:
        data = data.astype(np.float32)
    out = resample_to(data, moving.affine, Geometry.of(reference.shape, reference.affine), order=order)
    return Volume(out, reference.affine.copy(), moving.name, True)
