"""The offline catalogue: real images that installed packages ship, found and described with no network.

Each entry names the file inside its package, its modality, its shape (read from the file's header, no
pixel decoding) and its licence. ``medimg data list --offline`` prints it. Entries whose package is not
installed are left out (``pip install pydicom-data`` adds the ultrasound, CR, SEG and 1024² MR files).
"""

from __future__ import annotations

import importlib.util
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

__all__ = ["OfflineSample", "offline_catalogue"]

_PYDICOM = "MIT (pydicom test data)"
_PYDICOM_DATA = "MIT (pydicom-data test files)"

# name, modality, package, path inside the package, kind, licence
_ENTRIES: list[tuple[str, str, str, str, str, str]] = [
    ("pydicom-ct", "CT", "pydicom", "data/test_files/CT_small.dcm", "dicom", _PYDICOM),
    ("pydicom-mr", "MR", "pydicom", "data/test_files/MR_small.dcm", "dicom", _PYDICOM),
    ("pydicom-data-emri", "MR (enhanced, 10 frames)", "data_store", "data/emri_small.dcm", "dicom", _PYDICOM_DATA),
    ("pydicom-data-mr1024", "MR", "data_store", "data/MR2_UNCR.dcm", "dicom", _PYDICOM_DATA),
    ("pydicom-data-cr", "CR (radiograph)", "data_store", "data/RG1_UNCR.dcm", "dicom", _PYDICOM_DATA),
    ("pydicom-data-us", "US", "data_store", "data/US1_UNCR.dcm", "dicom", _PYDICOM_DATA),
    ("pydicom-data-us-cine", "US (120-frame cine)", "data_store", "data/color3d_jpeg_baseline.dcm", "dicom",
     _PYDICOM_DATA),
    ("pydicom-data-seg", "SEG (DICOM Segmentation)", "data_store", "data/liver.dcm", "dicom", _PYDICOM_DATA),
    ("mni152", "MR T1 (template)", "nilearn", "datasets/data/mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz",
     "nifti", "free with attribution (McConnell Brain Imaging Centre); shipped by nilearn (BSD-3-Clause)"),
    ("nilearn-fsaverage5", "surface mesh (cortex)", "nilearn", "datasets/data/fsaverage5/pial_left.gii.gz", "gifti",
     "FreeSurfer fsaverage (FreeSurfer licence); shipped by nilearn (BSD-3-Clause)"),
    ("nibabel-example4d", "MR (fMRI, 4D)", "nibabel", "tests/data/example4d.nii.gz", "nifti", "MIT (nibabel test data)"),
    ("skimage-retina", "fundus photography", "skimage", "data/retina.jpg", "image",
     "CC BY 4.0 (Häggström, Wikimedia Commons)"),
    ("skimage-ihc", "histopathology (IHC)", "skimage", "data/ihc.png", "image", "public domain (Wikimedia Commons)"),
    ("dipy-dwi", "MR diffusion (DWI)", "dipy", "data/files/small_64D.nii", "nifti", "BSD-3-Clause (dipy data)"),
]


@dataclass(frozen=True)
class OfflineSample:
    """One real file shipped inside an installed package."""

    name: str
    modality: str
    package: str
    path: str
    shape: tuple[int, ...]
    license: str

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of the entry."""
        return asdict(self)


def _package_dir(package: str) -> Path | None:
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _shape(path: Path, kind: str) -> tuple[int, ...]:
    if kind == "dicom":
        import pydicom

        ds = pydicom.dcmread(path, stop_before_pixels=True)
        frames = int(ds.get("NumberOfFrames", 1) or 1)
        spp = int(ds.get("SamplesPerPixel", 1) or 1)
        shape = (int(ds.Rows), int(ds.Columns))
        return ((frames,) if frames > 1 else ()) + shape + ((spp,) if spp > 1 else ())
    if kind == "nifti":
        import nibabel as nib

        return tuple(int(s) for s in nib.load(path).shape)
    if kind == "gifti":
        import nibabel as nib

        g = nib.load(path)
        coords = g.agg_data("pointset")
        faces = g.agg_data("triangle")
        return (int(coords.shape[0]), int(faces.shape[0]))  # vertices, triangles
    from PIL import Image

    with Image.open(path) as im:
        return (im.height, im.width, len(im.getbands()))


def offline_catalogue() -> list[OfflineSample]:
    """Every catalogued file that is present in this environment, with its shape read from its header."""
    out = []
    for name, modality, package, rel, kind, licence in _ENTRIES:
        root = _package_dir(package)
        if root is None or not (root / rel).is_file():
            continue
        out.append(OfflineSample(name, modality, package, str(root / rel), _shape(root / rel, kind), licence))
    return out
