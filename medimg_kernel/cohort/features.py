"""Radiomics-style features per label region: first-order intensity statistics and shape descriptors.

Definitions follow the IBSI / PyRadiomics conventions where they are simple (energy, entropy over a
fixed number of bins, sphericity from a marching-cubes surface, axis lengths as 4·sqrt(eigenvalue)).
:func:`region_features` is deterministic, so the parallel :func:`cohort_features` (one Dask task per
image/label pair) returns exactly the serial result.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["region_features", "features_of_pair", "cohort_features", "FIRST_ORDER", "SHAPE"]

FIRST_ORDER = ("mean", "std", "minimum", "maximum", "median", "p10", "p90", "iqr", "skewness", "kurtosis",
               "energy", "rms", "entropy")
SHAPE = ("voxels", "volume_mm3", "surface_mm2", "sphericity", "major_axis_mm", "minor_axis_mm", "elongation",
         "flatness")
_BINS = 32


def _first_order(x: np.ndarray, voxel_volume: float) -> dict[str, float]:
    x = x.astype(np.float64)
    mean, std = float(x.mean()), float(x.std())
    p10, p25, med, p75, p90 = (float(v) for v in np.percentile(x, [10, 25, 50, 75, 90]))
    z = (x - mean) / std if std > 0 else np.zeros_like(x)
    counts, _ = np.histogram(x, bins=_BINS, range=(float(x.min()), float(x.max()) + 1e-12))
    p = counts[counts > 0] / x.size
    return {"mean": mean, "std": std, "minimum": float(x.min()), "maximum": float(x.max()), "median": med,
            "p10": p10, "p90": p90, "iqr": p75 - p25, "skewness": float((z**3).mean()),
            "kurtosis": float((z**4).mean()), "energy": float((x**2).sum() * voxel_volume),
            "rms": float(np.sqrt((x**2).mean())), "entropy": float(-(p * np.log2(p)).sum())}


def _shape(mask: np.ndarray, spacing: Sequence[float]) -> dict[str, float]:
    from skimage.measure import marching_cubes, mesh_surface_area

    sp = np.asarray(spacing[: mask.ndim], float)
    n = int(mask.sum())
    volume = n * float(np.prod(sp))
    padded = np.pad(mask, 1).astype(np.float32)
    try:
        verts, faces, _, _ = marching_cubes(padded, 0.5, spacing=tuple(sp))
        area = float(mesh_surface_area(verts, faces))
    except (ValueError, RuntimeError):  # a region too thin for a surface
        area = float("nan")
    coords = np.argwhere(mask) * sp
    if n > 1:
        eig = np.sort(np.linalg.eigvalsh(np.cov(coords, rowvar=False)))[::-1]
        eig = np.clip(eig, 0, None)
    else:
        eig = np.zeros(3)
    major, minor, least = (4 * np.sqrt(e) for e in eig[:3])
    return {"voxels": float(n), "volume_mm3": volume, "surface_mm2": area,
            "sphericity": float(np.pi ** (1 / 3) * (6 * volume) ** (2 / 3) / area) if area > 0 else float("nan"),
            "major_axis_mm": float(major), "minor_axis_mm": float(minor),
            "elongation": float(np.sqrt(eig[1] / eig[0])) if eig[0] > 0 else float("nan"),
            "flatness": float(np.sqrt(eig[2] / eig[0])) if eig[0] > 0 else float("nan")}


def region_features(image: np.ndarray, label: np.ndarray, spacing: Sequence[float] = (1.0, 1.0, 1.0),
                    labels: Sequence[int] | None = None) -> list[dict[str, float]]:
    """First-order and shape features of every non-zero label value (or of ``labels``) in ``label``."""
    image, label = np.asarray(image), np.asarray(label)
    if image.shape != label.shape:
        from ..errors import ShapeMismatchError

        raise ShapeMismatchError(f"image {image.shape} and label {label.shape} differ in shape: resample the "
                                 "label onto the image grid first")
    values = [int(v) for v in np.unique(label) if v != 0] if labels is None else list(labels)
    voxel_volume = float(np.prod(np.asarray(spacing[: label.ndim], float)))
    out = []
    for v in values:
        mask = label == v
        if not mask.any():
            continue
        out.append({"label": v, **_first_order(image[mask], voxel_volume), **_shape(mask, spacing)})
    return out


def features_of_pair(pair: Mapping[str, Any], *, storage_options: Mapping[str, Any] | None = None,
                     labels: Sequence[int] | None = None) -> list[dict[str, Any]]:
    """Features of one ``{"image": path, "label": path, ...}`` pair (other keys are copied to each row).

    A pair that cannot be read or whose grids differ gives one row with an ``error`` instead.
    """
    import gzip

    import nibabel as nib

    from .storage import filesystem

    extra = {k: v for k, v in pair.items() if k not in ("image", "label")}
    try:
        arrays = []
        for key in ("image", "label"):
            fs, p = filesystem(str(pair[key]), storage_options)
            with fs.open(p, "rb") as raw:
                f = gzip.GzipFile(fileobj=raw) if p.lower().endswith(".gz") else raw
                fh = nib.FileHolder(fileobj=f)
                img = nib.Nifti1Image.from_file_map({"header": fh, "image": fh})
                arrays.append((np.asarray(img.dataobj), img.header.get_zooms()))
        (image, spacing), (label, _) = arrays
        rows = region_features(image, np.rint(label).astype(np.int64), spacing, labels)
    except Exception as err:  # noqa: BLE001 - a bad pair is a row with an error, not a failed cohort
        msg = str(err).splitlines()[0] if str(err) else ""
        return [{"image": str(pair["image"]), **extra, "label": None, "error": f"{type(err).__name__}: {msg}"[:300]}]
    return [{"image": str(pair["image"]), **extra, **r, "error": None} for r in rows]


def cohort_features(pairs: pd.DataFrame | Sequence[Mapping[str, Any]], *, client: Any | None = None,
                    labels: Sequence[int] | None = None, storage_options: Mapping[str, Any] | None = None,
                    progress: bool = True) -> pd.DataFrame:
    """Features of every image/label pair as Dask tasks; one row per (image, label value).

    ``pairs`` is a table with ``image`` and ``label`` columns (extra columns such as ``site`` are kept), or
    a cohort table from :func:`scan` (its label rows name their image). ``client=False`` runs serially.
    """
    from .engine import map_tasks
    from .storage import StorageOptions

    if isinstance(pairs, pd.DataFrame) and "role" in pairs:
        lab = pairs[(pairs["role"] == "label") & pairs["error"].isna()]
        keep = [c for c in ("site", "subject") if c in lab]
        pairs = lab.rename(columns={"path": "label"})[["image", "label", *keep]]
    records = pairs.to_dict("records") if isinstance(pairs, pd.DataFrame) else [dict(p) for p in pairs]
    if client is False:
        results = [features_of_pair(r, storage_options=storage_options, labels=labels) for r in records]
    else:
        results = map_tasks(features_of_pair, records, client=client, progress=progress, desc="features",
                            storage_options=StorageOptions(storage_options) if storage_options else None, labels=labels)
    return pd.DataFrame([row for rows in results for row in rows])


def series_noise(path: str, *, threshold: float = -300.0) -> dict[str, Any]:
    """Image noise of one volume (a DICOM series folder or an image file): the SD of adjacent-slice differences
    divided by √2, inside the object (voxels above ``threshold`` in both slices, e.g. HU > -300 for CT).

    Differences of neighbouring slices cancel the anatomy that the slices share and keep the noise, which is
    independent between slices; an unreadable volume gives a row with an ``error``.
    """
    from ..data.io import read_image
    from ..errors import ShapeMismatchError

    try:
        vol = np.asarray(read_image(path).array, dtype=np.float64)
        if vol.ndim != 3 or vol.shape[2] < 2:
            raise ShapeMismatchError(f"needs a volume of >= 2 slices, got shape {vol.shape}: give a 3D series")
        a, b = vol[..., :-1], vol[..., 1:]
        inside = (a > threshold) & (b > threshold)
        diff = (b - a)[inside]
        return {"path": str(path), "noise_sd": float(diff.std() / np.sqrt(2)) if diff.size else float("nan"),
                "mean": float(vol[vol > threshold].mean()) if inside.any() else float("nan"),
                "voxels": int(inside.sum()), "error": None}
    except Exception as err:  # noqa: BLE001 - a bad volume is a row with an error
        return {"path": str(path), "noise_sd": float("nan"), "mean": float("nan"), "voxels": 0,
                "error": f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"[:300]}

