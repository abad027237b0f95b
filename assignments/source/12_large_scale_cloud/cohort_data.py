"""A small planted cohort and a measured speedup curve for assignment 12.

Shipped with assignment 12; the grader restores this file, so editing it does not change your grade.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import pandas as pd

#: speedup of a 2-worker Dask LocalCluster over a serial loop, by task duration, measured with
#: `mk.cohort.speedup_curve` (as in lesson 12) on a 2-core build machine while other jobs were running
MEASURED_CURVE = pd.DataFrame({
    "task_ms": [3.7, 15.0, 27.3, 61.7, 134.0],
    "serial_s": [0.030, 0.120, 0.218, 0.493, 1.072],
    "cluster_s": [0.226, 0.204, 0.482, 0.746, 1.629],
})
MEASURED_CURVE["speedup"] = MEASURED_CURVE.serial_s / MEASURED_CURVE.cluster_s


#: the faults planted in the cohort, one scan each (their order decides which scans carry them)
PLANTED = ("duplicate", "flipped", "blank", "truncated", "anisotropy")


def planted_cohort(n_scans: int = 30, seed: int = 12, folder: str | Path | None = None,
                   faults: tuple[str, ...] | list[str] = PLANTED):
    """Write a cohort with planted faults and scan it; returns ``(table, truth, folder)``.

    ``table`` is the cohort table of ``medimg_kernel.cohort.scan`` (one row per image or label file,
    plus one per DICOM series); ``truth`` lists every scan and its planted fault (None when clean).
    """
    import medimg_kernel as mk

    logging.getLogger("medimg_kernel").setLevel(logging.ERROR)  # the scan's warnings are not test output
    folder = Path(folder or tempfile.mkdtemp(prefix="a12_"))
    truth = mk.cohort.make_cohort(folder, n_scans, seed=seed, n_dicom_series=1,
                                  faults=[str(f) for f in faults])
    table = mk.cohort.scan(folder / "manifest.csv", client=False, progress=False)
    return table, truth, folder


def feature_table(table: pd.DataFrame) -> pd.DataFrame:
    """Region features of the readable image/label pairs of ``table`` (one row per pair and label value)."""
    import medimg_kernel as mk

    ok = table[(table.role == "label") & table.error.isna()]
    images = set(table.path[(table.role == "image") & table.error.isna()])
    pairs = ok[ok.image.isin(images)].rename(columns={"path": "label"})[["image", "label", "site", "subject"]]
    return mk.cohort.cohort_features(pairs, client=False)
