"""DICOM files and series read with pydicom, in the values a viewer should show.

The display transform, applied to pydicom's decoded ``pixel_array`` (with its default YBR → RGB
conversion):

1. ``PALETTE COLOR`` → RGB through the palette (``pydicom.pixels.apply_color_lut``);
2. grayscale: the modality LUT or rescale (``apply_modality_lut``; per frame from the functional groups
   of enhanced multi-frame files), RT Dose times ``DoseGridScaling`` (Gy);
3. ``MONOCHROME1`` inverted as ``v -> min + max - v`` over the image, so that brighter means higher as
   in ``MONOCHROME2``;
4. RGB (from RGB, YBR or palette data) kept as colour samples in the last axis, shown as true colour;
5. a DICOM SEG becomes one label map (segment numbers) on its frames' positions.

Geometry comes from Image Position/Orientation (Patient), Pixel Spacing and, for multi-frame files, the
functional groups or RT Dose's Grid Frame Offset Vector. Pictures without geometry (ultrasound, photos,
secondary captures) keep row 0 at the top. A series folder is checked before it is stacked: one
SeriesInstanceUID, every slice with pixel data, one orientation and size, no duplicate positions and a
regular slice spacing; else it is refused, or read with ``strict=False``, which leaves the bad slices out
(the longest regular run is kept) with a warning listing them. The viewers take the result:
``mk.view(mk.read_image(folder, strict=False))``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from . import ImageData, _first_line, _plain_reason, fail, picture_affine, reading, warn_dropped

__all__ = ["read_dicom_file", "read_dicom_folder", "probe_dicom", "display_frames"]

log = logging.getLogger(__name__)

_PIXEL_KEYS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")
_SEG_SOP = "1.2.840.10008.5.1.4.1.1.66.4"
_NOT_SLICES = (
    ".txt",
    ".json",
    ".md",
    ".xml",
    ".csv",
    ".html",
    ".pdf",
    ".zip",
    ".py",
    ".ini",
    ".yaml",
    ".log",
)
_LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])

_EXTRA_HINT = (
    "install the DICOM decoders: pip install 'medimg-kernel[dicom]' (pylibjpeg: JPEG, JPEG-LS, JPEG 2000, "
    "RLE), or 'medimg-kernel[gdcm]' (GDCM)"
)


# -------------------------------------------------------------------------------------------- read
def _dcmread(path: Path, *, header_only: bool = False) -> Any:
    import pydicom
    from pydicom.errors import InvalidDicomError

    with open(path, "rb") as fh:
        head = fh.read(132)
    preamble = len(head) == 132 and head[128:] == b"DICM"
    with reading(path, "a DICOM file", not_format=(InvalidDicomError,)):
        ds = pydicom.dcmread(str(path), force=not preamble, stop_before_pixels=header_only)
        if not preamble and not any(k in ds for k in ("SOPClassUID", "Modality", "Rows", *_PIXEL_KEYS)):
            raise InvalidDicomError("no DICOM preamble and no DICOM image elements")
    return ds


def _pixel_key(ds: Any) -> str | None:
    return next((k for k in _PIXEL_KEYS if k in ds), None)


def _kind(ds: Any) -> str:
    sop = str(ds.get("SOPClassUID", ""))
    try:
        from pydicom.uid import UID

        return UID(sop).name if sop else "an object of unknown type"
    except Exception:  # noqa: BLE001 - only for the message
        return sop


def _no_pixels(path: Path, ds: Any) -> Exception:
    if "Rows" in ds and "Columns" in ds and "BitsAllocated" in ds:
        return fail(
            path,
            f"has no pixel data although its header describes a {ds.Rows} x {ds.Columns} image: "
            "the file is probably truncated",
            "copy or download it again",
        )
    return fail(
        path,
        f"has no pixel data (it is {_kind(ds)}, modality {ds.get('Modality', '?')})",
        "open the image series it refers to; a structure set, report or presentation state has no image",
    )


def _ensure_transfer_syntax(path: Path, ds: Any) -> Any:
    """The transfer syntax UID, inferred from the encoding for native files that lack a file meta."""
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import UID, ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

    meta = getattr(ds, "file_meta", None)
    ts = meta.get("TransferSyntaxUID") if meta is not None else None
    if ts:
        return UID(ts)
    implicit, little = getattr(ds, "original_encoding", (None, None))
    if implicit is None:
        raise fail(
            path, "does not say how its pixel data is encoded (no transfer syntax)", "re-export the file"
        )
    ts = ImplicitVRLittleEndian if implicit else (ExplicitVRLittleEndian if little else ExplicitVRBigEndian)
    if meta is None:
        ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ts
    return ts


def _decode(path: Path, ds: Any) -> tuple[np.ndarray, str]:
    """pydicom's decoded pixels (YBR converted to RGB) and the resulting photometric interpretation."""
    from pydicom.pixels import get_decoder

    if _pixel_key(ds) is None:
        raise _no_pixels(path, ds)
    ts = _ensure_transfer_syntax(path, ds)
    try:
        decoder = get_decoder(ts)
    except NotImplementedError as err:
        raise fail(
            path,
            f"uses the transfer syntax {ts.name} ({ts}), which pydicom cannot decode (e.g. video)",
            "export its frames to an image format (e.g. with ffmpeg or the modality's software)",
            err,
        ) from err
    if not decoder.is_available:
        missing = "; ".join(decoder.missing_dependencies) or "no decoder plugin"
        raise fail(
            path, f"is compressed as {ts.name} and no decoder for it is installed ({missing})", _EXTRA_HINT
        )
    try:
        arr, meta = decoder.as_array(ds, as_rgb=True)
    except Exception as err:  # noqa: BLE001 - every decoder failure becomes a DataError
        what, todo = _plain_reason(err)
        if "truncated" not in what:
            what = f"has pixel data that cannot be decoded ({_first_line(err)})"
            todo = f"check the file (it may be damaged); for compressed data {_EXTRA_HINT}"
        raise fail(path, what, todo, err) from err
    pi = str(meta.get("photometric_interpretation", ds.get("PhotometricInterpretation", "MONOCHROME2")))
    return arr, pi


def _frames(arr: np.ndarray, ds: Any) -> np.ndarray:
    """Decoded pixels as (frames, rows, cols[, samples])."""
    spp = int(ds.get("SamplesPerPixel", 1) or 1)
    nframes = int(ds.get("NumberOfFrames", 1) or 1)
    if spp > 1:
        return arr if arr.ndim == 4 else arr[None]
    return arr if (arr.ndim == 3 and nframes > 1) else arr.reshape((-1, *arr.shape[-2:]))


def _frame_rescale(ds: Any, n: int) -> list[tuple[float, float]] | None:
    """Per-frame (slope, intercept) from enhanced functional groups, when present."""

    def pvt(group: Any) -> tuple[float, float] | None:
        seq = group.get("PixelValueTransformationSequence") if group is not None else None
        if seq:
            item = seq[0]
            return float(item.get("RescaleSlope", 1) or 1), float(item.get("RescaleIntercept", 0) or 0)
        return None

    shared = ds.get("SharedFunctionalGroupsSequence")
    shared_v = pvt(shared[0]) if shared else None
    per = ds.get("PerFrameFunctionalGroupsSequence")
    if per and len(per) == n:
        vals = [pvt(g) or shared_v for g in per]
        if any(v is not None for v in vals):
            return [v or (1.0, 0.0) for v in vals]
    return [shared_v] * n if shared_v else None


def display_frames(ds: Any, arr: np.ndarray, pi: str) -> tuple[np.ndarray, bool]:
    """Apply the display transform (module docstring) to decoded frames; return (frames, is_rgb)."""
    from pydicom.pixels import apply_color_lut, apply_modality_lut

    frames = _frames(arr, ds)
    if pi == "PALETTE COLOR":
        return apply_color_lut(frames, ds), True
    if frames.ndim == 4:
        return frames, frames.shape[-1] == 3
    if _pixel_key(ds) != "PixelData":
        out = frames
    else:
        per = _frame_rescale(ds, frames.shape[0])
        if per is not None and "RescaleSlope" not in ds:
            out = np.stack([f.astype(np.float64) * s + b for f, (s, b) in zip(frames, per)])
        else:
            out = apply_modality_lut(frames, ds)
    if str(ds.get("Modality", "")) == "RTDOSE" and "DoseGridScaling" in ds:
        out = out.astype(np.float64) * float(ds.DoseGridScaling)
    if pi == "MONOCHROME1" and out.size:
        lo, hi = out.min(), out.max()
        out = (
            (lo + hi) - out
            if out.dtype.kind == "f"
            else (int(lo) + int(hi) - out.astype(np.int64)).astype(out.dtype)
        )
    return out, False


# ---------------------------------------------------------------------------------------- geometry
def _group_attr(ds: Any, seq: str, attr: str, frame: int | None = None) -> Any:
    """``attr`` from a functional group ``seq`` (per-frame item ``frame`` first, then shared), or the top level."""
    per = ds.get("PerFrameFunctionalGroupsSequence")
    if frame is not None and per and frame < len(per) and seq in per[frame]:
        item = per[frame][seq][0]
        if attr in item:
            return item[attr].value
    shared = ds.get("SharedFunctionalGroupsSequence")
    if shared and seq in shared[0] and attr in shared[0][seq][0]:
        return shared[0][seq][0][attr].value
    return ds.get(attr)


def _spacing2d(ds: Any, frame: int | None = None) -> tuple[float, float] | None:
    sp = _group_attr(ds, "PixelMeasuresSequence", "PixelSpacing", frame)
    if sp is None:
        sp = ds.get("ImagerPixelSpacing")
    if sp is None:
        seq = ds.get("SequenceOfUltrasoundRegions")
        if seq and "PhysicalDeltaX" in seq[0] and seq[0].get("PhysicalUnitsXDirection") == 3:  # cm
            return abs(float(seq[0].PhysicalDeltaY)) * 10, abs(float(seq[0].PhysicalDeltaX)) * 10
        return None
    try:
        row, col = float(sp[0]), float(sp[1])
    except (TypeError, ValueError, IndexError):
        return None
    return (row, col) if row > 0 and col > 0 else None


def _orientation(ds: Any, frame: int | None = None) -> np.ndarray | None:
    iop = _group_attr(ds, "PlaneOrientationSequence", "ImageOrientationPatient", frame)
    try:
        v = np.asarray([float(x) for x in iop], dtype=float) if iop is not None else None
    except (TypeError, ValueError):
        return None
    if v is None or v.shape != (6,) or not np.all(np.isfinite(v)):
        return None
    r, c = v[:3], v[3:]
    if abs(np.linalg.norm(r) - 1) > 1e-2 or abs(np.linalg.norm(c) - 1) > 1e-2 or abs(r @ c) > 1e-2:
        return None
    return v


def _position(ds: Any, frame: int | None = None) -> np.ndarray | None:
    ipp = _group_attr(ds, "PlanePositionSequence", "ImagePositionPatient", frame)
    try:
        v = np.asarray([float(x) for x in ipp], dtype=float) if ipp is not None else None
    except (TypeError, ValueError):
        return None
    return v if v is not None and v.shape == (3,) and np.all(np.isfinite(v)) else None


def _affine(
    iop: np.ndarray, spacing: tuple[float, float], origin: np.ndarray, step: np.ndarray
) -> np.ndarray:
    """RAS affine of voxels (col, row, slice) from DICOM (LPS) orientation, spacing, origin and slice step."""
    aff = np.eye(4)
    aff[:3, 0] = iop[:3] * spacing[1]  # along a row: the column index grows
    aff[:3, 1] = iop[3:] * spacing[0]
    aff[:3, 2] = step
    aff[:3, 3] = origin
    return _LPS_TO_RAS @ aff


def _slice_thickness(ds: Any) -> float:
    for key in ("SpacingBetweenSlices", "SliceThickness"):
        v = _group_attr(ds, "PixelMeasuresSequence", key, 0)
        try:
            if v is not None and float(v) > 0:
                return float(v)
        except (TypeError, ValueError):
            pass
    return 1.0


def _regular_steps(d: np.ndarray) -> tuple[bool, float]:
    """Are the sorted positions ``d`` evenly spaced (5 % tolerance)? And the typical step."""
    diffs = np.diff(d)
    if not len(diffs):
        return True, 0.0
    step = float(np.median(diffs))
    tol = max(0.05 * abs(step), 1e-3)
    return bool(np.all(np.abs(diffs - step) <= tol)) and abs(step) > 1e-6, step


def _file_geometry(
    path: Path, ds: Any, n_frames: int, n_rows: int
) -> tuple[np.ndarray, np.ndarray | None, str]:
    """(affine, frame order or None, note) for one DICOM file's frames."""
    spacing = _spacing2d(ds, 0)
    iop = _orientation(ds, 0)
    pos0 = _position(ds, 0)
    if iop is None or pos0 is None or spacing is None:
        sp = spacing or (1.0, 1.0)
        return picture_affine(n_rows, sp[1], sp[0], _slice_thickness(ds)), None, "picture"
    normal = np.cross(iop[:3], iop[3:])
    if n_frames == 1:
        return _affine(iop, spacing, pos0, normal * _slice_thickness(ds)), None, "patient"
    offsets = ds.get("GridFrameOffsetVector")
    if offsets is not None and len(offsets) == n_frames:
        rel = np.asarray([float(x) for x in offsets])
        if rel[0] != 0:  # absolute z positions (DICOM allows both)
            rel = rel - (pos0 @ normal)
        positions = [pos0 + normal * r for r in rel]
    else:
        positions = [_position(ds, f) for f in range(n_frames)]
        if any(p is None for p in positions) or any(
            (o := _orientation(ds, f)) is None or not np.allclose(o, iop, atol=1e-4) for f in range(n_frames)
        ):
            return _affine(iop, spacing, pos0, normal * _slice_thickness(ds)), None, "frame order"
    pos = np.asarray(positions)
    d = pos @ normal
    order = np.argsort(d, kind="stable")
    ok, step = _regular_steps(d[order])
    if not ok:
        log.info("%s: frames are not on a regular grid; shown in file order", path)
        return _affine(iop, spacing, pos0, normal * _slice_thickness(ds)), None, "frame order"
    first, last = pos[order[0]], pos[order[-1]]
    stepv = (last - first) / (n_frames - 1)
    return (
        _affine(iop, spacing, first, stepv),
        (None if np.array_equal(order, np.arange(n_frames)) else order),
        "patient",
    )


def _seg_label_map(path: Path, ds: Any, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """A binary DICOM SEG as one label map (segment numbers) on its frames' positions, with its affine."""
    per = ds.get("PerFrameFunctionalGroupsSequence")
    iop, spacing = _orientation(ds, 0), _spacing2d(ds, 0)
    if not per or len(per) != frames.shape[0] or iop is None or spacing is None:
        return None
    normal = np.cross(iop[:3], iop[3:])
    seg_no, pos = [], []
    for f, group in enumerate(per):
        sis = group.get("SegmentIdentificationSequence")
        p = _position(ds, f)
        if not sis or p is None:
            return None
        seg_no.append(int(sis[0].ReferencedSegmentNumber))
        pos.append(p)
    d = np.round(np.asarray(pos) @ normal, 3)
    levels = np.unique(d)
    ok, step = _regular_steps(levels)
    if not ok and len(levels) > 1:
        return None
    index = np.searchsorted(levels, d)
    dtype = np.uint8 if max(seg_no) < 256 else np.uint16
    out = np.zeros((len(levels), *frames.shape[1:3]), dtype=dtype)
    for f in range(frames.shape[0]):
        out[index[f]] = np.where(frames[f] > 0, np.asarray(seg_no[f], dtype), out[index[f]])
    first = min(pos, key=lambda p: p @ normal)
    stepv = normal * (step if len(levels) > 1 else _slice_thickness(ds))
    return out, _affine(iop, spacing, first, stepv)


def _to_xyz(frames: np.ndarray) -> np.ndarray:
    """(frames, rows, cols[, samples]) -> (cols, rows, frames[, samples]), in native byte order."""
    if not frames.dtype.isnative:
        frames = frames.astype(frames.dtype.newbyteorder("="))
    return np.swapaxes(frames, 0, 2)


def _meta(ds: Any, pi: str) -> dict[str, Any]:
    ts = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
    return {
        "modality": str(ds.get("Modality", "")),
        "photometric_interpretation": str(ds.get("PhotometricInterpretation", "")),
        "shown_as": pi,
        "transfer_syntax": str(ts or ""),
        "series_uid": str(ds.get("SeriesInstanceUID", "")),
        "sop_class": _kind(ds),
    }


def read_dicom_file(path: Path) -> ImageData:
    """One DICOM file (single- or multi-frame, grayscale or colour, SEG, RT Dose) as an :class:`ImageData`."""
    ds = _dcmread(path)
    with reading(path):
        return _read_file(path, ds)


def _read_file(path: Path, ds: Any) -> ImageData:
    arr, pi = _decode(path, ds)
    frames, rgb = display_frames(ds, arr, pi)
    n, rows = frames.shape[0], frames.shape[1]
    if str(ds.get("SOPClassUID", "")) == _SEG_SOP and not rgb:
        seg = _seg_label_map(path, ds, frames)
        if seg is not None:
            out = ImageData(_to_xyz(seg[0]), seg[1], path, "dicom", meta=_meta(ds, pi))
            out.meta["labels"] = {
                int(s.SegmentNumber): str(s.get("SegmentLabel", "")) for s in ds.get("SegmentSequence", [])
            }
            return out
    affine, order, note = _file_geometry(path, ds, n, rows)
    if order is not None:
        frames = frames[order]
    out = ImageData(_to_xyz(frames), affine, path, "dicom", rgb=rgb, meta=_meta(ds, pi))
    out.meta["geometry"] = note
    return out


def probe_dicom(path: Path) -> None:
    """Check that ``path`` is a DICOM file with pixel data pydicom can decode (header-level checks)."""
    from pydicom.pixels import get_decoder

    ds = _dcmread(path, header_only=False)
    key = _pixel_key(ds)
    if key is None:
        raise _no_pixels(path, ds)
    ts = _ensure_transfer_syntax(path, ds)
    try:
        ok = get_decoder(ts).is_available
    except NotImplementedError:
        ok = False
    if not ok:
        raise fail(path, f"is compressed as {ts.name} and no decoder for it is installed", _EXTRA_HINT)
    if not ts.is_encapsulated and key == "PixelData":
        from pydicom.pixels.utils import get_expected_length

        try:
            need = get_expected_length(ds)
        except Exception:  # noqa: BLE001 - incomplete header: the full read reports it
            return
        if len(ds.PixelData) < need:
            raise fail(path, "is truncated (its pixel data is shorter than its header says)", "copy it again")


# ------------------------------------------------------------------------------------------ series
def _candidates(folder: Path) -> list[Path]:
    """Files in ``folder`` that may be DICOM slices (hidden files, DICOMDIR and known non-images skipped)."""
    from . import _suffix_format, sniff

    out = []
    try:
        entries = sorted(folder.iterdir())
    except OSError as err:
        what, todo = _plain_reason(err)
        raise fail(folder, what, todo, err) from err
    for p in entries:
        if p.name.startswith(".") or p.name.upper() == "DICOMDIR" or p.name.lower().endswith(_NOT_SLICES):
            continue
        if p.is_dir() and not p.is_symlink():
            continue
        fmt = _suffix_format(p)
        if fmt not in (None, "dicom"):
            try:
                content = sniff(p) if p.is_file() else None
            except Exception:  # noqa: BLE001 - unreadable: treat as a candidate, reported below
                content = "dicom"
            if content != "dicom":
                log.info("%s: %s is not a DICOM slice; skipped", folder, p.name)
                continue
        out.append(p)
    return out


def read_dicom_folder(folder: Path, *, strict: bool = True, series: str | None = None) -> ImageData:
    """A folder holding one DICOM series (or one multi-frame file) as an :class:`ImageData`.

    See the module docstring for the checks; ``strict=False`` leaves bad slices out with a warning.
    """
    from . import check_path

    files = _candidates(folder)
    if not files:
        subs = sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
        hint = (
            f"it holds {len(subs)} subfolder(s) ({', '.join(subs[:3])}{', ...' if len(subs) > 3 else ''}): "
            "pass the one with the series"
            if subs
            else "pass a DICOM series folder or an image file"
        )
        raise fail(folder, "is a folder without DICOM files", hint)
    bad: list[tuple[Path, str]] = []
    headers: list[tuple[Path, Any]] = []
    for p in files:
        try:
            check_path(p, folder_ok=False)
            ds = _dcmread(p)
        except Exception as err:  # noqa: BLE001 - collected: every bad file is listed
            bad.append((p, str(err).split(": ", 1)[-1] if str(err).startswith(str(p)) else str(err)))
            continue
        if "SeriesInstanceUID" not in ds and _pixel_key(ds) is None:
            bad.append((p, "is incomplete: no series UID and no pixel data (truncated?)"))
            continue
        headers.append((p, ds))
    dropped: list[str] = []
    if bad:
        lines = [f"{p.name} ({why.split(';')[0]})" for p, why in bad]
        if strict or not headers:
            raise fail(
                folder,
                f"holds {len(bad)} unreadable file(s) among its DICOM slices: {'; '.join(lines)}",
                "replace them, or read the series without them: mk.read_image(folder, strict=False)",
            )
        dropped += lines
    groups: dict[str, list[tuple[Path, Any]]] = {}
    for p, ds in headers:
        groups.setdefault(str(ds.get("SeriesInstanceUID", "")), []).append((p, ds))
    if series is not None:
        if series not in groups:
            raise fail(folder, f"has no series {series!r}", f"choose one of {', '.join(groups)}")
        uid = series
    elif len(groups) > 1:
        desc = "; ".join(
            f"{u or '(no UID)'}: {len(g)} file(s) {str(g[0][1].get('SeriesDescription', '')).strip()!r}"
            for u, g in sorted(groups.items(), key=lambda kv: -len(kv[1]))
        )
        if strict:
            raise fail(
                folder,
                f"mixes {len(groups)} DICOM series ({desc})",
                "move each series into its own folder, or pick one: mk.read_image(folder, series=UID) "
                "(strict=False reads the largest)",
            )
        uid = max(groups, key=lambda u: len(groups[u]))
        dropped += [f"{p.name} (series {u})" for u, g in groups.items() if u != uid for p, _ in g]
    else:
        uid = next(iter(groups))
    items = groups[uid]
    with reading(folder):  # odd header values (e.g. a non-numeric count) become a DataError too
        out = _read_series(folder, items, strict, dropped)
    out.dropped = dropped
    warn_dropped(folder, dropped, "file(s)")
    return out


def _majority(values: list[Any]) -> Any:
    keys = [repr(v) for v in values]
    best = max(set(keys), key=keys.count)
    return values[keys.index(best)]


def _refuse_or_drop(
    folder: Path, strict: bool, items: list[tuple[Path, Any]], bad: set[int], why: str, dropped: list[str]
) -> list[tuple[Path, Any]]:
    if not bad:
        return items
    names = ", ".join(items[i][0].name for i in sorted(bad))
    if strict:
        raise fail(
            folder,
            f"{why}: {names}",
            "fix or remove these slices, or leave them out: mk.read_image(folder, strict=False)",
        )
    dropped += [f"{items[i][0].name} ({why})" for i in sorted(bad)]
    return [it for i, it in enumerate(items) if i not in bad]


def _read_series(folder: Path, items: list[tuple[Path, Any]], strict: bool, dropped: list[str]) -> ImageData:
    items = _refuse_or_drop(
        folder,
        strict,
        items,
        {i for i, (_, ds) in enumerate(items) if _pixel_key(ds) is None},
        "slice(s) without pixel data",
        dropped,
    )
    if not items:
        raise fail(folder, "holds no DICOM slice with pixel data", "pass the folder of an image series")
    multi = [i for i, (_, ds) in enumerate(items) if int(ds.get("NumberOfFrames", 1) or 1) > 1]
    if len(items) == 1 or (multi and len(multi) == len(items) == 1):
        return read_dicom_file(items[0][0])
    if multi:
        if strict:
            raise fail(
                folder,
                f"holds {len(multi)} multi-frame file(s) among {len(items)} files of one series",
                "open each multi-frame file by its path, or read the largest: mk.read_image(folder, strict=False)",
            )
        keep = max(multi, key=lambda i: int(items[i][1].NumberOfFrames))
        dropped += [f"{p.name} (another file of the series)" for i, (p, _) in enumerate(items) if i != keep]
        return read_dicom_file(items[keep][0])
    # one frame per file: check size, colour, orientation and positions
    for what, key in (
        ("slice(s) of another size", lambda ds: (int(ds.get("Rows", 0)), int(ds.get("Columns", 0)))),
        (
            "slice(s) of another pixel format",
            lambda ds: (int(ds.get("SamplesPerPixel", 1) or 1), str(ds.get("PhotometricInterpretation", ""))),
        ),
        (
            "slice(s) with another orientation",
            lambda ds: tuple(np.round(_orientation(ds), 3)) if _orientation(ds) is not None else None,
        ),
        (
            "slice(s) with another pixel spacing",
            lambda ds: tuple(np.round(_spacing2d(ds), 4)) if _spacing2d(ds) else None,
        ),
    ):
        vals = [key(ds) for _, ds in items]
        ref = _majority(vals)
        items = _refuse_or_drop(
            folder, strict, items, {i for i, v in enumerate(vals) if v != ref}, what, dropped
        )
    iop = _orientation(items[0][1])
    positions = [_position(ds) for _, ds in items]
    if iop is None or any(p is None for p in positions):
        if any(p is not None for p in positions) and iop is not None:
            items = _refuse_or_drop(
                folder,
                strict,
                items,
                {i for i, p in enumerate(positions) if p is None},
                "slice(s) without a position",
                dropped,
            )
            positions = [_position(ds) for _, ds in items]
        else:  # no geometry at all: stack by instance number
            nums = [int(ds.get("InstanceNumber", 0) or 0) for _, ds in items]
            if len(set(nums)) != len(nums):
                dup = {i for i, n in enumerate(nums) if nums.index(n) != i}
                items = _refuse_or_drop(
                    folder, strict, items, dup, "slice(s) with a duplicate instance number", dropped
                )
                nums = [int(ds.get("InstanceNumber", 0) or 0) for _, ds in items]
            order = np.argsort(nums, kind="stable")
            items = [items[i] for i in order]
            return _stack(folder, items, None)
    normal = np.cross(iop[:3], iop[3:])
    d = np.asarray([p @ normal for p in positions])
    order = np.argsort(d, kind="stable")
    items = [items[i] for i in order]
    d = d[order]
    # duplicates: the same position twice
    dup = {i for i in range(1, len(d)) if abs(d[i] - d[i - 1]) < 1e-3}
    if dup:
        items = _refuse_or_drop(
            folder, strict, items, dup, "slice(s) at the same position as another", dropped
        )
        d = np.asarray([np.delete(d, sorted(dup))]).ravel()
    ok, step = _regular_steps(d)
    if not ok:
        diffs = np.diff(d)
        if strict:
            k = int(np.argmax(np.abs(diffs - step)))
            raise fail(
                folder,
                f"has inconsistent slice spacing: slices are {abs(step):.3g} mm apart, but {abs(diffs[k]):.3g} mm "
                f"between {items[k][0].name} and {items[k + 1][0].name} (a slice is missing or misplaced)",
                "complete the series, or read its longest evenly spaced run: mk.read_image(folder, strict=False)",
            )
        tol = max(0.05 * abs(step), 1e-3)
        good = np.abs(diffs - step) <= tol
        best, run_start = (0, 0), 0
        for i, g in enumerate([*good, False]):
            if not g:
                if i - run_start > best[1] - best[0]:
                    best = (run_start, i)
                run_start = i + 1
        lo, hi = best
        keep = set(range(lo, hi + 1))
        dropped += [
            f"{p.name} (outside the longest evenly spaced run)"
            for i, (p, _) in enumerate(items)
            if i not in keep
        ]
        items = [it for i, it in enumerate(items) if i in keep]
    pos = [_position(ds) for _, ds in items]
    spacing = _spacing2d(items[0][1]) or (1.0, 1.0)
    stepv = (pos[-1] - pos[0]) / (len(pos) - 1) if len(pos) > 1 else normal * _slice_thickness(items[0][1])
    return _stack(folder, items, _affine(iop, spacing, pos[0], stepv))


def _stack(folder: Path, items: list[tuple[Path, Any]], affine: np.ndarray | None) -> ImageData:
    frames, rgb, pi = [], False, ""
    monochrome1 = False
    for p, ds in items:
        arr, pi = _decode(p, ds)
        if pi == "MONOCHROME1":  # invert once over the whole volume
            ds_pi = "MONOCHROME2"
            monochrome1 = True
        else:
            ds_pi = pi
        f, rgb = display_frames(ds, arr, ds_pi)
        frames.append(f[0])
    kinds = {f.dtype for f in frames}
    vol = np.stack(frames if len(kinds) == 1 else [f.astype(np.float64) for f in frames])
    if monochrome1 and vol.size:
        lo, hi = vol.min(), vol.max()
        vol = (
            (lo + hi) - vol
            if vol.dtype.kind == "f"
            else (int(lo) + int(hi) - vol.astype(np.int64)).astype(vol.dtype)
        )
    ds0 = items[0][1]
    if affine is None:
        sp = _spacing2d(ds0) or (1.0, 1.0)
        affine = picture_affine(vol.shape[1], sp[1], sp[0], _slice_thickness(ds0))
    out = ImageData(_to_xyz(vol), affine, folder, "dicom", rgb=rgb, meta=_meta(ds0, pi))
    out.meta["files"] = [str(p) for p, _ in items]
    return out
