"""The published layout of each dataset family, checked on a verified download before it is extracted.

A redefined dataset (a user manifest pointing at another file) can pass its hash check and still not be the
dataset: a MedNIST URL serving an MSD tar, say. :func:`check_layout` reads the archive's member names (or an
``.npz``'s keys) and raises one :class:`~medimg_kernel.errors.DataError` line naming the file and the layout
expected, before anything is written into the cache.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from ..errors import DataError
from .registry import DatasetEntry

__all__ = ["LAYOUTS", "check_layout"]


def _names(archive: Path) -> list[str]:
    from .extract import check_members

    return [n.replace("\\", "/") for n in check_members(archive)]


def _mednist(names: list[str]) -> bool:
    return any(re.search(r"(^|/)MedNIST/[^/]+/[^/]+\.(jpe?g|png)$", n, re.I) for n in names)


def _msd(names: list[str]) -> bool:
    base = {n.rsplit("/", 1)[-1] for n in names}
    return "dataset.json" in base and any("/imagesTr/" in f"/{n}" and n.endswith(".nii.gz") for n in names)


def _ixi(names: list[str]) -> bool:
    return any(re.search(r"(^|/)IXI\d+-[A-Za-z]+-\d+-[A-Za-z0-9]+\.nii(\.gz)?$", n) for n in names)


def _oasis1(names: list[str]) -> bool:
    return any(re.search(r"(^|/)(OAS1_\d{4}_MR\d)/\2\.txt$", n) for n in names) and any(
        n.endswith(".img") for n in names)


def _medmnist_keys(path: Path) -> bool:
    import numpy as np

    try:
        with np.load(path) as z:
            keys = set(z.files)
    except Exception:  # not an npz at all
        return False
    return {f"{s}_{k}" for s in ("train", "val", "test") for k in ("images", "labels")} <= keys


#: loader -> (layout in words, check of archive member names) for archives; ``medmnist`` checks npz keys
LAYOUTS: dict[str, tuple[str, Callable[[list[str]], bool]]] = {
    "mednist": ("a tar.gz of MedNIST/<ClassName>/<n>.jpeg", _mednist),
    "msd": ("a tar of <TaskNN_Name>/dataset.json with imagesTr/, labelsTr/ and imagesTs/ *.nii.gz", _msd),
    "ixi": ("a tar of IXI<id>-<site>-<n>-<modality>.nii.gz files", _ixi),
    "oasis1": ("a tar.gz of disc<N>/OAS1_<id>_MR<k>/ session folders, each with OAS1_<id>_MR<k>.txt and "
               "Analyze .hdr/.img images", _oasis1),
    "weights": ("a zip holding the entry's checkpoint (e.g. <bundle>/models/model.pt)", lambda names: any(
        n.endswith((".pt", ".pth", ".ts", ".ckpt")) for n in names)),
}
_MEDMNIST = "an .npz holding train/val/test _images and _labels arrays"


def check_layout(entry: DatasetEntry, path: Path) -> None:
    """Raise DataError if downloaded file ``path`` of ``entry`` is not in its family's published layout."""
    if entry.loader == "medmnist" and path.suffix == ".npz":
        if not _medmnist_keys(path):
            raise DataError(f"{path.name} of dataset {entry.name!r} is not {_MEDMNIST}; fix the manifest "
                            f"({entry.origin or 'registry'}) to point at the real file")
        return
    spec = LAYOUTS.get(entry.loader)
    if spec is None:
        return
    words, ok = spec
    if not ok(_names(path)):
        raise DataError(f"{path.name} of dataset {entry.name!r} is not {words}; nothing was extracted; fix the "
                        f"manifest ({entry.origin or 'registry'}) to point at the real archive")
