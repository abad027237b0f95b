"""Readers for the non-DICOM formats: nibabel (NIfTI, Analyze, MGH), SimpleITK (NRRD, MetaImage),
Pillow (PNG, JPEG, TIFF, BMP) and NumPy (``.npy``/``.npz``). Each returns an :class:`ImageData`, or
raises the package's :class:`~medimg_kernel.errors.DataError` through :class:`reading`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from . import _NAMES, ImageData, fail, picture_affine, reading

__all__ = ["read", "probe", "read_npz", "from_sitk"]


def _nibabel_errors() -> tuple[type, ...]:
    from nibabel.filebasedimages import ImageFileError
    from nibabel.spatialimages import HeaderDataError

    return (ImageFileError, HeaderDataError)


def _read_nibabel(path: Path, fmt: str) -> ImageData:
    import nibabel as nib

    with reading(path, _NAMES[fmt], not_format=_nibabel_errors()):
        img = nib.load(str(path))
        arr = np.asanyarray(img.dataobj)
        affine = np.asarray(img.affine, dtype=float)
    rgb = False
    if arr.dtype.names:  # RGB24 / RGBA32 NIfTI: structured voxels -> colour samples in the last axis
        arr = np.stack([arr[c] for c in arr.dtype.names[:3]], axis=-1)
        rgb = True
    if arr.ndim < 2:
        raise fail(path, f"holds a {arr.ndim}-D array {arr.shape}, not an image", "pass an image volume")
    if arr.ndim == 2 + rgb:
        arr = arr[:, :, None]
    return ImageData(arr, affine, path, fmt, rgb=rgb, meta={"header": type(img.header).__name__})


def from_sitk(img: Any) -> tuple[np.ndarray, np.ndarray]:
    """SimpleITK image (LPS world, array z,y,x) -> array (x,y,z[,c]) and RAS affine."""
    import SimpleITK as sitk

    arr = np.array(sitk.GetArrayFromImage(img))
    dim = img.GetDimension()
    if dim == 2:
        arr = np.swapaxes(arr, 0, 1)[:, :, None]  # (y, x[, c]) -> (x, y, 1[, c])
        sp = img.GetSpacing()
        return arr, np.diag([float(sp[0]), float(sp[1]), 1.0, 1.0])
    comps = img.GetNumberOfComponentsPerPixel() > 1
    spatial = tuple(range(dim - 1, -1, -1))
    arr = (
        np.transpose(arr, spatial + tuple(range(dim, arr.ndim)))
        if not comps
        else np.transpose(arr, spatial + (dim,))
    )
    direction = np.array(img.GetDirection(), dtype=float).reshape(dim, dim)[:3, :3]
    spacing = np.array(img.GetSpacing(), dtype=float)[:3]
    origin = np.array(img.GetOrigin(), dtype=float)[:3]
    affine = np.eye(4)
    affine[:3, :3] = direction * spacing
    affine[:3, 3] = origin
    return arr, np.diag([-1.0, -1.0, 1.0, 1.0]) @ affine  # LPS -> RAS


def _read_sitk(path: Path, fmt: str) -> ImageData:
    import SimpleITK as sitk

    with reading(path, _NAMES[fmt]):
        if fmt == "metaimage" and path.suffix.lower() == ".mhd":
            _check_mhd_data_file(path)
        arr, affine = from_sitk(sitk.ReadImage(str(path)))
    return ImageData(arr, affine, path, fmt)


def _check_mhd_data_file(path: Path) -> None:
    text = path.read_text(encoding="latin-1", errors="replace")
    for line in text.splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "ElementDataFile" and value.strip() not in ("LOCAL", "LIST"):
            data = path.parent / value.strip()
            if not data.is_file():
                raise fail(
                    path, f"names a data file {value.strip()!r} that is missing", "copy it next to the .mhd"
                )


def _read_pil(path: Path, fmt: str) -> ImageData:
    from PIL import Image, UnidentifiedImageError

    with reading(path, _NAMES[fmt], not_format=(UnidentifiedImageError,)):
        with Image.open(path) as im:
            mode = im.mode
            if mode == "P":
                im = im.convert("RGBA" if "transparency" in im.info else "RGB")
            elif mode in ("CMYK", "YCbCr", "LAB", "HSV"):
                im = im.convert("RGB")
            elif mode == "LA":
                im = im.convert("L")
            im.load()
            arr = np.asarray(im)
    rgb = arr.ndim == 3 and arr.shape[-1] in (3, 4)
    if rgb and arr.shape[-1] == 4:
        arr = arr[..., :3]
    arr = np.swapaxes(arr, 0, 1)[:, :, None]  # (rows, cols[, 3]) -> (X=cols, Y=rows, 1[, 3])
    return ImageData(arr, picture_affine(arr.shape[1]), path, fmt, rgb=rgb, meta={"mode": mode})


def _read_numpy(path: Path, fmt: str) -> ImageData:
    if fmt == "npz":
        arrays = read_npz(path, fmt, ())
        key = next((k for k in ("image", "images", "arr_0") if k in arrays), None)
        if key is None:
            raise fail(path, f"holds no 'image' array (keys: {', '.join(arrays)})", "save it with image=...")
        arr = arrays[key]
    else:
        with reading(path, _NAMES[fmt]):
            arr = np.load(path, allow_pickle=False)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    return ImageData(np.asarray(arr), np.eye(4), path, fmt)


def read_npz(path: Path, fmt: str, keys: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Every array of an ``.npz`` archive (or a ``.npy`` as ``arr_0``), decoded now; ``keys`` must be there."""
    with reading(path, _NAMES[fmt]):
        if fmt == "npy":
            out = {"arr_0": np.load(path, allow_pickle=False)}
        else:
            with np.load(path, allow_pickle=False) as z:
                out = {k: np.asarray(z[k]) for k in z.files}
    missing = [k for k in keys if k not in out]
    if missing:
        raise fail(
            path,
            f"has no array {', '.join(map(repr, missing))} (it holds {', '.join(out) or 'nothing'})",
            "set the key names (image_key/label_key) or save the arrays under these names",
        )
    return out


_READERS = {
    "nifti": _read_nibabel,
    "analyze": _read_nibabel,
    "mgh": _read_nibabel,
    "nrrd": _read_sitk,
    "metaimage": _read_sitk,
    "png": _read_pil,
    "jpeg": _read_pil,
    "tiff": _read_pil,
    "bmp": _read_pil,
    "npy": _read_numpy,
    "npz": _read_numpy,
}


def read(path: Path, fmt: str) -> ImageData:
    """Read ``path`` with the reader of ``fmt`` (see :data:`_READERS`)."""
    return _READERS[fmt](path, fmt)


def probe(path: Path, fmt: str) -> None:
    """Cheap check of ``path``: the header parses and the file is long enough for its data."""
    if fmt in ("nifti", "analyze", "mgh"):
        import nibabel as nib

        with reading(path, _NAMES[fmt], not_format=_nibabel_errors()):
            img = nib.load(str(path))
            if not path.name.lower().endswith((".gz", ".mgz")):
                hdr = img.header
                need = (
                    int(hdr.get_data_offset())
                    + int(np.prod(hdr.get_data_shape())) * hdr.get_data_dtype().itemsize
                )
                data_file = path.with_suffix(".img") if fmt == "analyze" else path
                have = data_file.stat().st_size if data_file.exists() else 0
                if fmt == "analyze":
                    need -= int(hdr.get_data_offset())
                if have < need:
                    raise EOFError(f"expected {need} bytes, found {have}")
        return
    if fmt in ("png", "jpeg", "tiff", "bmp"):
        from PIL import Image, UnidentifiedImageError

        with reading(path, _NAMES[fmt], not_format=(UnidentifiedImageError,)):
            with Image.open(path) as im:
                im.verify()
        return
    read(path, fmt)  # NRRD/MHA/NumPy: SimpleITK and NumPy read fast enough to check fully
