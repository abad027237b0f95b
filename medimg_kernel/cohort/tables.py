"""Cohort tables: one row per scan of a folder, a manifest or an object-store prefix of NIfTI and DICOM.

Each file is one Dask task (:func:`read_file`). NIfTI geometry comes from the header alone; with
``read_data=True`` the voxels are streamed slab by slab (bounded memory, even for gzip) to get the
intensity range, NaN/Inf counts and a hash of the voxel values. DICOM files are read without pixel data
for the geometry and grouped by ``SeriesInstanceUID`` into one row per series. A file that cannot be read
becomes a row whose ``error`` column says why; it never stops the scan.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import PurePosixPath
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ConfigError

__all__ = ["scan", "discover", "read_file", "group_dicom", "COLUMNS", "NIFTI_SUFFIXES", "DICOM_SUFFIXES"]

log = logging.getLogger(__name__)

NIFTI_SUFFIXES = (".nii", ".nii.gz")
DICOM_SUFFIXES = (".dcm", ".dicom", ".ima")
LABEL_MARKERS = ("_label", "_seg", "_mask", "_dseg")
_SLAB_BYTES = 8 << 20  # voxels are streamed in slabs of about this size

#: the columns of a cohort table, in order (a manifest may add its own, e.g. ``site``)
COLUMNS = ["path", "format", "role", "image", "subject", "study", "series", "modality", "shape", "spacing",
           "orientation", "affine_det", "obliquity_deg", "affine", "dtype", "min", "max", "mean", "std", "nan_count",
           "inf_count", "label_values", "file_size", "n_files", "file_hash", "data_hash", "error"]


def _kind(path: str) -> str | None:
    low = path.lower()
    if low.endswith(NIFTI_SUFFIXES):
        return "nifti"
    if low.endswith(DICOM_SUFFIXES):
        return "dicom"
    return None


def _stem(path: str) -> str:
    name = PurePosixPath(path).name
    for suf in (".nii.gz", ".nii", ".dcm", ".dicom", ".ima"):
        if name.lower().endswith(suf):
            return name[: -len(suf)]
    return name


def _label_image(path: str) -> str | None:
    """``sub-01_T1w_label.nii.gz`` -> ``sub-01_T1w.nii.gz`` (the image a label file belongs to)."""
    stem = _stem(path)
    for marker in LABEL_MARKERS:
        if stem.endswith(marker):
            head, _, name = path.rpartition("/")
            return f"{head}/{stem[: -len(marker)]}{name[len(stem):]}" if head else stem[: -len(marker)] + name[len(stem):]
    return None


def _bids_parts(path: str) -> dict[str, str]:
    parts = PurePosixPath(path.split("://", 1)[-1]).parts
    stem = _stem(path)
    subject = next((p for p in parts if p.startswith("sub-")), None)
    if subject is None:
        m = re.match(r"(sub-[A-Za-z0-9]+)", stem)
        subject = m.group(1) if m else (parts[-2] if len(parts) > 1 else stem)
    study = next((p for p in parts if p.startswith("ses-")), "")
    suffix = stem.split("_")[-1].lower()
    modality = {"t1w": "MR", "t2w": "MR", "flair": "MR", "bold": "MR", "dwi": "MR", "ct": "CT", "pet": "PT"}.get(
        suffix, "")
    return {"subject": subject, "study": study, "series": stem, "modality": modality}


def discover(source: str | os.PathLike | Iterable[str] | pd.DataFrame, *,
             storage_options: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """List the image files of a folder / ``s3://`` prefix (recursively), a manifest CSV or a list of paths.

    Returns a table with a ``path`` column plus any manifest columns (``subject``, ``site``, ``label``...).
    A manifest's ``label`` column adds the label files as rows of their own.
    """
    from .storage import filesystem, list_files

    if isinstance(source, pd.DataFrame):
        manifest = source.copy()
    elif isinstance(source, (str, os.PathLike)) and str(source).lower().endswith((".csv", ".tsv")):
        fs, path = filesystem(str(source), storage_options)
        with fs.open(path, "rb") as f:
            manifest = pd.read_csv(f, sep="\t" if str(source).lower().endswith(".tsv") else ",")
        base = str(source).rsplit("/", 1)[0] if "/" in str(source) else "."
        for col in ("path", "label"):
            if col in manifest:
                manifest[col] = [p if (not isinstance(p, str) or "://" in p or p.startswith("/")) else
                                 f"{base}/{p}" for p in manifest[col]]
    elif isinstance(source, (str, os.PathLike)):
        manifest = pd.DataFrame({"path": [p for p in list_files(str(source), storage_options) if _kind(p)]})
    else:
        manifest = pd.DataFrame({"path": [str(p) for p in source]})
    if "path" not in manifest:
        raise ConfigError(f"the manifest needs a 'path' column (found {list(manifest.columns)})")
    if "label" in manifest:
        labels = manifest.dropna(subset=["label"])
        extra = labels.drop(columns=["path", "label"]).assign(path=labels["label"].to_numpy(),
                                                              image=labels["path"].to_numpy())
        manifest = pd.concat([manifest.drop(columns=["label"]), extra], ignore_index=True)
    return manifest.reset_index(drop=True)


def _hash_file(fs: Any, path: str) -> tuple[int, str]:
    h = hashlib.sha256()
    size = 0
    with fs.open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
            size += len(block)
    return size, h.hexdigest()


class _Stats:
    """Streaming min/max/mean/std, NaN/Inf counts, voxel hash and (for labels) the distinct values."""

    def __init__(self, label: bool) -> None:
        self.n = 0
        self.total = 0.0
        self.total_sq = 0.0
        self.lo, self.hi = np.inf, -np.inf
        self.nan = self.inf = 0
        self.hash = hashlib.sha256()
        self.values: set[float] | None = set() if label else None

    def update(self, slab: np.ndarray) -> None:
        # the voxels in file (Fortran) order: the hash of the whole volume whatever the slab size
        self.hash.update(slab.T if slab.flags.f_contiguous else np.asfortranarray(slab).T)
        x = slab.astype(np.float64, copy=False)
        finite = np.isfinite(x)
        if not finite.all():
            nan = np.isnan(x)
            self.nan += int(nan.sum())
            self.inf += int((~finite & ~nan).sum())
            x = x[finite]
        if x.size:
            self.n += x.size
            self.total += float(x.sum())
            self.total_sq += float(np.square(x).sum())
            self.lo, self.hi = min(self.lo, float(x.min())), max(self.hi, float(x.max()))
            if self.values is not None and len(self.values) <= 256:
                self.values.update(np.unique(x).tolist())

    def row(self) -> dict[str, Any]:
        mean = self.total / self.n if self.n else np.nan
        var = max(self.total_sq / self.n - mean * mean, 0.0) if self.n else np.nan
        return {"min": self.lo if self.n else np.nan, "max": self.hi if self.n else np.nan, "mean": mean,
                "std": float(np.sqrt(var)), "nan_count": self.nan, "inf_count": self.inf,
                "data_hash": self.hash.hexdigest(),
                "label_values": tuple(sorted(self.values)) if self.values is not None else None}


def _geometry(affine: np.ndarray) -> dict[str, Any]:
    import nibabel as nib

    rot = np.asarray(affine, float)[:3, :3]
    spacing = tuple(round(float(v), 6) for v in np.sqrt((rot**2).sum(axis=0)))
    try:
        orient = "".join(nib.orientations.aff2axcodes(affine))
        obl = float(np.degrees(np.max(nib.affines.obliquity(affine))))
    except Exception:  # noqa: BLE001 - degenerate (zero-spacing) affines have no orientation
        orient, obl = "???", np.nan
    return {"spacing": spacing, "orientation": orient, "affine_det": float(np.linalg.det(rot)),
            "obliquity_deg": obl, "affine": tuple(float(v) for v in np.asarray(affine, float).ravel())}


def _read_nifti(fs: Any, path: str, read_data: bool, label: bool) -> dict[str, Any]:
    import gzip

    import nibabel as nib

    with fs.open(path, "rb") as raw:
        f = gzip.GzipFile(fileobj=raw) if path.lower().endswith(".gz") else raw
        fh = nib.FileHolder(fileobj=f)
        img = nib.Nifti1Image.from_file_map({"header": fh, "image": fh})
        hdr = img.header
        shape = tuple(int(s) for s in img.shape)
        row: dict[str, Any] = {"shape": shape, "dtype": str(hdr.get_data_dtype()), **_geometry(img.affine)}
        if not path.lower().endswith(".gz"):  # an uncompressed file's size tells a truncation without reading
            need = int(hdr.get_data_offset()) + int(np.prod(shape)) * hdr.get_data_dtype().itemsize
            have = fs.size(path)
            if have < need:
                raise EOFError(f"truncated: {have} bytes, the header needs {need}")
        if read_data:
            stats = _Stats(label)
            per_slice = int(np.prod(shape[:2])) * max(hdr.get_data_dtype().itemsize, 4) if len(shape) >= 3 else 1
            step = max(1, _SLAB_BYTES // max(per_slice, 1))
            proxy = img.dataobj
            if len(shape) < 3:
                stats.update(np.asarray(proxy))
            else:
                for k in range(0, shape[2], step):
                    stats.update(np.asarray(proxy[:, :, k:k + step]))
            row.update(stats.row())
    return row


def _dicom_row(fs: Any, path: str, read_data: bool) -> dict[str, Any]:
    import pydicom

    with fs.open(path, "rb") as f:
        ds = pydicom.dcmread(f, stop_before_pixels=not read_data)
        rows, cols = int(ds.get("Rows", 0)), int(ds.get("Columns", 0))
        frames = int(ds.get("NumberOfFrames", 1) or 1)
        bits = int(ds.get("BitsAllocated", 16))
        spp = int(ds.get("SamplesPerPixel", 1))
        need = rows * cols * frames * spp * bits // 8
        row: dict[str, Any] = {
            "series_uid": str(ds.get("SeriesInstanceUID", "")), "subject": str(ds.get("PatientID", "")),
            "study": str(ds.get("StudyInstanceUID", "")),
            "series": str(ds.get("SeriesDescription", "") or ds.get("SeriesInstanceUID", "")),
            "modality": str(ds.get("Modality", "")), "rows": rows, "cols": cols, "frames": frames,
            "position": tuple(float(v) for v in ds.get("ImagePositionPatient", (0, 0, 0))),
            "iop": tuple(float(v) for v in ds.get("ImageOrientationPatient", (1, 0, 0, 0, 1, 0))),
            "pixel_spacing": tuple(float(v) for v in ds.get("PixelSpacing", (1, 1))),
            "slice_thickness": float(ds.get("SliceThickness", 1) or 1), "instance": int(ds.get("InstanceNumber", 0) or 0),
            "dtype": f"{'u' if int(ds.get('PixelRepresentation', 0)) == 0 else ''}int{bits}",
        }
        if read_data:
            pix = ds.get("PixelData")
            if pix is None or len(pix) < need:
                raise EOFError(f"truncated pixel data: {0 if pix is None else len(pix)} of {need} bytes")
            arr = ds.pixel_array
            slope, inter = float(ds.get("RescaleSlope", 1) or 1), float(ds.get("RescaleIntercept", 0) or 0)
            vals = arr.astype(np.float64) * slope + inter
            row.update({"_sum": float(vals.sum()), "_sumsq": float(np.square(vals).sum()), "_n": int(vals.size),
                        "min": float(vals.min()), "max": float(vals.max()),
                        "_pixhash": hashlib.sha256(np.ascontiguousarray(arr).tobytes()).hexdigest()})
        elif fs.size(path) < need:
            raise EOFError(f"truncated: {fs.size(path)} bytes, smaller than the {need} bytes of pixel data")
    return row


def read_file(item: Mapping[str, Any], *, read_data: bool = True, hash_files: bool = True,
              storage_options: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Read one file (a manifest row with ``path``) into a cohort-table record; errors go to ``error``."""
    from .storage import filesystem

    item = dict(item)
    path = str(item["path"])
    kind = _kind(path)
    image = item.get("image") if isinstance(item.get("image"), str) else _label_image(path)
    row: dict[str, Any] = {"path": path, "format": kind, "role": "label" if image else "image", "image": image,
                           **({} if kind == "dicom" else _bids_parts(path)), "n_files": 1, "error": None}
    try:
        fs, p = filesystem(path, storage_options)
        if hash_files:
            row["file_size"], row["file_hash"] = _hash_file(fs, p)
        else:
            row["file_size"] = int(fs.size(p))
        if kind == "nifti":
            row.update(_read_nifti(fs, p, read_data, label=bool(image)))
        elif kind == "dicom":
            row.update(_dicom_row(fs, p, read_data))
        else:
            raise ConfigError("not a NIfTI (.nii, .nii.gz) or DICOM (.dcm) file: rename it or leave it out")
    except Exception as err:  # noqa: BLE001 - a bad file is a row, never a dead worker
        msg = str(err).splitlines()[0] if str(err) else type(err).__name__
        low = f"{type(err).__name__} {msg}".lower()
        what = "truncated" if any(w in low for w in ("eof", "truncat", "end-of-stream", "ended before",
                                                       "expected", "fewer bytes")) else "unreadable"
        row["error"] = f"{what}: {type(err).__name__}: {msg}"[:300]
    for key, value in item.items():  # manifest columns (site, subject...) win over guesses from the name
        if key not in ("path", "image") and value is not None and not (isinstance(value, float) and np.isnan(value)):
            row[key] = value
    return row


def _common_parent(paths: list[str]) -> str:
    """The longest common folder of paths or URLs (``s3://`` kept intact)."""
    parts = [p.split("/")[:-1] for p in paths]
    common = []
    for level in zip(*parts):
        if len(set(level)) > 1:
            break
        common.append(level[0])
    return "/".join(common)


def group_dicom(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Merge per-file DICOM records into one record per ``SeriesInstanceUID`` (slices sorted by position)."""
    out: list[dict[str, Any]] = []
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        if r.get("format") == "dicom" and r.get("error") is None and r.get("series_uid"):
            groups.setdefault(r["series_uid"], []).append(r)
        else:
            out.append(r)
    for uid, files in groups.items():
        iop = np.array(files[0]["iop"], float)
        normal = np.cross(iop[:3], iop[3:])
        files.sort(key=lambda r: (float(np.dot(normal, r["position"])), r["instance"]))
        pos = np.array([f["position"] for f in files], float)
        gaps = np.diff(pos @ normal) if len(files) > 1 else np.array([files[0]["slice_thickness"]])
        dz = float(np.median(gaps)) if len(gaps) else files[0]["slice_thickness"]
        ps = files[0]["pixel_spacing"]
        affine = np.eye(4)  # LPS patient space as DICOM defines it
        affine[:3, 0] = iop[:3] * ps[1]  # i (column index) runs along the row direction cosine
        affine[:3, 1] = iop[3:] * ps[0]  # j (row index) along the column direction cosine
        affine[:3, 2] = normal * dz
        affine[:3, 3] = pos[0]
        geo = _geometry(np.diag([-1, -1, 1, 1]) @ affine)  # LPS -> RAS as NIfTI tools report it
        first = files[0]
        row = {k: first.get(k) for k in ("format", "role", "image", "subject", "study", "series", "modality",
                                         "dtype")}
        row.update(geo)
        row.update({"path": _common_parent([f["path"] for f in files]) if len(files) > 1 else first["path"],
                    "series_uid": uid, "shape": (first["cols"], first["rows"], len(files) * first["frames"]),
                    "n_files": len(files), "file_size": int(sum(f.get("file_size", 0) for f in files)),
                    "file_hash": hashlib.sha256("".join(f.get("file_hash", "") for f in files).encode()).hexdigest(),
                    "error": None, "slice_gap_spread": float(np.ptp(gaps)) if len(gaps) else 0.0})
        if "_n" in first:
            n = sum(f["_n"] for f in files)
            mean = sum(f["_sum"] for f in files) / n
            var = max(sum(f["_sumsq"] for f in files) / n - mean * mean, 0.0)
            row.update({"min": min(f["min"] for f in files), "max": max(f["max"] for f in files), "mean": mean,
                        "std": float(np.sqrt(var)), "nan_count": 0, "inf_count": 0,
                        "data_hash": hashlib.sha256("".join(f["_pixhash"] for f in files).encode()).hexdigest()})
        for key in first:
            if key not in row and not key.startswith("_") and key not in (
                    "rows", "cols", "frames", "position", "iop", "pixel_spacing", "slice_thickness", "instance"):
                row[key] = first[key]
        out.append(row)
    return out


def scan(source: str | os.PathLike | Iterable[str] | pd.DataFrame, *, client: Any | None = None,
         read_data: bool = True, hash_files: bool = True, storage_options: Mapping[str, Any] | None = None,
         progress: bool = True) -> pd.DataFrame:
    """Build the cohort table of ``source``: one row per NIfTI file and one per DICOM series.

    ``source`` is a folder, an ``s3://``/``gs://`` prefix (``storage_options`` for the credentials and
    endpoint), a manifest CSV with a ``path`` (and optional ``label``, ``site``...) column, or a list of
    paths. Work runs as one Dask task per file on ``client`` (default: the active client, else threads).
    ``read_data=False`` reads headers only (no intensity range, NaN counts or voxel hashes).
    """
    from .engine import map_tasks
    from .storage import StorageOptions

    manifest = discover(source, storage_options=storage_options)
    records = map_tasks(read_file, manifest.to_dict("records"), client=client, progress=progress,
                        desc="scanning", read_data=read_data, hash_files=hash_files,
                        storage_options=StorageOptions(storage_options) if storage_options else None)
    records = group_dicom(records)
    table = pd.DataFrame.from_records(records)
    for col in COLUMNS:
        if col not in table:
            table[col] = None
    extra = [c for c in table.columns if c not in COLUMNS]
    table = table[COLUMNS + extra].sort_values("path", kind="stable").reset_index(drop=True)
    n_err = int(table["error"].notna().sum())
    if n_err:
        log.warning("%d of %d files could not be read (see the 'error' column)", n_err, len(table))
    return table
