"""Hand-crafted image features inside a region (a small radiomics set) for feature-level fusion.

Turning each scan into a few numbers (tumour volume, intensity statistics per modality) is the classic
"early fusion of extracted features" (Huang et al. 2020): the numbers are concatenated with clinical and
genomic columns before one model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ..errors import ConfigError, ShapeMismatchError

__all__ = ["region_features"]


def region_features(
    images: Mapping[str, np.ndarray],
    mask: np.ndarray,
    *,
    spacing: Sequence[float] = (1, 1, 1),
    stats: Sequence[str] = ("mean", "p90"),
    index: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Per-patient features inside ``mask``: ``volume_ml``, ``log_volume`` and ``<modality>_<stat>``.

    Parameters
    ----------
    images : mapping name -> ndarray (N, X, Y, Z)
        Co-registered modalities of N patients.
    mask : ndarray (N, X, Y, Z)
        Region of interest per patient (non-zero = inside), e.g. a (predicted) tumour mask.
    spacing : 3 floats
        Voxel size in mm, for the volume in millilitres.
    stats : sequence of {"mean", "max", "p90", "std"}
        Intensity statistics per modality.
    index : sequence of str, optional
        Row labels (patient ids).
    """
    m = np.asarray(mask) > 0
    funcs = {"mean": np.mean, "max": np.max, "std": np.std, "p90": lambda v: np.percentile(v, 90)}
    bad = [s for s in stats if s not in funcs]
    if bad:
        raise ConfigError(f"unknown statistics {bad}: choose from {sorted(funcs)}")
    for name, img in images.items():
        if np.shape(img) != m.shape:
            raise ShapeMismatchError(
                f"image {name!r} has shape {np.shape(img)} but the mask has {m.shape}; "
                "resample onto one grid first (fusion.stack_modalities(..., resample=True))"
            )
    voxel_ml = float(np.prod(spacing)) / 1000.0
    rows = []
    for i in range(m.shape[0]):
        inside = m[i]
        n_vox = int(inside.sum())
        row = {"volume_ml": n_vox * voxel_ml, "log_volume": float(np.log1p(n_vox * voxel_ml))}
        for name, img in images.items():
            vals = np.asarray(img[i])[inside]
            for s in stats:
                row[f"{name}_{s}"] = float(funcs[s](vals)) if n_vox else 0.0
        rows.append(row)
    return pd.DataFrame(rows, index=None if index is None else pd.Index(list(index), name="patient_id"))
