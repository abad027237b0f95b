"""Format twins: tiny files in a registered dataset's exact published layout, for mirrors and tests.

A twin of ``mednist`` is a ``MedNIST.tar.gz`` of ``MedNIST/<Class>/<n>.jpeg``; of an MSD task, a ``.tar`` with
``dataset.json``, ``imagesTr``, ``labelsTr`` and ``imagesTs`` NIfTI files with real-looking affines; of a
MedMNIST flag, an ``.npz`` with the published key names and dtypes; of IXI, a ``.tar`` of
``IXI<id>-<site>-<n>-<mod>.nii.gz`` files; of published weights, a MONAI-bundle zip whose checkpoint has the
architecture's exact keys and shapes (random values); of a bucket dataset (NCI IDC), each pinned DICOM series
with its SeriesInstanceUID and instance count under ``<bucket>/<folder>/``, to upload to an S3 server on
127.0.0.1 (``mk.cohort.LocalS3``), the manifest entry pointing at that endpoint. :func:`write_twins` writes the files and a registry manifest that
redefines the datasets by name with the twins' URLs and sha256 hashes, so a lesson's standard/full path runs
unchanged, at tiny sizes, against a server on 127.0.0.1 (``medimg data twin``; ``medimg course run --manifest``).

The images are simple shapes whose class or label can be learnt, not real anatomy: metrics measured on a
twin say the code path works, never how well a model does on the real dataset.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError
from .registry import DatasetEntry, dataset_info

__all__ = ["make_twin", "write_twins", "twin_loaders", "MSD_TASKS"]

#: per MSD task: (file prefix, modalities of dataset.json, voxel spacing in mm, CT or MR intensities)
MSD_TASKS: dict[str, tuple[str, dict[str, str], tuple[float, float, float], str]] = {
    "Task01_BrainTumour": ("BRATS", {"0": "FLAIR", "1": "T1w", "2": "t1gd", "3": "T2w"}, (1.0, 1.0, 1.0), "MR"),
    "Task02_Heart": ("la", {"0": "MRI"}, (1.25, 1.25, 1.37), "MR"),
    "Task03_Liver": ("liver", {"0": "CT"}, (0.7, 0.7, 1.0), "CT"),
    "Task04_Hippocampus": ("hippocampus", {"0": "MRI"}, (1.0, 1.0, 1.0), "MR"),
    "Task05_Prostate": ("prostate", {"0": "T2", "1": "ADC"}, (0.6, 0.6, 3.6), "MR"),
    "Task06_Lung": ("lung", {"0": "CT"}, (0.78, 0.78, 1.25), "CT"),
    "Task07_Pancreas": ("pancreas", {"0": "CT"}, (0.8, 0.8, 2.5), "CT"),
    "Task08_HepaticVessel": ("hepaticvessel", {"0": "CT"}, (0.8, 0.8, 5.0), "CT"),
    "Task09_Spleen": ("spleen", {"0": "CT"}, (0.79, 0.79, 5.0), "CT"),
    "Task10_Colon": ("colon", {"0": "CT"}, (0.78, 0.78, 5.0), "CT"),
}

_DEFAULT_N = {"mednist": 24, "msd": 8, "medmnist": 60, "ixi": 12, "oasis1": 20, "weights": 1}


def _add(tf: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = 0  # equal inputs give byte-equal archives (stable hashes)
    tf.addfile(info, io.BytesIO(data))


def _nii_gz(arr: np.ndarray, affine: np.ndarray) -> bytes:
    import nibabel as nib

    img = nib.Nifti1Image(arr, affine)
    img.header.set_xyzt_units("mm", "sec")
    return gzip.compress(img.to_bytes(), mtime=0)


# ------------------------------------------------------------------------------------------ MedNIST
def _twin_mednist(entry: DatasetEntry, out: Path, n: int, seed: int) -> None:
    from PIL import Image

    from .synthetic.images2d import mednist_like

    classes = list(entry.labels)
    per_class = max(2, n)
    d = mednist_like(per_class * len(classes), seed=seed, size=64, n_classes=len(classes))
    counters = dict.fromkeys(range(len(classes)), 0)
    with tarfile.open(out, "w:gz") as tf:
        for img, lab in zip(d["images"][:, 0], d["labels"]):
            buf = io.BytesIO()
            Image.fromarray(np.clip(img * 255, 0, 255).astype(np.uint8), mode="L").save(buf, format="JPEG")
            _add(tf, f"MedNIST/{classes[int(lab)]}/{counters[int(lab)]:06d}.jpeg", buf.getvalue())
            counters[int(lab)] += 1


# ---------------------------------------------------------------------------------------------- MSD
def _case(rng: np.random.Generator, shape: tuple[int, int, int], n_labels: int, n_channels: int,
          kind: str) -> tuple[np.ndarray, np.ndarray]:
    """One case: nested ellipsoids (label 1 outermost) and per-channel contrasts, noise and a bias field."""
    grid = np.stack(np.meshgrid(*[np.linspace(-1, 1, s) for s in shape], indexing="ij"))
    centre = rng.uniform(-0.25, 0.25, 3)
    radii = rng.uniform(0.35, 0.55, 3)
    lab = np.zeros(shape, np.uint8)
    for k in range(1, n_labels):
        r = radii * (1.0 - 0.8 * (k - 1) / max(n_labels - 1, 1))
        inside = (((grid - centre[:, None, None, None]) / r[:, None, None, None]) ** 2).sum(0) <= 1
        lab[inside] = k
    bias = 1 + 0.1 * grid[0] * rng.uniform(-1, 1)
    chans = []
    for c in range(n_channels):
        contrast = rng.permutation(np.linspace(0.4, 1.0, n_labels)) if c else np.linspace(0.3, 1.0, n_labels)
        img = contrast[lab] * bias + rng.normal(0, 0.08, shape)
        chans.append(img * 1000 - 800 if kind == "CT" else img * 500)
    img = np.stack(chans, -1)
    img = np.rint(img).astype(np.int16) if kind == "CT" else img.astype(np.float32)
    return (img[..., 0] if n_channels == 1 else img), lab


def _twin_msd(entry: DatasetEntry, out: Path, n: int, seed: int) -> None:
    task = str(entry.options.get("task", ""))
    if task not in MSD_TASKS:
        raise ConfigError(f"{entry.name}: no MSD twin layout for task {task!r}; known: {', '.join(MSD_TASKS)}")
    prefix, modality, spacing, kind = MSD_TASKS[task]
    rng = np.random.default_rng(seed)
    shape = (32, 32, 20)
    # LPS-stored volumes as the MSD NIfTIs are: negative x/y steps, an origin away from zero
    affine = np.diag([-spacing[0], -spacing[1], spacing[2], 1.0])
    affine[:3, 3] = [spacing[0] * shape[0] / 2, spacing[1] * shape[1] / 2, -spacing[2] * shape[2] / 2]
    n_labels = max(len(entry.labels), 2)
    n_test = max(1, n // 4)
    files: dict[str, bytes] = {}
    training, test = [], []
    for i in range(n):
        img, lab = _case(rng, shape, n_labels, len(modality), kind)
        stem = f"{prefix}_{i + 1:03d}.nii.gz"
        files[f"imagesTr/{stem}"] = _nii_gz(img, affine)
        files[f"labelsTr/{stem}"] = _nii_gz(lab, affine)
        training.append({"image": f"./imagesTr/{stem}", "label": f"./labelsTr/{stem}"})
    for i in range(n_test):
        img, _ = _case(rng, shape, n_labels, len(modality), kind)
        stem = f"{prefix}_{n + i + 1:03d}.nii.gz"
        files[f"imagesTs/{stem}"] = _nii_gz(img, affine)
        test.append(f"./imagesTs/{stem}")
    meta = {
        "name": task.split("_", 1)[1], "description": f"format twin of {task} (generated by medimg)",
        "tensorImageSize": "4D" if len(modality) > 1 else "3D", "licence": entry.license,
        "modality": modality, "labels": {str(k): v for k, v in enumerate(entry.labels)},
        "numTraining": n, "numTest": n_test, "training": training, "test": test,
    }
    with tarfile.open(out, "w") as tf:
        _add(tf, f"{task}/dataset.json", json.dumps(meta, indent=4).encode())
        for name, data in files.items():
            _add(tf, f"{task}/{name}", data)
        # the published tars carry macOS AppleDouble files; readers must skip them
        _add(tf, f"{task}/imagesTr/._{prefix}_001.nii.gz", b"\x00\x05\x16\x07AppleDouble")


# ----------------------------------------------------------------------------------------- MedMNIST
def _twin_medmnist(entry: DatasetEntry, out: Path, n: int, seed: int) -> None:
    size = int(entry.options.get("size", 28))
    channels = int(entry.options.get("channels", 1))
    n_classes = max(len(entry.labels), 2)
    multilabel = "multi-label" in entry.task
    is_3d = entry.dims == 3
    rng = np.random.default_rng(seed)
    arrays: dict[str, np.ndarray] = {}
    for split, k in (("train", n), ("val", max(2, n // 4)), ("test", max(2, n // 4))):
        if multilabel:
            labels = (rng.random((k, n_classes)) < 0.3).astype(np.uint8)
            mean = labels.mean(1)
        else:
            labels = rng.integers(0, n_classes, (k, 1)).astype(np.uint8)
            mean = labels[:, 0] / (n_classes - 1)
        spatial = (size,) * (3 if is_3d else 2)
        base = rng.integers(0, 120, (k, *spatial)) + (110 * mean).reshape(-1, *([1] * len(spatial)))
        img = np.clip(base, 0, 255).astype(np.uint8)
        if channels == 3:
            img = np.stack([img, np.roll(img, 1, -1), np.roll(img, 2, -1)], -1)  # (N, H, W, 3) as published
        arrays[f"{split}_images"], arrays[f"{split}_labels"] = img, labels
    with open(out, "wb") as f:
        np.savez_compressed(f, **arrays)


# ---------------------------------------------------------------------------------------------- IXI
def _twin_ixi(entry: DatasetEntry, out: Path, n: int, seed: int) -> None:
    sites = list(entry.options.get("sites", ["Guys", "HH", "IOP"]))
    mod = entry.files[0].filename.split("-", 1)[1].split(".")[0]  # IXI-T1.tar -> T1
    rng = np.random.default_rng(seed)
    shape = (24, 28, 20)
    affine = np.array([[0, 0, -1.2, 20], [-0.94, 0, 0, 120], [0, 0.94, 0, -110], [0, 0, 0, 1.0]])  # sagittal
    with tarfile.open(out, "w") as tf:
        for i in range(n):
            site = sites[i % len(sites)]
            img, _ = _case(rng, shape, 3, 1, "MR")
            img = img * (1.0 + 0.2 * sites.index(site))  # each hospital's scanner scales intensities differently
            _add(tf, f"IXI{i + 2:03d}-{site}-{1000 + i}-{mod}.nii.gz", _nii_gz(img.astype(np.float32), affine))


# ---------------------------------------------------------------------------------------- OASIS-1
def _analyze_pair(arr: np.ndarray, zooms: tuple[float, ...]) -> tuple[bytes, bytes]:
    """The ``.hdr`` and ``.img`` bytes of an Analyze 7.5 image (how OASIS-1 ships every volume)."""
    import tempfile

    import nibabel as nib

    img = nib.AnalyzeImage(arr, np.diag([*zooms[:3], 1.0]))
    img.header.set_zooms(zooms)
    with tempfile.TemporaryDirectory() as tmp:
        nib.save(img, Path(tmp) / "x.img")
        return (Path(tmp) / "x.hdr").read_bytes(), (Path(tmp) / "x.img").read_bytes()


def _twin_oasis1(entry: DatasetEntry, out: Path, n: int, seed: int) -> None:
    """``disc1/OAS1_<id>_MR1/`` folders: the session sheet and the T88_111 brain-masked Analyze volume
    (int16, 1 mm, 4-D with a last axis of 1 as published). The generated brains are ellipsoids whose
    ventricles widen with age and that are a little larger in men, so a model has something to learn."""
    rng = np.random.default_rng(seed)
    shape = (22, 26, 22)
    grid = np.stack(np.meshgrid(*[np.linspace(-1, 1, k) for k in shape], indexing="ij"))
    with tarfile.open(out, "w:gz") as tf:
        for i in range(n):
            sid = f"OAS1_{i + 1:04d}_MR1"
            male = i % 2 == 1
            age = int(rng.integers(18, 97))
            cdr = "" if age < 60 else str(rng.choice([0, 0, 0.5, 1]))
            mmse = "" if age < 60 else str(int(rng.integers(20, 31)))
            r = 0.8 + (0.08 if male else 0.0) + rng.normal(0, 0.02)
            brain = (grid ** 2).sum(0) <= r ** 2
            vent = (grid[0] / (0.12 + 0.003 * (age - 18))) ** 2 + (grid[1] / 0.3) ** 2 + (grid[2] / 0.25) ** 2 <= 1
            vol = np.where(brain & ~vent, 600 + rng.normal(0, 40, shape), 0).clip(0).astype(np.int16)
            etiv = int(1450 + (160 if male else 0) + rng.normal(0, 60))
            sheet = (f"SESSION ID:       {sid}\nAGE:              {age}\nM/F:              "
                     f"{'Male' if male else 'Female'}\nHAND:             Right\nEDUC:             "
                     f"{int(rng.integers(1, 6))}\nSES:              {int(rng.integers(1, 6))}\nCDR:              "
                     f"{cdr}\nMMSE:             {mmse}\neTIV:             {etiv}\nASF:              "
                     f"{1755 / etiv:.3f}\nnWBV:             {0.85 - 0.003 * (age - 18):.3f}\n\n"
                     f"SCAN NUMBER:      mpr-1\nTYPE:             MPRAGE\nVox res (mm):     1.0 x 1.0 x 1.25\n")
            base = f"disc1/{sid}"
            _add(tf, f"{base}/{sid}.txt", sheet.encode("latin-1"))
            hdr, img = _analyze_pair(vol[..., None], (1.0, 1.0, 1.0, 1.0))
            stem = f"{base}/PROCESSED/MPRAGE/T88_111/{sid}_mpr_n4_anon_111_t88_masked_gfc"
            _add(tf, f"{stem}.hdr", hdr)
            _add(tf, f"{stem}.img", img)


# ------------------------------------------------------------------------------------------ weights
def _twin_weights(entry: DatasetEntry, out: Path, n: int, seed: int) -> None:
    """A MONAI-bundle-shaped zip: <bundle>/configs/metadata.json and the checkpoint, a state dict of the
    entry's architecture at a seeded random initialisation (the right keys and shapes, not trained)."""
    import zipfile

    import torch

    from ..models import build_model

    o = entry.options
    torch.manual_seed(seed)
    model = build_model(o["model"], int(o["spatial_dims"]), int(o["in_channels"]), int(o["out_channels"]),
                        **dict(o.get("model_kwargs") or {}))
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    ckpt = str(o.get("checkpoint") or f"{entry.name}/models/model.pt")
    bundle = ckpt.split("/", 1)[0]
    meta = {"version": "twin", "description": f"format twin of {entry.name} (random weights)",
            "network_data_format": {"inputs": {"image": {"num_channels": o["in_channels"]}},
                                    "outputs": {"pred": {"num_channels": o["out_channels"]}}}}
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in ((f"{bundle}/configs/metadata.json", json.dumps(meta, indent=2).encode()),
                           (ckpt, buf.getvalue())):
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))  # fixed time: a stable hash
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)


# ------------------------------------------------------------------------------------- bucket series
def _twin_bucket(entry: DatasetEntry, out_dir: Path, seed: int) -> Path:
    """The pinned series of a ``source: bucket`` entry as small DICOM files in the bucket's layout:
    ``<out_dir>/<bucket>/<folder>/<uuid>.dcm``, each series with its pinned SeriesInstanceUID and instance
    count (32 x 32 CT slices of a water phantom with a few inserts of different density); returns the
    bucket folder, to upload to an S3 server (``mk.cohort.upload``)."""
    import uuid

    from .io.dicom_write import write_dicom_series

    root = out_dir / str(entry.options["bucket"])
    rng = np.random.default_rng(seed)
    for i, s in enumerate(entry.options["series"]):
        n = int(s["instances"])
        c = np.arange(32) - 15.5
        r2 = c[:, None] ** 2 + c[None, :] ** 2
        vol = np.where(r2 <= 14**2, 0.0, -1000.0)[:, :, None].repeat(n, 2)  # water cylinder in air (HU)
        for j, hu in enumerate((60.0, 120.0, -100.0)):  # inserts, like a liver phantom's lesions
            cx, cy = 16 + 7 * np.cos(2 * np.pi * j / 3), 16 + 7 * np.sin(2 * np.pi * j / 3)
            vol[((np.arange(32)[:, None] - cx) ** 2 + (np.arange(32)[None, :] - cy) ** 2) <= 9] = hu
        vol += rng.normal(0, 5.0 * (i + 1), vol.shape)  # sharper kernels: more noise
        names = [f"{uuid.UUID(int=int(rng.integers(0, 2**63)) << 64 | k)}.dcm" for k in range(n)]
        write_dicom_series(root / str(s["folder"]), np.round(vol), spacing=(0.7, 0.7, 5.0),
                           patient_id=str(s.get("patient", "TWIN")), modality=str(s.get("modality", "CT")),
                           description=str(s.get("description", "twin")), series_uid=str(s["series_uid"]),
                           file_names=names)
    return root


_GENERATORS: dict[str, Callable[[DatasetEntry, Path, int, int], None]] = {
    "mednist": _twin_mednist, "msd": _twin_msd, "medmnist": _twin_medmnist, "ixi": _twin_ixi,
    "oasis1": _twin_oasis1, "weights": _twin_weights,
}


def twin_loaders() -> tuple[str, ...]:
    """Return the loader names (dataset families) that have a format twin."""
    return tuple(_GENERATORS)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def make_twin(name: str, out_dir: str | os.PathLike[str], *, base_url: str | None = None, n: int | None = None,
              seed: int = 0) -> dict[str, Any]:
    """Write the format twin of registered dataset ``name`` into ``out_dir``; return its manifest entry.

    The entry is the real one with each file's URL replaced by ``base_url/<filename>`` (default: a
    ``file://`` URL of the written file) and its hash by the twin's sha256. ``n`` is the number of
    training items (per class for MedNIST).
    """
    entry = dataset_info(name)
    if entry.source == "bucket":  # the objects for an S3 server, and the entry pointing at it
        if not base_url:
            raise ConfigError(f"{name!r} lives in a bucket: give base_url (--base-url), the endpoint of the S3 "
                              "server the twin will be uploaded to, e.g. mk.cohort.LocalS3().endpoint")
        _twin_bucket(entry, Path(out_dir), seed)
        d = entry.to_dict()
        d.pop("registry_file", None)
        d["options"] = {**entry.options, "endpoint_url": base_url}
        d["description"] = f"FORMAT TWIN (generated phantom slices, not the real images) of: {entry.description}".strip()
        return d
    if entry.source != "remote" or entry.loader not in _GENERATORS:
        raise ConfigError(
            f"no format twin for {name!r} (loader {entry.loader!r}); twins exist for remote datasets of the "
            f"families {', '.join(_GENERATORS)}"
        )
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    files = []
    for f in entry.files:
        path = out_dir / f.filename
        tmp = path.with_name(path.name + ".part")
        _GENERATORS[entry.loader](entry, tmp, n or _DEFAULT_N[entry.loader], seed)
        tmp.replace(path)  # never a half-written twin under the real name
        url = f"{base_url.rstrip('/')}/{f.filename}" if base_url else path.resolve().as_uri()
        files.append({"filename": f.filename, "urls": [url], "sha256": _sha256(path), "size": path.stat().st_size,
                      **({"extract": True} if f.extract else {})})
    d = entry.to_dict()
    d.pop("registry_file", None)
    d["files"] = files
    d["description"] = f"FORMAT TWIN (generated shapes, not the real images) of: {entry.description}".strip()
    return d


def write_twins(names: Sequence[str], out_dir: str | os.PathLike[str], *, base_url: str | None = None,
                n: int | dict[str, int] | None = None, seed: int = 0, progress: bool = True) -> Path:
    """Write the twins of ``names`` into ``out_dir`` and a manifest ``twins.yaml`` redefining them; return it.

    ``n`` is one size for all, or ``{name: size}`` (names left out get their family's default).
    """
    import yaml
    from tqdm.auto import tqdm

    for nm in names:  # every name checked before anything is written
        e = dataset_info(nm)
        if e.source == "bucket" and not base_url:
            raise ConfigError(f"{nm!r} lives in a bucket: give base_url (--base-url), the endpoint of the S3 "
                              "server the twin will be uploaded to, e.g. mk.cohort.LocalS3().endpoint")
        if e.source != "bucket" and (e.source != "remote" or e.loader not in _GENERATORS):
            raise ConfigError(f"no format twin for {nm!r} (loader {e.loader!r}); twins exist for remote datasets "
                              f"of the families {', '.join(_GENERATORS)}")
    sizes = n if isinstance(n, dict) else dict.fromkeys(names, n)
    entries = [make_twin(nm, out_dir, base_url=base_url, n=sizes.get(nm), seed=seed)
               for nm in tqdm(list(names), desc="format twins", unit="dataset", disable=not progress)]
    path = Path(out_dir) / "twins.yaml"
    header = "# Format twins written by `medimg data twin`: tiny generated files in the datasets' real layouts.\n"
    path.write_text(header + yaml.safe_dump({"datasets": entries}, sort_keys=False, allow_unicode=True))
    return path
