"""``load(name, split, tier)``: any registered dataset as a torch/MONAI dataset of dicts (or numpy arrays).

The registry entry's ``loader`` names one function of :data:`LOADERS`, a table filled by
:func:`register_loader` (one small function per loader; the registry validates ``loader:`` against it):
``synthetic`` (a registered generator), ``sample`` (a shipped file), ``mednist`` (class folders of
JPEGs), ``msd`` (``dataset.json``), ``medmnist`` (``.npz``), ``ixi`` (NIfTI files named by subject and
site). Sizes follow the tier (``tier_params()``: ``n_samples``, ``image_size``, ``volume_size``) unless
given as options. Files are read through :mod:`medimg_kernel.data.io`; before a dataset is returned,
every file it lists is checked, so a few bad files fail the load (all listed) or are skipped on request
(``on_error="skip"``), long before training starts.

This module imports neither torch nor MONAI at import time; building a dataset does.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError, DataError, RegistryError
from .registry import DatasetEntry, dataset_info

__all__ = ["load", "split_sizes", "LOADERS", "register_loader", "LoadRequest"]

log = logging.getLogger(__name__)

ON_ERROR = ("raise", "skip")


@dataclass
class LoadRequest:
    """What ``load`` was asked for, handed to the loader function of the entry."""

    split: str
    params: dict[str, Any]
    seed: int
    options: dict[str, Any]
    as_arrays: bool = False
    transform: Callable[..., Any] | None = None
    download: bool = True
    data_dir: str | os.PathLike[str] | None = None
    manifests: Sequence[str | os.PathLike[str]] = ()
    on_error: str = "raise"
    validate: str = "header"
    n: int | None = field(default=None)


Loader = Callable[[DatasetEntry, LoadRequest], Any]

#: loader name -> function(entry, request) -> dataset or arrays
LOADERS: dict[str, Loader] = {}


def register_loader(name: str) -> Callable[[Loader], Loader]:
    """Decorator adding a loader function under ``name`` (a name may be registered once)."""

    def deco(fn: Loader) -> Loader:
        if name in LOADERS:
            raise RegistryError(
                f"loader {name!r} is registered twice ({LOADERS[name].__name__}, {fn.__name__})"
            )
        LOADERS[name] = fn
        return fn

    return deco


def __getattr__(name: str) -> Any:  # ``ArrayDataset`` lives with the torch code (data/torch_datasets.py)
    if name == "ArrayDataset":
        from .torch_datasets import ArrayDataset

        return ArrayDataset
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# ---------------------------------------------------------------------------------------- helpers
def split_sizes(n_samples: int | None, split: str) -> int | None:
    """Items per split for a tier's ``n_samples``: all of it for train, a quarter (≥ 8) for val/test."""
    if n_samples is None:
        return None
    return int(n_samples) if split == "train" else max(8, int(n_samples) // 4)


def _split_seed(seed: int, offset: int) -> int:
    return int(np.random.SeedSequence([int(seed), int(offset)]).generate_state(1)[0])


def _check_split(entry: DatasetEntry, split: str) -> None:
    if entry.loader == "msd" and split == "test":
        return  # the unlabelled imagesTs list of dataset.json
    if entry.splits and split not in entry.splits:
        raise ConfigError(f"{entry.name!r} has no split {split!r}; choose one of {', '.join(entry.splits)}")


def _arrays_or_dataset(arrays: dict[str, Any], req: LoadRequest) -> Any:
    if req.as_arrays:
        return arrays
    if "images" not in arrays:
        raise ConfigError(
            f"this data has no 'images' array (keys: {', '.join(sorted(arrays))}); use load(..., as_arrays=True)"
        )
    from .torch_datasets import ArrayDataset

    return ArrayDataset(arrays, req.transform)


def _folder(entry: DatasetEntry, req: LoadRequest) -> Path:
    """The dataset's cache folder, fetched first when needed (and allowed)."""
    from .fetcher import cache_dir, fetch, is_cached

    if not req.download:
        if not is_cached(entry, req.data_dir):
            raise ConfigError(
                f"{entry.name!r} is not in the cache; run `medimg data fetch {entry.name}` or pass download=True"
            )
        return cache_dir(req.data_dir) / entry.name
    return fetch(entry, data_dir=req.data_dir)  # verified stamps make this cheap once cached


def _check_files(
    items: list[dict[str, Any]], keys: Sequence[str], req: LoadRequest, name: str
) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
    """Check every file of ``items`` now; raise listing every bad one, or drop them (``on_error="skip"``)."""
    from .io import header_grid, probe

    if req.validate == "none":
        return items, []
    from tqdm.auto import tqdm

    bad: list[tuple[int, str, str]] = []
    bar = tqdm(items, desc=f"checking {name} files", unit="item", leave=False, disable=len(items) < 500)
    for i, d in enumerate(bar):
        grids = {}
        for k in keys:
            if k not in d:
                continue
            try:
                probe(d[k], full=req.validate == "full")
                grids[k] = header_grid(d[k])
            except DataError as err:
                bad.append((i, str(d[k]), str(err)))
                break
        else:
            if grids.get("image") is not None and grids.get("label") is not None:
                (s1, a1), (s2, a2) = grids["image"], grids["label"]
                if s1 != s2 or not np.allclose(a1, a2, atol=1e-3 * max(1.0, float(np.abs(a1).max()))):
                    sp1 = tuple(round(float(v), 4) for v in np.sqrt((a1[:3, :3] ** 2).sum(0)))
                    sp2 = tuple(round(float(v), 4) for v in np.sqrt((a2[:3, :3] ** 2).sum(0)))
                    bad.append(
                        (
                            i,
                            str(d["label"]),
                            f"{d['label']}: label grid {s2} spacing {sp2} differs from image {d['image']} "
                            f"grid {s1} spacing {sp1}",
                        )
                    )
    if not bad:
        return items, []
    if req.on_error != "skip":
        listing = "; ".join(msg for _, _, msg in bad)
        raise DataError(
            f"{name}: {len(bad)} of {len(items)} files cannot be used: {listing}. Replace them "
            "(`medimg data verify` / fetch again), or pass on_error='skip' to leave them out"
        )
    for _, _path, msg in bad:
        log.warning("%s: skipping %s", name, msg)
    drop = {i for i, _, _ in bad}
    return [d for i, d in enumerate(items) if i not in drop], [(p, m) for _, p, m in bad]


def _file_dataset(
    items: list[dict[str, Any]],
    keys: list[str],
    req: LoadRequest,
    spatial: tuple[int, ...] | None,
    name: str,
    *,
    gray2d: bool = False,
    seg_label: bool = False,
    class_names: Sequence[str] = (),
) -> Any:
    """A :class:`~medimg_kernel.data.torch_datasets.FileDataset` with MONAI's channel, orientation, scaling and resize."""
    from monai.transforms import (
        Compose,
        EnsureTyped,
        NormalizeIntensityd,
        Orientationd,
        Resized,
        ScaleIntensityd,
    )

    from .torch_datasets import FileDataset

    img_keys = [k for k in keys if k == "image" or (k == "label" and seg_label)]
    items, skipped = _check_files(items, img_keys, req, name)
    steps: list[Any] = []
    if gray2d:
        steps += [_AddChannel(), ScaleIntensityd(keys="image")]
    else:
        steps += [
            Orientationd(
                keys=img_keys,
                axcodes="RAS",
                allow_missing_keys=True,
                labels=(("L", "R"), ("P", "A"), ("I", "S")),
            ),
            NormalizeIntensityd(keys="image", nonzero=True, channel_wise=True),
        ]
    if spatial:
        steps.append(Resized(keys="image", spatial_size=spatial, mode="bilinear" if gray2d else "trilinear"))
        if seg_label:
            steps.append(Resized(keys="label", spatial_size=spatial, mode="nearest", allow_missing_keys=True))
    steps.append(EnsureTyped(keys=img_keys, dtype=None, track_meta=False, allow_missing_keys=True))
    if req.transform is not None:
        steps.append(req.transform)
    return FileDataset(
        items,
        img_keys,
        Compose(steps),
        gray2d=gray2d,
        on_error=req.on_error,
        skipped=skipped,
        class_names=class_names,
    )


class _AddChannel:
    """(rows, cols) image -> (1, rows, cols) float32."""

    def __call__(self, d: dict[str, Any]) -> dict[str, Any]:
        d["image"] = d["image"][None].float()
        return d


def _stack(ds: Any) -> dict[str, Any]:
    """Every item of a file dataset as arrays (unreadable items left out when the dataset skips)."""
    items = []
    for i in range(len(ds)):
        try:
            raw = ds.read(i)
        except DataError as err:
            if ds.on_error != "skip":
                raise
            ds._skip(i, err)
            continue
        items.append(ds.transform(raw) if ds.transform is not None else raw)
    out: dict[str, Any] = {"images": np.stack([np.asarray(d["image"], dtype=np.float32) for d in items])}
    if items and "label" in items[0]:
        out["labels"] = np.stack([np.asarray(d["label"]) for d in items]).astype(np.int64)
    out["class_names"] = ds.class_names
    out["skipped"] = list(ds.skipped)
    out["n_skipped"] = len(ds.skipped)
    return out


def _subsample(items: list[Any], n: int | None) -> list[Any]:
    return items if n is None else items[:n]


def _spatial3(req: LoadRequest) -> tuple[int, int, int] | None:
    spatial = req.options.get("size") or req.params.get("volume_size")
    return (int(spatial),) * 3 if spatial else None


# ---------------------------------------------------------------------------------------- loaders
@register_loader("synthetic")
def _load_synthetic(entry: DatasetEntry, req: LoadRequest) -> Any:
    from .synthetic import generate

    opts = {k: v for k, v in entry.options.items() if k not in ("generator", "size_key")}
    opts.update(req.options)
    n = opts.pop("n", None) or split_sizes(req.params.get("n_samples") or 5000, req.split)
    if "size" not in opts and entry.options.get("size_key") in req.params:
        opts["size"] = int(req.params[entry.options["size_key"]])
    offset = int(entry.splits.get(req.split, 0)) if entry.splits else 0
    arrays = generate(entry.options["generator"], int(n), seed=_split_seed(req.seed, offset), **opts)
    return _arrays_or_dataset(arrays, req)


@register_loader("sample")
def _load_sample(entry: DatasetEntry, req: LoadRequest) -> Any:
    from .samples import load_sample

    sample = load_sample(entry.options["sample"])
    arrays = {
        "images": sample["image"][None],
        "class_names": list(entry.labels),
        "meta": sample.get("meta", {}),
        "spacing": sample.get("spacing"),
    }
    if "label" in sample:
        arrays["labels"] = sample["label"][None]
    if "affine" in sample:
        arrays["affine"] = sample["affine"]
    return _arrays_or_dataset(arrays, req)


@register_loader("medmnist")
def _load_medmnist(entry: DatasetEntry, req: LoadRequest) -> Any:
    from .datalists import medmnist_arrays
    from .io import check_path, reading

    path = check_path(_folder(entry, req) / entry.files[0].filename, folder_ok=False)
    with reading(path, "a MedMNIST .npz archive"):
        arrays = medmnist_arrays(path, req.split)
    if req.n is not None:
        arrays = {k: v[: req.n] for k, v in arrays.items()}
    arrays["class_names"] = list(entry.labels)
    return _arrays_or_dataset(arrays, req)


@register_loader("mednist")
def _load_mednist(entry: DatasetEntry, req: LoadRequest) -> Any:
    from .datalists import mednist_datalist, split_items

    items, classes = mednist_datalist(_folder(entry, req))
    items = _subsample(split_items(items, entry.splits, req.split, seed=req.seed), req.n)
    size = int(req.options.get("size") or req.params.get("image_size") or 64)
    if req.as_arrays:
        items, skipped = _check_files(items, ["image"], req, entry.name)
        images, labels, skipped = _mednist_arrays(items, size, req.on_error, skipped)
        return {
            "images": images,
            "labels": labels,
            "class_names": classes,
            "skipped": skipped,
            "n_skipped": len(skipped),
        }
    return _file_dataset(items, ["image"], req, (size, size), entry.name, gray2d=True, class_names=classes)


def _mednist_arrays(
    items: list[dict[str, Any]], size: int, on_error: str, skipped: list[tuple[str, str]]
) -> tuple[np.ndarray, np.ndarray, list[tuple[str, str]]]:
    from PIL import Image

    from .torch_datasets import gray2d

    out, labels = [], []
    for d in items:
        try:
            g = gray2d(d["image"])
        except DataError as err:
            if on_error != "skip":
                raise
            log.warning("skipping %s", err)
            skipped.append((str(d["image"]), str(err)))
            continue
        im = Image.fromarray(np.clip(np.rint(g), 0, 255).astype(np.uint8))
        if im.size != (size, size):
            im = im.resize((size, size), Image.BILINEAR)
        out.append(np.asarray(im, dtype=np.float32) / 255.0)
        labels.append(d["label"])
    images = np.stack(out)[:, None] if out else np.zeros((0, 1, size, size), np.float32)
    return images, np.array(labels, dtype=np.int64), skipped


@register_loader("msd")
def _load_msd(entry: DatasetEntry, req: LoadRequest) -> Any:
    from .datalists import msd_datalist

    items, labels = msd_datalist(_folder(entry, req), req.split, entry.splits, seed=req.seed)
    names = [labels[k] for k in sorted(labels, key=int)] if labels else list(entry.labels)
    return _file_dataset(
        _subsample(items, req.n),
        ["image", "label"],
        req,
        _spatial3(req),
        entry.name,
        seg_label=True,
        class_names=names,
    )


@register_loader("ixi")
def _load_ixi(entry: DatasetEntry, req: LoadRequest) -> Any:
    from .datalists import ixi_datalist, split_items

    sites = list(entry.options.get("sites", ["Guys", "HH", "IOP"]))
    items = _subsample(
        split_items(ixi_datalist(_folder(entry, req), sites), entry.splits, req.split, seed=req.seed), req.n
    )
    return _file_dataset(items, ["image"], req, _spatial3(req), entry.name, class_names=sites)


@register_loader("oasis1")
def _load_oasis1(entry: DatasetEntry, req: LoadRequest) -> Any:
    """OASIS-1 sessions split by subject; arrays of axial slices (label = sex) with their metadata table."""
    from .datalists import oasis_arrays, oasis_datalist, split_by_subject

    items = split_by_subject(oasis_datalist(_folder(entry, req)), entry.splits, req.split, seed=req.seed)
    if req.n is not None:
        keep = sorted({it["subject"] for it in items})[: int(req.n)]  # n subjects, with all their sessions
        items = [it for it in items if it["subject"] in keep]
    size = int(req.options.get("size") or req.params.get("image_size") or 64)
    return _arrays_or_dataset(oasis_arrays(items, size, int(entry.options.get("slices", 3))), req)


@register_loader("survival_table")
def _load_survival_table(entry: DatasetEntry, req: LoadRequest) -> Any:
    """A survival cohort shipped by scikit-survival, split by patient: clinical and genomic tables, time, event."""
    from .datalists import split_items, survival_table

    if not req.as_arrays:
        raise ConfigError(f"{entry.name!r} is a table: use mk.load({entry.name!r}, as_arrays=True)")
    full = survival_table(str(entry.options["table"]), list(entry.options.get("clinical", [])))
    rows = _subsample(split_items(list(range(len(full["time"]))), entry.splits, req.split, seed=req.seed), req.n)
    return {k: (v.iloc[rows] if hasattr(v, "iloc") else v[rows]) for k, v in full.items()}


@register_loader("dicom_series")
def _load_dicom_series(entry: DatasetEntry, req: LoadRequest) -> Any:
    """A data list of the pinned series (fetched and verified first): one dict per series, whose ``image``
    is the series folder (MONAI's ``LoadImage`` reads a DICOM folder as one volume)."""
    if req.as_arrays:
        raise ConfigError(f"{entry.name!r} is a set of DICOM series: use mk.load({entry.name!r}) for the data "
                          "list, or mk.cohort.scan(mk.fetch(...)) for a cohort table")
    folder = _folder(entry, req)
    items = [{"image": str(folder / str(s["folder"])), "series_uid": str(s["series_uid"]),
              **{k: s[k] for k in ("patient", "modality", "collection") if k in s}}
             for s in entry.options["series"]]
    return _subsample(items, req.n)


@register_loader("weights")
def _load_weights(entry: DatasetEntry, req: LoadRequest) -> Any:
    raise ConfigError(
        f"{entry.name!r} holds model weights, not data: build the model with "
        f"mk.build_model({entry.options.get('model', 'NAME')!r}, ..., pretrained={entry.name!r})"
    )


# ------------------------------------------------------------------------------------------- load
def load(
    name: str,
    split: str = "train",
    tier: str | None = None,
    *,
    as_arrays: bool = False,
    transform: Callable[..., Any] | None = None,
    download: bool = True,
    seed: int = 0,
    data_dir: str | os.PathLike[str] | None = None,
    manifests: Sequence[str | os.PathLike[str]] = (),
    on_error: str = "raise",
    validate: str = "header",
    **options: Any,
) -> Any:
    """Load dataset ``name``'s ``split`` as a torch dataset of dicts (``"image"``, ``"label"``, ...).

    Parameters
    ----------
    name : str
        A registry name (``mk.datasets()``): synthetic, shipped sample or fetched dataset.
    split : str
        ``"train"``, ``"val"`` or ``"test"`` (see the entry's ``splits``).
    tier : str, optional
        Compute tier for default sizes (``n_samples``, ``image_size``, ``volume_size``); default the
        current tier (``$MEDIMG_TIER``).
    as_arrays : bool
        Return the numpy dict (``images`` float32 (N, C, *spatial), ``labels``, and generator extras such
        as ``masks``/``centers``) instead of a dataset; ``mk.Trainer`` accepts ``(d["images"], d["labels"])``.
    transform : callable, optional
        Applied to each item dict after the built-in loading transforms.
    download : bool
        Fetch a remote dataset that is not cached yet (else raise).
    seed : int
        Base seed of synthetic data and of split shuffles.
    on_error : "raise" or "skip"
        Files of the dataset are checked before it is returned. ``"raise"`` (default) fails with a
        :class:`~medimg_kernel.errors.DataError` listing every bad file; ``"skip"`` logs each and leaves it
        out (``ds.skipped`` / ``ds.n_skipped``, or the arrays' ``"skipped"``/``"n_skipped"``).
    validate : "header", "full" or "none"
        How the files are checked first: header and size (fast), a full decode, or not at all.
    **options
        ``n`` (items; default from the tier), ``size`` (image edge / volume edge), generator options for
        synthetic data, ``flag``/``size`` for MedMNIST.

    Returns
    -------
    torch.utils.data.Dataset or dict
        Items are dicts with ``"image"`` (float32 tensor, C × spatial) and ``"label"`` (class index,
        label vector or label map); 2D/3D lesion sets add ``"mask"``.
    """
    from ..tiers import tier_params

    if on_error not in ON_ERROR:
        raise ConfigError(f"on_error must be one of {', '.join(ON_ERROR)}, got {on_error!r}")
    if validate not in ("header", "full", "none"):
        raise ConfigError(f"validate must be 'header', 'full' or 'none', got {validate!r}")
    entry = dataset_info(name, manifests)
    _check_split(entry, split)
    loader = LOADERS.get(entry.loader)
    if loader is None:
        raise ConfigError(f"{name!r}: loader {entry.loader!r} cannot build a dataset; use mk.fetch({name!r})")
    params = tier_params(None, tier)
    req = LoadRequest(
        split,
        params,
        seed,
        dict(options),
        as_arrays,
        transform,
        download,
        data_dir,
        manifests,
        on_error,
        validate,
    )
    if entry.loader != "synthetic":
        req.n = req.options.pop("n", None) or split_sizes(params.get("n_samples"), split)
    out = loader(entry, req)
    if as_arrays and not isinstance(out, dict):
        return _stack(out)
    return out
