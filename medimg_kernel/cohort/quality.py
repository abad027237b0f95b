"""Quality audit of a cohort table: per-scan checks, cross-scan checks, a summary figure and thumbnails.

Per-scan checks (:data:`ROW_CHECKS`) are plain functions of one table row (a dict), so they can be
mapped over a Dask bag of rows as well as over a pandas table. Cross-scan checks need the whole table:
duplicates by voxel hash, orientations that differ from the cohort's, label grids that differ from
their image's. :func:`audit` returns one row per scan with a boolean column per check.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["audit", "ROW_CHECKS", "CHECKS", "summary", "plot_audit", "thumbnails", "DEFAULTS"]

#: thresholds of the checks (override with ``audit(table, **{name: value})``)
DEFAULTS: dict[str, Any] = {"spacing_range": (0.2, 12.0), "max_anisotropy": 6.0, "max_obliquity_deg": 1.0,
                            "label_map": None}


def _finite(v: Any) -> bool:
    return v is not None and not (isinstance(v, float) and np.isnan(v))


def _is_image(row: Mapping[str, Any]) -> bool:
    return row.get("role", "image") == "image" and row.get("error") is None


def check_truncated(row: Mapping[str, Any], **_: Any) -> bool:
    """The file ends before its data does."""
    return isinstance(row.get("error"), str) and row["error"].startswith("truncated")


def check_unreadable(row: Mapping[str, Any], **_: Any) -> bool:
    """The file could not be read for another reason (not an image, corrupt header)."""
    return isinstance(row.get("error"), str) and not row["error"].startswith("truncated")


def check_blank(row: Mapping[str, Any], **_: Any) -> bool:
    """Every voxel is zero."""
    return _is_image(row) and _finite(row.get("max")) and row["min"] == 0 and row["max"] == 0


def check_constant(row: Mapping[str, Any], **_: Any) -> bool:
    """Every voxel has the same non-zero value."""
    return _is_image(row) and _finite(row.get("max")) and row["min"] == row["max"] != 0


def check_nan_inf(row: Mapping[str, Any], **_: Any) -> bool:
    """Some voxels are NaN or infinite."""
    return row.get("error") is None and bool((row.get("nan_count") or 0) + (row.get("inf_count") or 0))


def check_spacing(row: Mapping[str, Any], spacing_range: tuple[float, float] = (0.2, 12.0), **_: Any) -> bool:
    """A voxel size (mm) is outside ``spacing_range`` or not finite."""
    if not _is_image(row) or row.get("spacing") is None:
        return False
    sp = np.asarray(row["spacing"][:3], float)
    return bool(~np.isfinite(sp).all() or (sp < spacing_range[0]).any() or (sp > spacing_range[1]).any())


def check_anisotropy(row: Mapping[str, Any], max_anisotropy: float = 6.0, **_: Any) -> bool:
    """The largest voxel side is more than ``max_anisotropy`` times the smallest."""
    if not _is_image(row) or row.get("spacing") is None:
        return False
    sp = np.asarray(row["spacing"][:3], float)
    return bool(np.isfinite(sp).all() and sp.min() > 0 and sp.max() / sp.min() > max_anisotropy)


def check_oblique(row: Mapping[str, Any], max_obliquity_deg: float = 1.0, **_: Any) -> bool:
    """The voxel axes are rotated more than ``max_obliquity_deg`` from the scanner axes."""
    return _is_image(row) and _finite(row.get("obliquity_deg")) and row["obliquity_deg"] > max_obliquity_deg


def check_label_values(row: Mapping[str, Any], label_map: Mapping[int, str] | None = None, **_: Any) -> bool:
    """A label file holds values that are negative, not integers or (with ``label_map``) not in the map."""
    if row.get("role") != "label" or row.get("error") is not None or row.get("label_values") is None:
        return False
    vals = np.asarray(row["label_values"], float)
    bad = (vals < 0) | (vals != np.round(vals))
    if label_map is not None:
        bad |= ~np.isin(vals, np.asarray(list(label_map), float))
    return bool(bad.any())


#: per-row checks: name -> function(row, **thresholds) -> bool (Dask-mappable)
ROW_CHECKS: dict[str, Callable[..., bool]] = {
    "truncated": check_truncated, "unreadable": check_unreadable, "blank": check_blank,
    "constant": check_constant, "nan_inf": check_nan_inf, "spacing": check_spacing,
    "anisotropy": check_anisotropy, "oblique": check_oblique, "label_values": check_label_values,
}
#: every column :func:`audit` adds, in order
CHECKS = (*ROW_CHECKS, "flipped", "duplicate", "grid_mismatch")


def _flipped(table: pd.DataFrame, ok_images: pd.Series, reference: str | None) -> pd.Series:
    """Orientation differs from ``reference`` or, without one, from the most common one of its format."""
    out = pd.Series(False, index=table.index)
    for _, idx in table[ok_images].groupby("format").groups.items():
        ref = reference or table.loc[idx, "orientation"].mode().iat[0]
        out.loc[idx] = (table.loc[idx, "orientation"] != ref).to_numpy()
    return out


def _duplicates(table: pd.DataFrame, ok_images: pd.Series) -> tuple[pd.Series, pd.Series]:
    key = table["data_hash"].where(table["data_hash"].notna(), table["file_hash"])
    key = key.where(ok_images)
    first = table.loc[key.notna()].groupby(key[key.notna()])["path"].transform("first")
    dup_of = pd.Series(None, index=table.index, dtype=object)
    dup_of.loc[first.index] = first
    dup = dup_of.notna() & (dup_of != table["path"])
    return dup, dup_of.where(dup)


def _grid_mismatch(table: pd.DataFrame) -> pd.Series:
    by_path = table.set_index("path")
    out = pd.Series(False, index=table.index)
    for i, row in table[(table["role"] == "label") & table["error"].isna()].iterrows():
        img = row["image"]
        if img not in by_path.index or by_path.at[img, "error"] is not None:
            continue
        ref = by_path.loc[img]
        same_shape = tuple(row["shape"][:3]) == tuple(ref["shape"][:3])
        same_aff = np.allclose(np.asarray(row["affine"]), np.asarray(ref["affine"]), atol=1e-3)
        out.at[i] = not (same_shape and same_aff)
    return out


def audit(table: pd.DataFrame, *, reference_orientation: str | None = None, **thresholds: Any) -> pd.DataFrame:
    """Check every scan of a cohort table (from :func:`medimg_kernel.cohort.scan`) for the faults in :data:`CHECKS`.

    Returns one row per table row: ``path``, ``role``, a boolean column per check, ``duplicate_of``,
    ``issues`` (the failed checks, comma-separated) and ``ok``. Thresholds default to :data:`DEFAULTS`;
    ``label_map`` (``{value: name}``) makes label values outside the map a fault.
    """
    unknown = set(thresholds) - set(DEFAULTS)
    if unknown:
        from ..errors import ConfigError

        raise ConfigError(f"unknown audit thresholds {sorted(unknown)}; valid: {sorted(DEFAULTS)}")
    opts = {**DEFAULTS, **thresholds}
    table = table.reset_index(drop=True)
    records = table.to_dict("records")
    out = pd.DataFrame({"path": table["path"], "role": table["role"]})
    for name, fn in ROW_CHECKS.items():
        out[name] = [bool(fn(r, **opts)) for r in records]
    ok_images = (table["role"] == "image") & table["error"].isna()
    out["flipped"] = _flipped(table, ok_images, reference_orientation).astype(bool)
    out["duplicate"], out["duplicate_of"] = _duplicates(table, ok_images)
    out["grid_mismatch"] = _grid_mismatch(table).astype(bool)
    flags = out[list(CHECKS)]
    out["issues"] = [", ".join(c for c in CHECKS if row[c]) for row in flags.to_dict("records")]
    out["ok"] = ~flags.any(axis=1)
    return out


def summary(result: pd.DataFrame) -> pd.Series:
    """How many scans fail each check (and how many pass all)."""
    counts = result[list(CHECKS)].sum().astype(int)
    counts["ok"] = int(result["ok"].sum())
    return counts


def plot_audit(result: pd.DataFrame, ax: Any = None) -> Any:
    """Bar chart of the number of scans failing each check; returns the matplotlib figure."""
    import matplotlib.pyplot as plt

    counts = summary(result).drop("ok")
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3))
    colours = ["tab:red" if v else "tab:gray" for v in counts.to_numpy()]
    ax.barh(counts.index[::-1], counts.to_numpy()[::-1], color=colours[::-1])
    ax.set_xlabel("scans flagged")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_title(f"audit of {len(result)} files: {int(result['ok'].sum())} pass every check")
    for y, v in enumerate(counts.to_numpy()[::-1]):
        ax.text(v + 0.05, y, str(int(v)), va="center", fontsize=8)
    ax.figure.tight_layout()
    return ax.figure


def _middle_slice(path: str, storage_options: Mapping[str, Any] | None) -> np.ndarray | None:
    import gzip

    import nibabel as nib

    from .storage import filesystem

    try:
        fs, p = filesystem(path, storage_options)
        with fs.open(p, "rb") as raw:
            f = gzip.GzipFile(fileobj=raw) if p.lower().endswith(".gz") else raw
            fh = nib.FileHolder(fileobj=f)
            img = nib.Nifti1Image.from_file_map({"header": fh, "image": fh})
            k = img.shape[2] // 2 if len(img.shape) > 2 else None
            return np.asarray(img.dataobj[:, :, k] if k is not None else img.dataobj, float)
    except Exception:  # noqa: BLE001 - an unreadable file is drawn as an empty panel
        return None


def thumbnails(result: pd.DataFrame, *, only_flagged: bool = True, max_images: int = 12, ncols: int = 6,
               storage_options: Mapping[str, Any] | None = None) -> Any:
    """Middle axial slices of the flagged NIfTI files, titled with their issues; returns the figure."""
    import matplotlib.pyplot as plt

    rows = result[~result["ok"]] if only_flagged else result
    rows = rows[rows["path"].str.lower().str.endswith((".nii", ".nii.gz"))].head(max_images)
    n = max(len(rows), 1)
    nr = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nr, ncols, figsize=(2 * ncols, 2.2 * nr), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, (_, r) in zip(axes.ravel(), rows.iterrows()):
        sl = _middle_slice(r["path"], storage_options)
        if sl is None:
            ax.text(0.5, 0.5, "unreadable", ha="center", va="center", transform=ax.transAxes)
        else:
            ax.imshow(np.nan_to_num(sl, nan=0, posinf=0, neginf=0).T, cmap="gray", origin="lower")
        name = r["path"].rsplit("/", 1)[-1].replace(".nii.gz", "")
        ax.set_title(f"{name}\n{r['issues'] or 'ok'}", fontsize=7)
    fig.tight_layout()
    return fig
