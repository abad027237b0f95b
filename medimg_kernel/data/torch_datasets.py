"""The torch datasets ``mk.load`` returns: :class:`ArrayDataset` over in-memory arrays and
:class:`FileDataset` over a datalist of image files read through the kit's reading boundary
(:mod:`medimg_kernel.data.io`), so a bad file is a :class:`~medimg_kernel.errors.DataError` naming it,
never a raw reader traceback from inside a transform.

This module imports torch; :mod:`medimg_kernel.data.loaders` imports it only when a dataset is built.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from ..errors import DataError

__all__ = ["ArrayDataset", "FileDataset", "to_metatensor", "gray2d"]

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


def gray2d(path: str) -> np.ndarray:
    """A 2D picture as (rows, cols) float32 gray levels (RGB converted with ITU-R 601 luma, as Pillow's ``L``)."""
    from .io import fail, read_image

    img = read_image(path)
    arr = img.array
    if arr.ndim == 4 and img.rgb:
        arr = arr.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    if arr.ndim != 3 or arr.shape[2] != 1:
        raise fail(path, f"is not a single 2D picture (shape {arr.shape})", "pass 2D images in this dataset")
    return np.ascontiguousarray(arr[:, :, 0].T, dtype=np.float32)


def to_metatensor(img: Any) -> Any:
    """An :class:`~medimg_kernel.data.io.ImageData` as a channel-first MONAI ``MetaTensor`` with its affine."""
    from monai.data import MetaTensor

    arr = img.array
    arr = arr[None] if arr.ndim == 3 else np.moveaxis(arr, -1, 0)
    if arr.dtype.kind not in "biuf":
        raise DataError(f"{img.path}: voxels of dtype {arr.dtype} are not numbers; convert the file")
    if arr.dtype == np.uint16:
        arr = arr.astype(np.int32)
    elif arr.dtype in (np.uint32, np.uint64):
        arr = arr.astype(np.int64)
    t = torch.as_tensor(np.ascontiguousarray(arr))
    return MetaTensor(
        t, affine=torch.as_tensor(img.affine, dtype=torch.float64), meta={"filename_or_obj": str(img.path)}
    )


class FileDataset(Dataset):
    """Items of a datalist (dicts of file paths) read through the kit's reader, then transformed.

    Parameters
    ----------
    data : list of dict
        The datalist (kept as ``.data``).
    image_keys : sequence of str
        Keys whose values are image files (``"image"``, and ``"label"`` for label maps).
    transform : callable, optional
        Applied to the item once its files are read (MONAI dict transforms).
    gray2d : bool
        Read ``"image"`` as a 2D gray picture (rows, cols) with no affine (MedNIST-style folders).
    on_error : "raise" or "skip"
        A file that cannot be read raises a :class:`DataError` naming it, or is skipped (logged, listed
        in ``.skipped``) and the next readable item is returned instead.
    skipped : list, optional
        Files already left out while checking the datalist (``(path, reason)``); ``n_skipped`` counts them.
    """

    def __init__(
        self,
        data: list[dict[str, Any]],
        image_keys: Sequence[str],
        transform: Callable[[dict[str, Any]], Any] | None = None,
        *,
        gray2d: bool = False,
        on_error: str = "raise",
        skipped: list[tuple[str, str]] | None = None,
        class_names: Sequence[str] = (),
    ):
        self.data = data
        self.image_keys = tuple(image_keys)
        self.transform = transform
        self.gray2d = gray2d
        self.on_error = on_error
        self.skipped: list[tuple[str, str]] = list(skipped or [])
        self.class_names = list(class_names)

    @property
    def n_skipped(self) -> int:
        """How many files were left out (``on_error="skip"``)."""
        return len(self.skipped)

    def __len__(self) -> int:
        return len(self.data)

    def read(self, i: int) -> dict[str, Any]:
        """Item ``i`` with its files read (before ``transform``); raises :class:`DataError` for a bad file."""
        from .io import check_same_grid, read_image

        d = dict(self.data[i])
        if self.gray2d:
            d["image"] = torch.from_numpy(gray2d(d["image"]))
            return d
        read = {k: read_image(d[k]) for k in self.image_keys if k in d}
        if "image" in read and "label" in read:
            check_same_grid(read["image"], read["label"])
        for k, img in read.items():
            d[k] = to_metatensor(img)
        return d

    def __getitem__(self, i: int) -> Any:
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(f"index {i} out of range for a dataset of {len(self)} items")
        for j in range(len(self)):
            k = (i + j) % len(self)
            try:
                item = self.read(k)
            except DataError as err:
                if self.on_error != "skip":
                    raise
                self._skip(k, err)
                continue
            return self.transform(item) if self.transform is not None else item
        raise DataError(f"every file of this dataset of {len(self)} items failed to read; see the log")

    def _skip(self, k: int, err: Exception) -> None:
        path = next((str(self.data[k][key]) for key in self.image_keys if key in self.data[k]), "?")
        if all(p != path for p, _ in self.skipped):
            self.skipped.append((path, str(err)))
            log.warning("skipping unreadable item %d: %s", k, err)

    def __repr__(self) -> str:
        return f"FileDataset(n={len(self)}, keys={list(self.image_keys)}, skipped={self.n_skipped})"
