"""The one place where the kit reads image files: every user path (``mk.view``/``snapshot`` on a path,
``mk.load``'s datasets, ``medimg train`` data files, shipped samples) goes through :func:`read_image`.

Formats are recognised by their content first (the ``DICM`` preamble at offset 128, the NIfTI/NRRD/PNG/
JPEG/NumPy magic bytes), then by suffix; a file whose content contradicts its suffix is refused. Any
reader failure becomes a :class:`~medimg_kernel.errors.DataError` that names the file, says what is wrong
in plain words and what to do, with the reader's own exception chained. Nothing is dropped silently: a
DICOM series with missing, duplicate or inconsistent slices is refused unless ``strict=False``, which
warns and lists what was left out in ``ImageData.dropped``.

Readers: DICOM files and series with pydicom (:mod:`.dicom`), NIfTI/Analyze/MGH with nibabel, NRRD/MHA/
MHD with SimpleITK, PNG/JPEG/TIFF/BMP with Pillow, ``.npy``/``.npz`` with NumPy (:mod:`.formats`).
"""

from __future__ import annotations

import errno
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import DataError, MedimgKernelError

__all__ = [
    "ImageData",
    "DataWarning",
    "read_image",
    "read_arrays",
    "probe",
    "sniff",
    "check_path",
    "check_same_grid",
    "header_grid",
    "reading",
]

#: suffix -> format name (the first match of the longest suffixes wins)
SUFFIXES: dict[str, str] = {
    ".nii.gz": "nifti",
    ".nii": "nifti",
    ".hdr": "analyze",
    ".img": "analyze",
    ".mgz": "mgh",
    ".mgh": "mgh",
    ".nrrd": "nrrd",
    ".nhdr": "nrrd",
    ".mha": "metaimage",
    ".mhd": "metaimage",
    ".dcm": "dicom",
    ".dicom": "dicom",
    ".png": "png",
    ".jpg": "jpeg",
    ".jpeg": "jpeg",
    ".tif": "tiff",
    ".tiff": "tiff",
    ".bmp": "bmp",
    ".npy": "npy",
    ".npz": "npz",
}

_NAMES = {
    "nifti": "a NIfTI file",
    "analyze": "an Analyze file",
    "mgh": "an MGH/MGZ file",
    "nrrd": "an NRRD file",
    "metaimage": "a MetaImage (MHA/MHD) file",
    "dicom": "a DICOM file",
    "png": "a PNG image",
    "jpeg": "a JPEG image",
    "tiff": "a TIFF image",
    "bmp": "a BMP image",
    "npy": "a NumPy .npy file",
    "npz": "a NumPy .npz archive",
    "gzip": "a gzip-compressed file",
    "zip": "a zip archive",
}


class DataWarning(UserWarning):
    """Data was left out on request (``strict=False`` / ``on_error="skip"``); the message lists what."""


@dataclass(eq=False)
class ImageData:
    """An image as read from disk: voxels in file order with their world geometry.

    Attributes
    ----------
    array : ndarray (X, Y, Z) or (X, Y, Z, C)
        Voxels; for DICOM and 2D pictures X runs along the columns, Y along the rows, Z over the
        frames/slices; colour images keep their samples (RGB) in the last axis.
    affine : ndarray (4, 4)
        Voxel index -> world millimetres in RAS (DICOM's LPS is converted).
    path : Path
        The file or folder read.
    fmt : str
        Format name (``"dicom"``, ``"nifti"``, ``"png"``...).
    rgb : bool
        True when the last axis holds RGB colour samples (to be shown as true colour).
    meta : dict
        Format details (modality, photometric interpretation, transfer syntax, series UID...).
    dropped : list of str
        What ``strict=False`` left out (empty otherwise).
    """

    array: np.ndarray
    affine: np.ndarray
    path: Path
    fmt: str
    rgb: bool = False
    meta: dict[str, Any] = field(default_factory=dict)
    dropped: list[str] = field(default_factory=list)

    @property
    def dataobj(self) -> np.ndarray:
        """The voxels, under nibabel's name, so ``mk.view``/``mk.snapshot`` take an ImageData with its geometry."""
        return self.array

    @property
    def spacing(self) -> tuple[float, float, float]:
        """Voxel size in mm along the first three array axes."""
        return tuple(float(s) for s in np.sqrt((self.affine[:3, :3] ** 2).sum(axis=0)))  # type: ignore[return-value]

    @property
    def spatial_shape(self) -> tuple[int, int, int]:
        return tuple(int(s) for s in self.array.shape[:3])  # type: ignore[return-value]

    def grid(self) -> str:
        """One-line description of the grid, used in error messages."""
        sp = " x ".join(f"{s:.4g}" for s in self.spacing)
        return f"{self.path.name}: shape {self.spatial_shape}, spacing {sp} mm"


# ------------------------------------------------------------------------------------------- errors
def _plain_reason(err: BaseException) -> tuple[str, str]:
    """(what is wrong, what to do) for a reader's exception, in plain words."""
    import zlib

    text = f"{type(err).__name__}: {err}".lower()
    redo = "copy or download the file again (`medimg data verify` checks a fetched dataset)"
    if isinstance(err, (EOFError, zlib.error)) or any(
        s in text
        for s in (
            "truncat",
            "end of file",
            "unexpected end",
            "compressed file ended",
            "less than expected",
            "not enough data",
            "buffer is too small",
            "mmap length",
            "expected to read",
            "cannot reshape",
            "premature end",
        )
    ):
        return "is truncated (it ends before its data does)", redo
    import zipfile

    if isinstance(err, zipfile.BadZipFile):
        return "is truncated or damaged (its zip directory is missing or broken)", redo
    if isinstance(err, PermissionError):
        return "cannot be opened: permission denied", "check the file's permissions"
    if isinstance(err, IsADirectoryError):
        return "is a folder where a file was expected", "pass the image file inside it"
    if isinstance(err, OSError) and err.errno == errno.ELOOP:
        return "is a symbolic link that loops", "point the link at a real file"
    if "crc" in text or "corrupt" in text or "invalid" in text or "bad" in text:
        return f"is corrupt ({_first_line(err)})", redo
    return f"cannot be read ({_first_line(err)})", redo


def _first_line(err: BaseException) -> str:
    msg = str(err).strip().splitlines()
    line = msg[0] if msg else type(err).__name__
    return line if len(line) <= 160 else line[:157] + "..."


def fail(path: Path | str, what: str, todo: str, cause: BaseException | None = None) -> DataError:
    """Build the package's error for ``path``: ``<path>: <what>; <todo>``."""
    err = DataError(f"{path}: {what}; {todo}")
    err.path = str(path)  # type: ignore[attr-defined]
    if cause is not None:
        err.__cause__ = cause
    return err


class reading:
    """Context manager turning any exception inside into a :class:`DataError` naming ``path``.

    ``what`` (e.g. ``"a NIfTI file"``) is used for format errors: ``<path> is not <what>``.
    """

    def __init__(self, path: Path | str, what: str = "", *, not_format: tuple[type, ...] = ()):
        self.path = path
        self.what = what
        self.not_format = not_format

    def __enter__(self) -> reading:
        return self

    def __exit__(self, et: Any, ev: BaseException | None, tb: Any) -> bool:
        if ev is None or not isinstance(ev, Exception):
            return False
        if isinstance(ev, MedimgKernelError):
            return False
        if self.not_format and isinstance(ev, self.not_format):
            raise fail(
                self.path,
                f"is not {self.what} ({_first_line(ev)})",
                "check that the file is what its name says, or give it the right suffix",
                ev,
            )
        what, todo = _plain_reason(ev)
        raise fail(self.path, what, todo, ev)


def picture_affine(
    n_rows: int, col_mm: float = 1.0, row_mm: float = 1.0, frame_mm: float = 1.0
) -> np.ndarray:
    """A picture's affine (no patient geometry): columns to the right, row 0 on top, frames upwards."""
    affine = np.diag([col_mm, -row_mm, frame_mm, 1.0])
    affine[1, 3] = (n_rows - 1) * row_mm
    return affine


# ------------------------------------------------------------------------------------------ checks
def check_path(path: str | os.PathLike[str], *, folder_ok: bool = True) -> Path:
    """Return ``path`` if it is a readable, non-empty file (or folder); else raise a :class:`DataError`."""
    p = Path(path).expanduser()
    try:
        st = os.stat(p)
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise fail(p, "is a symbolic link that loops", "point the link at a real file", err) from err
        if p.is_symlink():
            raise fail(
                p, "is a symbolic link to a missing file", "point the link at a real file", err
            ) from err
        if err.errno == errno.EACCES:
            raise fail(p, "cannot be opened: permission denied", "check its permissions", err) from err
        raise fail(
            p, "does not exist", "check the path (relative paths start from the notebook's folder)", err
        ) from err
    if os.path.isdir(p):
        if not folder_ok:
            raise fail(p, "is a folder where an image file was expected", "pass one of the files inside it")
        return p
    if st.st_size == 0:
        raise fail(p, "is empty (0 bytes)", "copy or download the file again")
    return p


def _suffix_format(path: Path) -> str | None:
    name = path.name.lower()
    for suf in sorted(SUFFIXES, key=len, reverse=True):
        if name.endswith(suf):
            return SUFFIXES[suf]
    return None


def sniff(path: Path) -> str | None:
    """The format a file's first bytes show (``None`` when they show nothing known)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(560)
    except OSError as err:
        what, todo = _plain_reason(err)
        raise fail(path, what, todo, err) from err
    if len(head) >= 132 and head[128:132] == b"DICM":
        return "dicom"
    if head[:2] == b"\x1f\x8b":
        return "gzip"
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if head[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    if head[:2] == b"BM":
        return "bmp"
    if head[:6] == b"\x93NUMPY":
        return "npy"
    if head[:4] == b"PK\x03\x04":
        return "zip"
    if head[:4] == b"NRRD":
        return "nrrd"
    if head.lstrip().startswith((b"ObjectType", b"NDims")):
        return "metaimage"
    if len(head) >= 348 and head[344:348] in (b"n+1\x00", b"ni1\x00"):
        return "nifti"
    if len(head) >= 540 and head[4:8] in (b"n+2\x00", b"ni2\x00"):
        return "nifti"
    if len(head) >= 4 and int.from_bytes(head[:4], "little") in (348, 540):
        return "analyze"
    if len(head) >= 4 and int.from_bytes(head[:4], "big") in (348, 540):
        return "analyze"
    if _looks_like_raw_dicom(head):
        return "dicom"
    return None


def _looks_like_raw_dicom(head: bytes) -> bool:
    """A DICOM stream without preamble: starts with a group 0x0002/0x0008 element (little or big endian)."""
    if len(head) < 8:
        return False
    group_le = int.from_bytes(head[0:2], "little")
    group_be = int.from_bytes(head[0:2], "big")
    vr = head[4:6]
    plausible_vr = vr.isalpha() and vr.isupper()
    return (group_le in (0x0002, 0x0008) or group_be in (0x0002, 0x0008)) and (
        plausible_vr or int.from_bytes(head[4:8], "little") < 1 << 16
    )


def detect_format(path: Path) -> str:
    """The reader for ``path``: its content's format, checked against its suffix."""
    by_suffix = _suffix_format(path)
    by_content = sniff(path)
    if by_content == "gzip":
        if by_suffix in ("nifti", "mgh"):
            return by_suffix
        raise fail(
            path,
            "is gzip-compressed but its name does not say what is inside",
            "name it .nii.gz (NIfTI) or .mgz (MGH), or decompress it first",
        )
    if by_content == "zip":
        if by_suffix == "npz":
            return "npz"
        raise fail(path, "is a zip archive, not an image", "extract it first (medimg data fetch does this)")
    if by_content is None:
        if by_suffix in ("nifti", "analyze", "mgh", "nrrd", "metaimage", "png", "jpeg", "tiff", "bmp", "npy"):
            # the suffix promises a format whose magic bytes are missing
            if by_suffix in ("analyze", "mgh") or (
                by_suffix == "nifti" and path.name.lower().endswith(".nii")
            ):
                return by_suffix  # nibabel checks these headers itself (MGH has no magic)
            raise fail(
                path,
                f"is not {_NAMES[by_suffix]}: its first bytes are not {_NAMES[by_suffix]}'s header",
                "the file is damaged or misnamed; copy it again or give it the right suffix",
            )
        if by_suffix in ("dicom", None):
            return "dicom"  # pydicom decides (DICOM without preamble, or not an image at all)
        raise fail(path, "is not an image file the kit knows", _supported_hint())
    if by_suffix is None or by_suffix == by_content:
        return by_content
    if {by_suffix, by_content} <= {"nifti", "analyze"}:
        return by_content
    if by_suffix == "dicom" and by_content != "dicom":
        raise fail(
            path,
            f"is named .dcm but holds {_NAMES[by_content]}",
            "rename it to the right suffix, or check that the right file was copied",
        )
    if by_content == "dicom" and by_suffix not in ("dicom",):
        raise fail(
            path,
            f"is a DICOM file although its name says {_NAMES[by_suffix]}",
            "rename it (DICOM files need no suffix), or check that the right file was copied",
        )
    raise fail(
        path,
        f"is {_NAMES[by_content]} although its name says {_NAMES[by_suffix]}",
        "rename it to the right suffix, or check that the right file was copied",
    )


def _supported_hint() -> str:
    return (
        "pass a DICOM file or series folder, NIfTI (.nii/.nii.gz), MGH (.mgz), NRRD, MHA/MHD, "
        "PNG/JPEG/TIFF or .npy/.npz"
    )


# --------------------------------------------------------------------------------------------- read
def read_image(
    path: str | os.PathLike[str],
    *,
    strict: bool = True,
    series: str | None = None,
) -> ImageData:
    """Read an image file or DICOM series folder into an :class:`ImageData` (voxels + RAS affine).

    ``strict=False`` loads a DICOM series with missing, duplicate or inconsistent slices by leaving
    the bad ones out (with a :class:`DataWarning`, listed in ``ImageData.dropped``); ``series`` picks one
    SeriesInstanceUID from a folder holding several. Every failure is a :class:`DataError`.
    """
    p = check_path(path)
    if p.is_dir():
        from .dicom import read_dicom_folder

        return read_dicom_folder(p, strict=strict, series=series)
    fmt = detect_format(p)
    if fmt == "dicom":
        from .dicom import read_dicom_file

        return read_dicom_file(p)
    from . import formats

    return formats.read(p, fmt)


def read_arrays(path: str | os.PathLike[str], keys: tuple[str, ...] = ()) -> dict[str, np.ndarray]:
    """Read a ``.npz`` archive (or ``.npy`` as ``{"arr_0": ...}``) fully into memory, checking ``keys``."""
    from . import formats

    p = check_path(path, folder_ok=False)
    fmt = detect_format(p)
    if fmt not in ("npz", "npy"):
        raise fail(p, f"is {_NAMES.get(fmt, fmt)}, not a NumPy .npz archive of arrays", "pass an .npz file")
    return formats.read_npz(p, fmt, keys)


def probe(path: str | os.PathLike[str], *, full: bool = False) -> None:
    """Check that ``path`` can be read (header and size; ``full=True`` decodes everything), else raise."""
    p = check_path(path)
    if full or p.is_dir():
        read_image(p)
        return
    fmt = detect_format(p)
    from . import formats

    if fmt == "dicom":
        from .dicom import probe_dicom

        probe_dicom(p)
    else:
        formats.probe(p, fmt)


def header_grid(path: str | os.PathLike[str]) -> tuple[tuple[int, int, int], np.ndarray] | None:
    """(spatial shape, RAS affine) from a NIfTI/Analyze/MGH header without reading voxels; None for others."""
    p = Path(path)
    if p.is_dir() or detect_format(p) not in ("nifti", "analyze", "mgh"):
        return None
    import nibabel as nib

    with reading(p, "a NIfTI file"):
        img = nib.load(str(p))
        shape = tuple(int(s) for s in (img.shape + (1, 1))[:3])
        return shape, np.asarray(img.affine, dtype=float)  # type: ignore[return-value]


def check_same_grid(image: ImageData, label: ImageData, *, atol: float = 1e-3) -> None:
    """Raise :class:`~medimg_kernel.errors.ShapeMismatchError` unless ``label`` is on ``image``'s grid."""
    from ...errors import ShapeMismatchError

    same = image.spatial_shape == label.spatial_shape and bool(
        np.allclose(image.affine, label.affine, atol=atol * max(1.0, float(np.abs(image.affine).max())))
    )
    if not same:
        raise ShapeMismatchError(
            f"image and label are on different grids: image {image.grid()} ({image.path}); "
            f"label {label.grid()} ({label.path}). Resample the label onto the image "
            "(mk.fusion.resample_to) or pair the right files"
        )


def warn_dropped(path: Path, dropped: list[str], what: str) -> None:
    """Warn (once per read) that ``dropped`` items of ``path`` were left out."""
    if dropped:
        shown = "; ".join(dropped[:8]) + (f"; ... ({len(dropped) - 8} more)" if len(dropped) > 8 else "")
        warnings.warn(
            f"{path}: strict=False left out {len(dropped)} {what}: {shown}", DataWarning, stacklevel=4
        )
