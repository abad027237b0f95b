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

__all__ = ["split_items", "mednist_datalist", "msd_datalist", "ixi_datalist", "medmnist_arrays", "find_root",
           "oasis_session_info", "oasis_datalist", "split_by_subject", "oasis_arrays", "survival_table"]

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


# ------------------------------------------------------------------------------------------ OASIS-1
_OASIS_SESSION = re.compile(r"^(OAS1_\d{4})_(MR\d)\.txt$")
#: the session sheet's keys -> item keys (numbers unless noted)
_OASIS_FIELDS = {"AGE": "age", "M/F": "sex", "HAND": "hand", "EDUC": "educ", "SES": "ses", "CDR": "cdr",
                 "MMSE": "mmse", "eTIV": "etiv", "ASF": "asf", "nWBV": "nwbv"}
#: the image of a session, best first: atlas-registered brain-masked, atlas-registered, the first raw scan
OASIS_IMAGES = ("PROCESSED/MPRAGE/T88_111/*_t88_masked_gfc.img", "PROCESSED/MPRAGE/T88_111/*_t88_gfc.img",
                "RAW/*_mpr-1_anon.img")


def oasis_session_info(path: Path) -> dict[str, Any]:
    """Read an OASIS-1 session sheet (``OAS1_0001_MR1.txt``): age, sex (``"F"``/``"M"``), CDR, MMSE, ...;
    a blank value (young subjects have no CDR or MMSE) becomes NaN."""
    info: dict[str, Any] = {}
    for line in Path(path).read_text(encoding="latin-1").splitlines():
        key, sep, value = line.partition(":")
        key, value = key.strip(), value.strip()
        if not sep or key not in _OASIS_FIELDS or _OASIS_FIELDS[key] in info:
            continue
        name = _OASIS_FIELDS[key]
        if name in ("sex", "hand"):
            info[name] = value[:1].upper() if value else None
        else:
            try:
                info[name] = float(value)
            except ValueError:
                info[name] = float("nan")
    if info.get("sex") not in ("F", "M"):
        raise RegistryError(f"{path}: no 'M/F:' line with Female or Male; fetch the dataset again")
    return info


def oasis_datalist(folder: Path) -> list[dict[str, Any]]:
    """Datalist of the OASIS-1 sessions under ``folder``: image (Analyze ``.img``), subject, session, the
    session sheet's values, and ``label`` = sex (0 F, 1 M)."""
    items = []
    for sheet in sorted(folder.rglob("OAS1_*_MR*.txt")):
        m = _OASIS_SESSION.match(sheet.name)
        if not m or sheet.parent.name != sheet.stem:
            continue
        image = next((hit for pattern in OASIS_IMAGES for hit in sorted(sheet.parent.glob(pattern))), None)
        if image is None:
            raise RegistryError(f"{sheet.parent}: no image ({' or '.join(OASIS_IMAGES)}); fetch the dataset again")
        info = oasis_session_info(sheet)
        items.append({"image": str(image), "subject": m.group(1), "session": m.group(2), **info,
                      "label": int(info["sex"] == "M")})
    if not items:
        raise RegistryError(f"no OASIS-1 session folders (OAS1_xxxx_MR1/OAS1_xxxx_MR1.txt) under {folder}; "
                            "fetch the dataset again")
    return items


def split_by_subject(items: list[dict[str, Any]], fractions: dict[str, Any], split: str, *,
                     seed: int = 0) -> list[dict[str, Any]]:
    """The ``split`` share of ``items`` with whole subjects in one split (repeat scans never leak)."""
    subjects = sorted({it["subject"] for it in items})
    keep = set(split_items(subjects, fractions, split, seed=seed))
    return [it for it in items if it["subject"] in keep]


def oasis_arrays(items: list[dict[str, Any]], size: int, slices: int = 3) -> dict[str, Any]:
    """Axial slices of each session's brain: ``images`` float32 (N, 1, size, size) in [0, 1] (each volume
    scaled by its 99.5th percentile), ``labels`` = sex, ``subject`` per image and ``metadata``, a per-image
    table of subject, sex, age, CDR, MMSE, eTIV and nWBV. The slices are spread over the middle fifth of the
    brain's extent from bottom to top."""
    import nibabel as nib
    import pandas as pd
    from skimage.transform import resize

    from ..errors import DataError

    images, rows = [], []
    for it in items:
        try:
            img = nib.as_closest_canonical(nib.load(it["image"]))
            vol = np.asarray(img.dataobj, dtype=np.float32).reshape(img.shape[:3])
        except Exception as err:
            raise DataError(f"{it['image']}: not a readable Analyze/NIfTI volume ({err}); fetch the dataset "
                            "again") from None
        z = np.flatnonzero(vol.reshape(-1, vol.shape[2]).max(0) > 0)
        lo, hi = (int(z[0]), int(z[-1])) if len(z) else (0, vol.shape[2] - 1)
        scale = float(np.percentile(vol[vol > 0], 99.5)) if (vol > 0).any() else 1.0
        for f in np.linspace(0.4, 0.6, slices) if slices > 1 else [0.5]:
            k = int(round(lo + f * (hi - lo)))
            sl = np.clip(vol[:, :, k] / (scale or 1.0), 0, 1)
            images.append(resize(np.rot90(sl), (size, size), order=1, anti_aliasing=True, preserve_range=True))
            rows.append({key: it.get(key) for key in ("subject", "session", "sex", "age", "cdr", "mmse", "etiv",
                                                      "nwbv")})
    meta = pd.DataFrame(rows)
    return {"images": np.asarray(images, np.float32).reshape(-1, 1, size, size),
            "labels": np.array([int(s == "M") for s in meta.get("sex", [])], np.int64),
            "subject": meta["subject"].to_numpy() if len(meta) else np.array([], str), "metadata": meta}


# ------------------------------------------------------------------------------- survival tables
_GRADES = {"well differentiated": 1.0, "intermediate": 2.0, "poorly differentiated": 3.0}


def survival_table(table: str, clinical: list[str]) -> dict[str, Any]:
    """A real survival cohort that scikit-survival ships (``sksurv.datasets.load_<table>``), as numeric
    ``clinical`` and ``genomic`` tables (every column not in ``clinical``) indexed by ``patient_id``, with
    ``time`` and ``event`` (1 = event observed). Categories become numbers: a yes/no column is 0/1, tumour
    grade 1-3 (unknown: NaN), any other category one-hot."""
    import pandas as pd

    try:
        import sksurv.datasets as sd
    except ImportError:
        raise ConfigError(f"survival table {table!r} ships with scikit-survival: pip install scikit-survival") from None
    loader = getattr(sd, f"load_{table}", None)
    if loader is None:
        raise ConfigError(f"scikit-survival has no dataset {table!r} (sksurv.datasets.load_{table})")
    x, y = loader()
    event_field, time_field = y.dtype.names
    x = x.reset_index(drop=True)
    x.index = pd.Index([f"P{i:03d}" for i in range(len(x))], name="patient_id")
    cols = {}
    for c in x.columns:
        col = x[c]
        if isinstance(col.dtype, pd.CategoricalDtype) or col.dtype == object:
            values = {str(v) for v in col.dropna().unique()}
            if c == "grade":
                cols[c] = col.astype(str).map(_GRADES).astype(float)
            elif values == {"positive", "negative"}:
                cols[f"{c}_positive"] = (col.astype(str) == "positive").astype(float)
            else:
                for v in sorted(values):
                    cols[f"{c}_{v}"] = (col.astype(str) == v).astype(float)
        else:
            cols[c] = col.astype(float)
    num = pd.DataFrame(cols, index=x.index)
    clin_cols = [c for c in num.columns if c.split("_")[0] in clinical or c in clinical]
    missing = [c for c in clinical if not any(k == c or k.startswith(f"{c}_") for k in clin_cols)]
    if missing:
        raise ConfigError(f"survival table {table!r} has no column(s) {missing}; it has {list(x.columns)[:8]} ...")
    return {"clinical": num[clin_cols], "genomic": num.drop(columns=clin_cols),
            "time": np.asarray(y[time_field], dtype=np.float64), "event": np.asarray(y[event_field], dtype=np.int64),
            "patient_id": num.index.to_numpy()}
