"""Write a stack of 2D images as a real single-frame DICOM CT series (to feed the inference node).

The lesson and the tests need a DICOM series whose truth is known: :func:`ct_series` turns an ``(S, H, W)``
array in [0, 1] (e.g. from :func:`medimg_kernel.synthetic.generate`) into CT Image Storage datasets with
Hounsfield-unit rescale, patient geometry and one study/series UID, optionally saved to a folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["ct_series"]


def ct_series(images: Any, folder: str | Path | None = None, *, spacing: tuple[float, float, float] = (2.0, 1.0, 1.0),
              patient_id: str = "MEDIMG-DEMO", hu_range: tuple[float, float] = (-1000.0, 1000.0)) -> list[Any]:
    """Make (and with ``folder`` save) a CT series of ``images`` ``(S, H, W)`` in [0, 1]; return the datasets.

    Pixel values map linearly to ``hu_range`` (stored as uint16 with RescaleSlope 1 and RescaleIntercept
    ``hu_range[0]``); ``spacing`` is (slice, row, column) in mm.
    """
    import pydicom
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

    vol = np.asarray(images, dtype=np.float32)
    if vol.ndim != 3:
        raise ValueError(f"ct_series needs (S, H, W) images, got shape {vol.shape}")
    study, series, frame_of_ref = generate_uid(), generate_uid(), generate_uid()
    lo, hi = hu_range
    out = []
    for i, sl in enumerate(vol):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = CTImageStorage
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = Dataset()
        ds.file_meta = meta
        ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, meta.MediaStorageSOPInstanceUID
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series, frame_of_ref
        ds.PatientName, ds.PatientID, ds.PatientBirthDate, ds.PatientSex = "Demo^Synthetic", patient_id, "", "O"
        ds.StudyDate = ds.SeriesDate = ds.ContentDate = "20260101"
        ds.StudyTime = ds.SeriesTime = ds.ContentTime = "120000"
        ds.AccessionNumber, ds.StudyID, ds.ReferringPhysicianName = "A1", "1", ""
        ds.Modality, ds.Manufacturer, ds.SeriesNumber, ds.InstanceNumber = "CT", "medimg", 1, i + 1
        ds.ImageType = ["DERIVED", "SECONDARY", "AXIAL"]
        ds.ImagePositionPatient = [0.0, 0.0, float(i * spacing[0])]
        ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
        ds.PixelSpacing = [float(spacing[1]), float(spacing[2])]
        ds.SliceThickness = float(spacing[0])
        ds.PositionReferenceIndicator = ""
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.Rows, ds.Columns = sl.shape
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
        ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = lo, 1.0, "HU"
        ds.KVP = 120
        ds.PixelData = np.round(np.clip(sl, 0, 1) * (hi - lo)).astype(np.uint16).tobytes()
        if folder is not None:
            Path(folder).mkdir(parents=True, exist_ok=True)
            pydicom.dcmwrite(Path(folder) / f"CT{i + 1:04d}.dcm", ds, enforce_file_format=True)
        out.append(ds)
    return out
