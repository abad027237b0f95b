"""``load(name, split, tier)``: any registered dataset as a torch/MONAI dataset of dicts (or numpy arrays).

The registry entry's ``loader`` picks the reader: ``synthetic`` (a registered generator),
``sample`` (a shipped file), ``mednist`` (class folders of JPEGs), ``msd`` (``dataset.json``),
``medmnist`` (``.npz``), ``ixi`` (NIfTI files named by subject and site). Sizes follow the tier
(``tier_params()``: ``n_samples``, ``image_size``, ``volume_size``) unless given as options.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from ..errors import ConfigError
from .registry import DatasetEntry, dataset_info

__all__ = ["load", "ArrayDataset", "split_sizes"]

log = logging.getLogger(__name__)


class ArrayDataset(Dataset):
    """A torch ``Dataset`` over a dict of numpy arrays; item ``i`` is ``{"image", "label", ...}`` as tensors.

    ``arrays["images"]`` is (N, C, *spatial); ``arrays["labels"]`` is (N,) or (N, ...). Per-sample extras
    (``masks``) come along as ``"mask"``. ``transform`` (e.g. a MONAI dict transform) is applied to each item.
    """

    def __init__(self, arrays: dict[str, Any], transform: Callable[[dict[str, Any]], Any] | None = None):
        self.arrays = arrays
        self.transform = transform
        self.class_names = list(arrays.get("class_names") or [])

    def __len__(self) -> int:
        return int(len(self.arrays["images"]))

    def __getitem__(self, i: int) -> dict[str, Any]:
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(f"index {i} out of range for a dataset of {len(self)} items")
        item: dict[str, Any] = {
            "image": torch.from_numpy(np.asarray(self.arrays["images"][i], dtype=np.float32))
        }
        labels = self.arrays.get("labels")
        if labels is not None:
            item["label"] = torch.as_tensor(np.asarray(labels[i]))
        if "masks" in self.arrays:
            item["mask"] = torch.from_numpy(np.asarray(self.arrays["masks"][i]))
        return self.transform(item) if self.transform is not None else item

    def __repr__(self) -> str:
        shape = tuple(np.shape(self.arrays["images"]))
        return f"ArrayDataset(n={len(self)}, images={shape}, classes={self.class_names})"


def _as_torch_dataset(arrays: dict[str, Any], transform: Callable[..., Any] | None) -> ArrayDataset:
    if "images" not in arrays:
        raise ConfigError(
            f"this data has no 'images' array (keys: {', '.join(sorted(arrays))}); use load(..., as_arrays=True)"
        )
    return ArrayDataset(arrays, transform)


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


def _load_synthetic(
    entry: DatasetEntry, split: str, params: dict[str, Any], seed: int, options: dict[str, Any]
) -> dict[str, Any]:
    from .synthetic import generate

    opts = {k: v for k, v in entry.options.items() if k not in ("generator", "size_key")}
    opts.update(options)
    n = opts.pop("n", None) or split_sizes(params.get("n_samples") or 5000, split)
    if "size" not in opts and entry.options.get("size_key") in params:
        opts["size"] = int(params[entry.options["size_key"]])
    offset = int(entry.splits.get(split, 0)) if entry.splits else 0
    return generate(entry.options["generator"], int(n), seed=_split_seed(seed, offset), **opts)


def _subsample(items: list[Any], n: int | None) -> list[Any]:
    return items if n is None else items[:n]


def _mednist_arrays(items: list[dict[str, Any]], size: int | None) -> np.ndarray:
    from PIL import Image

    out = []
    for d in items:
        with Image.open(d["image"]) as im:
            im = im.convert("L")
            if size and im.size != (size, size):
                im = im.resize((size, size), Image.BILINEAR)
            out.append(np.asarray(im, dtype=np.float32) / 255.0)
    return np.stack(out)[:, None] if out else np.zeros((0, 1, size or 64, size or 64), np.float32)


def _monai_dataset(
    items: list[dict[str, Any]],
    keys: list[str],
    spatial: tuple[int, ...] | None,
    *,
    gray2d: bool = False,
    seg_label: bool = False,
    transform: Callable[..., Any] | None = None,
) -> Any:
    """A ``monai.data.Dataset`` reading images (and label maps) with load, channel-first, scaling, resize."""
    from monai.data import Dataset as MonaiDataset
    from monai.transforms import (
        Compose,
        EnsureChannelFirstd,
        EnsureTyped,
        LoadImaged,
        NormalizeIntensityd,
        Orientationd,
        Resized,
        ScaleIntensityd,
    )

    img_keys = [k for k in keys if k == "image" or (k == "label" and seg_label)]
    steps: list[Any] = []
    if gray2d:
        steps += [
            LoadImaged(keys="image", image_only=True, reader="PILReader", reverse_indexing=False),
            EnsureChannelFirstd(keys="image", channel_dim="no_channel"),
            ScaleIntensityd(keys="image"),
        ]
    else:
        steps += [
            LoadImaged(keys=img_keys, image_only=True, allow_missing_keys=True),
            EnsureChannelFirstd(keys=img_keys, allow_missing_keys=True),
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
    if transform is not None:
        steps.append(transform)
    return MonaiDataset(data=items, transform=Compose(steps))


def _stack(ds: Any) -> dict[str, Any]:
    items = [ds[i] for i in range(len(ds))]
    out: dict[str, Any] = {"images": np.stack([np.asarray(d["image"], dtype=np.float32) for d in items])}
    if items and "label" in items[0]:
        out["labels"] = np.stack([np.asarray(d["label"]) for d in items]).astype(np.int64)
    return out


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
    from .fetcher import cache_dir, fetch, is_cached

    entry = dataset_info(name, manifests)
    _check_split(entry, split)
    params = tier_params(None, tier)
    if entry.loader == "synthetic":
        arrays = _load_synthetic(entry, split, params, seed, options)
        return arrays if as_arrays else _as_torch_dataset(arrays, transform)
    if entry.loader == "sample":
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
        return arrays if as_arrays else _as_torch_dataset(arrays, transform)

    if not is_cached(entry, data_dir):
        if not download:
            raise ConfigError(
                f"{name!r} is not in the cache; run `medimg data fetch {name}` or pass download=True"
            )
    folder = (
        fetch(name, data_dir=data_dir, manifests=manifests) if download else cache_dir(data_dir) / entry.name
    )
    n = options.pop("n", None) or split_sizes(params.get("n_samples"), split)

    if entry.loader == "medmnist":
        from .datalists import medmnist_arrays

        arrays = medmnist_arrays(folder / entry.files[0].filename, split)
        if n is not None:
            arrays = {k: v[:n] for k, v in arrays.items()}
        arrays["class_names"] = list(entry.labels)
        return arrays if as_arrays else _as_torch_dataset(arrays, transform)

    if entry.loader == "mednist":
        from .datalists import mednist_datalist, split_items

        items, classes = mednist_datalist(folder)
        items = _subsample(split_items(items, entry.splits, split, seed=seed), n)
        size = int(options.get("size") or params.get("image_size") or 64)
        if as_arrays:
            return {
                "images": _mednist_arrays(items, size),
                "labels": np.array([d["label"] for d in items], dtype=np.int64),
                "class_names": classes,
            }
        ds = _monai_dataset(items, ["image"], (size, size), gray2d=True, transform=transform)
        ds.class_names = classes
        return ds

    spatial = options.get("size") or params.get("volume_size")
    spatial3 = (int(spatial),) * 3 if spatial else None
    if entry.loader == "msd":
        from .datalists import msd_datalist

        items, labels = msd_datalist(folder, split, entry.splits, seed=seed)
        items = _subsample(items, n)
        ds = _monai_dataset(items, ["image", "label"], spatial3, seg_label=True, transform=transform)
        ds.class_names = [labels[k] for k in sorted(labels, key=int)] if labels else list(entry.labels)
    elif entry.loader == "ixi":
        from .datalists import ixi_datalist, split_items

        sites = list(entry.options.get("sites", ["Guys", "HH", "IOP"]))
        items = _subsample(split_items(ixi_datalist(folder, sites), entry.splits, split, seed=seed), n)
        ds = _monai_dataset(items, ["image"], spatial3, transform=transform)
        ds.class_names = sites
    else:
        raise ConfigError(f"{name!r}: loader {entry.loader!r} cannot build a dataset; use mk.fetch({name!r})")
    if as_arrays:
        out = _stack(ds)
        out["class_names"] = ds.class_names
        return out
    return ds
