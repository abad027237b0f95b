"""Large-scale and cloud imaging analytics on Dask: cohort tables, quality audit, features, Zarr, object storage.

The same calls run on a laptop and on a cluster: :func:`client` starts a ``LocalCluster`` sized to the
machine, or connects to the scheduler at ``address=`` / ``$MEDIMG_DASK_SCHEDULER``; every function then
submits its work as Dask tasks to the active client::

    import medimg_kernel as mk
    c = mk.cohort.client()                      # or mk.cohort.client("tcp://scheduler:8786")
    table = mk.cohort.scan("s3://bucket/cohort/", storage_options={...})
    report = mk.cohort.audit(table, label_map={0: "bg", 1: "tumour"})
    feats = mk.cohort.cohort_features(table)
"""

from __future__ import annotations

from .._lazy import lazy_exports

_EXPORTS = {
    "client": "engine", "map_tasks": "engine", "worker_peak_memory": "engine", "dashboard_link": "engine",
    "SCHEDULER_ENV": "engine",
    "scan": "tables", "discover": "tables", "read_file": "tables", "COLUMNS": "tables",
    "audit": "quality", "summary": "quality", "plot_audit": "quality", "thumbnails": "quality",
    "ROW_CHECKS": "quality", "CHECKS": "quality", "DEFAULTS": "quality",
    "region_features": "features", "cohort_features": "features", "features_of_pair": "features",
    "series_noise": "features",
    "to_zarr": "zarr_io", "from_zarr": "zarr_io", "open_dask": "zarr_io", "cohort_to_zarr": "zarr_io",
    "read_cohort": "zarr_io",
    "filesystem": "storage", "upload": "storage", "check_bucket": "storage", "list_files": "storage",
    "redact": "storage", "LocalS3": "s3local",
    "speedup_curve": "scaling", "break_even": "scaling", "plot_speedup": "scaling", "feature_task": "scaling",
    "torchrun_command": "launch", "launch_training": "launch",
    "make_cohort": "synthetic", "FAULTS": "synthetic", "LABEL_MAP": "synthetic",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, any_submodule=True, listed=__all__)
