"""A generated cohort on disk with planted faults: NIfTI images + label maps, DICOM series, a manifest.

Every scan is a head-like ellipsoid with a lesion, written in real formats (``.nii.gz`` via nibabel,
DICOM via pydicom), at three sites whose scanners differ in intensity scale. ``faults`` plants one
fault per named kind on distinct scans; the returned truth table says which file carries which fault, so
an audit can be checked against it (none of the other scans has any fault by construction).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..data.io.dicom_write import write_dicom_series
from ..errors import ConfigError

__all__ = ["make_cohort", "FAULTS", "LABEL_MAP", "write_dicom_series"]

#: fault kinds :func:`make_cohort` can plant (the names of the audit's columns)
FAULTS = ("blank", "constant", "nan_inf", "spacing", "anisotropy", "flipped", "oblique", "duplicate",
          "truncated", "grid_mismatch", "label_values")
#: the label map of the generated label files
LABEL_MAP = {0: "background", 1: "tissue", 2: "lesion"}
SITE_SCALE = {"A": 1.0, "B": 1.25, "C": 0.8}


def _volume(rng: np.random.Generator, shape: tuple[int, int, int], scale: float) -> tuple[np.ndarray, np.ndarray]:
    grid = np.stack(np.meshgrid(*[np.linspace(-1, 1, s) for s in shape], indexing="ij"))
    radii = rng.uniform(0.65, 0.85, 3)
    tissue = ((grid / radii[:, None, None, None]) ** 2).sum(0) <= 1
    centre = rng.uniform(-0.3, 0.3, 3)
    r = rng.uniform(0.12, 0.25)
    lesion = ((grid - centre[:, None, None, None]) ** 2).sum(0) <= r * r
    label = np.where(lesion & tissue, 2, np.where(tissue, 1, 0)).astype(np.uint8)
    img = (np.where(tissue, 100.0, 0.0) + np.where(lesion & tissue, rng.uniform(30, 60), 0.0)) * scale
    img = (img + rng.normal(0, 4, shape)).astype(np.float32)
    return img, label


def _affine(spacing: tuple[float, float, float], flip: bool = False, oblique_deg: float = 0.0) -> np.ndarray:
    aff = np.diag([*spacing, 1.0])
    if oblique_deg:
        t = np.radians(oblique_deg)
        rot = np.array([[np.cos(t), -np.sin(t), 0], [np.sin(t), np.cos(t), 0], [0, 0, 1]])
        aff[:3, :3] = rot @ aff[:3, :3]
    if flip:
        aff[0, :3] *= -1
    return aff


def make_cohort(folder: str | Path, n_scans: int = 200, *, shape: tuple[int, int, int] = (32, 32, 24),
                faults: Iterable[str] | str | None = "all", n_dicom_series: int = 2, seed: int = 0,
                sites: tuple[str, ...] = ("A", "B", "C")) -> pd.DataFrame:
    """Write a cohort of ``n_scans`` NIfTI image/label pairs and ``n_dicom_series`` DICOM series to ``folder``.

    ``faults``: ``"all"`` (one scan per kind in :data:`FAULTS`), a list of kinds, or None (a clean cohort).
    Returns the truth table (``path``, ``label``, ``subject``, ``site``, ``fault``) and writes it as
    ``manifest.csv`` (without the ``fault`` column) next to the scans.
    """
    folder = Path(folder)
    kinds = list(FAULTS) if faults == "all" else ([] if faults is None else [faults] if isinstance(faults, str)
                                                 else list(faults))
    unknown = sorted(set(kinds) - set(FAULTS))
    if unknown:
        raise ConfigError(f"unknown fault kinds {unknown}; choose from {list(FAULTS)}")
    if n_scans < 2 * len(kinds) + 1:
        raise ConfigError(f"n_scans={n_scans} is too small to plant {len(kinds)} faults: use at least "
                          f"{2 * len(kinds) + 1}")
    import nibabel as nib

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    # faults go to evenly spread scans (never scan 0, the original of the duplicate)
    fault_at = {int(i): k for i, k in zip(np.linspace(1, n_scans - 1, len(kinds) + 2)[1:-1].astype(int), kinds)}
    rows: list[dict[str, Any]] = []
    n_images = n_scans - (1 if "duplicate" in kinds else 0)
    for i in range(n_images):
        kind = fault_at.get(i)
        if kind == "duplicate":  # its slot is taken by the copy written below
            kind = None
        site = sites[i % len(sites)]
        sub = f"sub-{i:04d}"
        img, lab = _volume(rng, shape, SITE_SCALE.get(site, 1.0))
        spacing = tuple(float(v) for v in rng.uniform(0.9, 1.2, 3).round(3))
        aff = _affine(spacing)
        if kind == "blank":
            img[:] = 0
        elif kind == "constant":
            img[:] = 100
        elif kind == "nan_inf":
            img[2:5, 2:5, 2:4] = np.nan
            img[0, 0, 0] = np.inf
        elif kind == "spacing":
            aff = _affine((0.004, 0.004, 0.004))
        elif kind == "anisotropy":
            aff = _affine((1.0, 1.0, 9.0))
        elif kind == "flipped":
            aff = _affine(spacing, flip=True)
        elif kind == "oblique":
            aff = _affine(spacing, oblique_deg=20)
        d = folder / sub / "anat"
        d.mkdir(parents=True, exist_ok=True)
        ipath, lpath = d / f"{sub}_T1w.nii.gz", d / f"{sub}_T1w_label.nii.gz"
        nib.save(nib.Nifti1Image(img, aff), ipath)
        lab_aff = aff
        if kind == "grid_mismatch":
            lab = lab[:, :, :-2]
            lab_aff = aff.copy()
            lab_aff[2, 3] += 2 * aff[2, 2]
        elif kind == "label_values":
            lab[lab == 2] = 7
        nib.save(nib.Nifti1Image(lab, lab_aff), lpath)
        if kind == "truncated":
            data = ipath.read_bytes()
            ipath.write_bytes(data[: len(data) // 2])
        fault_path = lpath if kind in ("grid_mismatch", "label_values") else ipath
        rows.append({"path": str(ipath), "label": str(lpath), "subject": sub, "site": site,
                     "fault": kind, "fault_path": str(fault_path) if kind else None})
    if "duplicate" in kinds:  # the same file uploaded again under a new subject id
        sub = f"sub-{n_images:04d}"
        d = folder / sub / "anat"
        d.mkdir(parents=True, exist_ok=True)
        ipath, lpath = d / f"{sub}_T1w.nii.gz", d / f"{sub}_T1w_label.nii.gz"
        shutil.copyfile(rows[0]["path"], ipath)
        shutil.copyfile(rows[0]["label"], lpath)
        rows.append({"path": str(ipath), "label": str(lpath), "subject": sub, "site": rows[0]["site"],
                     "fault": "duplicate", "fault_path": str(ipath)})
    for j in range(n_dicom_series):
        img, _ = _volume(rng, (shape[0], shape[1], max(4, shape[2] // 2)), 1.0)
        sub = f"sub-D{j:03d}"
        paths = write_dicom_series(folder / sub / "dicom", img * 4, spacing=(0.8, 0.8, 2.5), patient_id=sub,
                                   seed=seed * 100 + j)
        rows.append({"path": str(paths[0].parent), "label": None, "subject": sub, "site": sites[j % len(sites)],
                     "fault": None, "fault_path": None, "n_files": len(paths)})
    truth = pd.DataFrame(rows)
    manifest = []
    for r in rows:
        if r.get("n_files"):
            manifest += [{"path": str(p), "label": None, "subject": r["subject"], "site": r["site"]}
                         for p in sorted(Path(r["path"]).glob("*.dcm"))]
        else:
            manifest.append({"path": r["path"], "label": r["label"], "subject": r["subject"], "site": r["site"]})
    pd.DataFrame(manifest).to_csv(folder / "manifest.csv", index=False)
    return truth
