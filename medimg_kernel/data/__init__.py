"""Data layer: one registry, one cache, verified bytes, shipped and synthetic data.

Public API
----------
``datasets(manifest=None) -> list[str]``
    Names of every registry entry (``datasets/*.yaml``, ``$MEDIMG_REGISTRY``, ``--manifest`` files).
``dataset_info(name) -> DatasetEntry``
    The validated registry entry (title, modality, task, labels, splits, files, licence, ...).
``fetch(name, *, data_dir=None, mirrors=None, extract=True) -> Path``
    Download (mirrors in ``$MEDIMG_MIRROR`` first, then the origin), verify the hash, extract safely and
    return the dataset's folder in the cache (``$MEDIMG_DATA``, default the platform cache dir ``medimg``).
``load(name, split="train", tier=None, *, as_arrays=False, transform=None, download=True, **options)``
    A torch ``Dataset`` of dicts with at least ``"image"`` (float32 tensor, C × spatial) and ``"label"``.
    Works for synthetic generators (``source: synthetic``; sizes from ``tier_params()``'s ``n_samples``,
    ``image_size``/``volume_size``, each split generated with its own seed), shipped samples
    (``source: package``) and fetched datasets (MedNIST folders, MSD ``dataset.json``, MedMNIST ``.npz``).
    With ``as_arrays=True`` it returns the numpy dict instead (``"images"``, ``"labels"``, ...), which
    ``mk.Trainer`` accepts as ``(x, y)``.

Shipped and synthetic data
--------------------------
``medimg_kernel.data.samples.load_mni152(resolution=2)`` returns the MNI152 template (``t1``, ``gm``,
``wm``, ``csf``, ``mask``, ``affine``, ``spacing``); ``medimg_kernel.data.synthetic`` holds the generator
registry (``register_generator``, ``generate``): ``mednist_like``, ``lesions2d`` (with masks),
``brain_tissue`` (MNI152-derived 3D tissue labels), ``lesions3d``, and families added by other modules.

Example
-------
>>> import medimg_kernel as mk
>>> ds = mk.load("synthetic-lesions2d", split="train", tier="smoke")   # doctest: +SKIP
>>> ds[0]["image"].shape                                                # doctest: +SKIP
torch.Size([1, 32, 32])
"""

from __future__ import annotations

from .._lazy import lazy_exports

__all__ = ["fetch", "load", "datasets", "dataset_info", "verify", "pack", "unpack", "dataset_path"]

_LAZY = {
    "fetch": "fetcher:fetch",
    "verify": "fetcher:verify",
    "dataset_path": "fetcher:dataset_path",
    "load": "loaders:load",
    "datasets": "registry:datasets",
    "dataset_info": "registry:dataset_info",
    "pack": "packs:pack",
    "unpack": "packs:unpack",
}


_SUBMODULES = ("samples", "synthetic", "registry", "fetcher", "loaders", "extract", "packs", "datalists")


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, submodules=_SUBMODULES, listed=[*__all__, "samples", "synthetic"])
