"""Readers for fetched datasets: MONAI-style datalists (dicts of file paths) and MedMNIST arrays.

A datalist is a list of dicts such as ``{"image": "/cache/mednist/MedNIST/Hand/000001.jpeg",
"label": 4}`` (MedNIST) or ``{"image": ".../imagesTr/x.nii.gz", "label": ".../labelsTr/x.nii.gz"}``
(MSD), ready for ``monai.data.Dataset``. Splits are made here, deterministically from a seed.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError, RegistryError

__all__ = ["split_items", "mednist_datalist", "msd_datalist", "ixi_datalist", "medmnist_arrays", "find_root"]

_IMAGE_EXT = (".jpeg", ".jpg", ".png")


def split_items(items: list[Any], fractions: dict[str, Any], split: str, *, seed: int = 0) -> list[Any]:
    """Shuffle ``items`` with ``seed`` and return the ``split`` share given by ``fractions`` (in order)."""
    fracs = {k: float(v) for k, v in fractions.items() if isinstance(v, (int, float)) and 0 <= float(v) <= 1}
    if split not in fracs:
        raise ConfigError(
            f"split {split!r} is not defined here; choose one of {', '.join(fracs) or '(none)'}"
        )
    order = np.random.default_rng(seed).permutation(len(items))
    total = sum(fracs.values()) or 1.0
    start = 0.0
    for name, frac in fracs.items():
        lo, hi = int(round(start / total * len(items))), int(round((start + frac) / total * len(items)))
        if name == split:
            return [items[i] for i in order[lo:hi]]
        start += frac
    return []  # unreachable


def find_root(folder: Path, marker: str) -> Path:
    """Return the folder under ``folder`` (itself or a descendant, shallowest first) that contains ``marker``."""
    if (folder / marker).exists():
        return folder
    hits = sorted(folder.rglob(marker), key=lambda p: len(p.parts))
    hits = [h for h in hits if not h.name.startswith("._")]
    if not hits:
        raise RegistryError(f"no {marker} under {folder}; fetch the dataset again (`medimg data fetch`)")
    return hits[0].parent


def mednist_datalist(folder: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """Datalist of a MedNIST folder (``<root>/<ClassName>/<n>.jpeg``) and its sorted class names."""
    root = folder / "MedNIST" if (folder / "MedNIST").is_dir() else folder
    classes = sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    if not classes:
        raise RegistryError(f"no class folders under {root}; expected MedNIST/<ClassName>/*.jpeg")
    items = [
        {"image": str(p), "label": k}
        for k, c in enumerate(classes)
        for p in sorted((root / c).iterdir())
        if p.suffix.lower() in _IMAGE_EXT and not p.name.startswith(".")
    ]
    return items, classes


def msd_datalist(
    folder: Path, split: str, fractions: dict[str, Any], *, seed: int = 0
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Datalist of an MSD task from its ``dataset.json``; ``test`` is the unlabelled ``imagesTs`` list."""
    root = find_root(folder, "dataset.json")
    meta = json.loads((root / "dataset.json").read_text(encoding="utf-8"))

    def resolve(rel: str) -> str:
        return str((root / rel).resolve())

    labels = {str(k): str(v) for k, v in (meta.get("labels") or {}).items()}
    if split == "test":
        return [{"image": resolve(p)} for p in meta.get("test", [])], labels
    pairs = [{"image": resolve(d["image"]), "label": resolve(d["label"])} for d in meta.get("training", [])]
    train_fracs = {k: v for k, v in fractions.items() if k != "test"}
    return split_items(pairs, train_fracs, split, seed=seed), labels


_IXI_RE = re.compile(r"^(IXI\d+)-([A-Za-z]+)-(\d+)-([A-Za-z0-9]+)\.nii(\.gz)?$")


def ixi_datalist(folder: Path, sites: list[str]) -> list[dict[str, Any]]:
    """Datalist of IXI NIfTI files (``IXI002-Guys-0828-T1.nii.gz``): image path, subject, site and site index."""
    items = []
    for p in sorted(folder.rglob("IXI*.nii*")):
        m = _IXI_RE.match(p.name)
        if not m:
            continue
        site = m.group(2)
        items.append(
            {
                "image": str(p),
                "subject": m.group(1),
                "site": site,
                "label": sites.index(site) if site in sites else -1,
            }
        )
    if not items:
        raise RegistryError(f"no IXI*.nii.gz files under {folder}; fetch the dataset again")
    return items


def medmnist_arrays(npz_path: Path, split: str) -> dict[str, Any]:
    """Arrays of one MedMNIST split: ``images`` float32 (N, C, *spatial) in [0, 1], ``labels`` int64."""
    if split not in ("train", "val", "test"):
        raise ConfigError(f"MedMNIST split must be train, val or test, got {split!r}")
    with np.load(npz_path) as z:
        imgs = z[f"{split}_images"]
        labels = z[f"{split}_labels"]
    is_3d = imgs.ndim == 4 and imgs.shape[-1] not in (1, 3)
    if imgs.ndim == 3 or is_3d:
        imgs = imgs[:, None]  # gray 2D (N,H,W) or 3D (N,D,H,W): add the channel
    else:
        imgs = np.moveaxis(imgs, -1, 1)  # (N,H,W,C) -> (N,C,H,W)
    images = imgs.astype(np.float32) / 255.0
    labels = labels.astype(np.int64)
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    return {"images": np.ascontiguousarray(images), "labels": labels}
