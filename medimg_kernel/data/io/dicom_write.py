"""Writing a volume as a DICOM series (one CT/MR image file per slice) with pydicom, for generated data and twins."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ...errors import ConfigError

__all__ = ["write_dicom_series"]


def write_dicom_series(folder: str | Path, volume: np.ndarray, *, spacing: tuple[float, float, float] = (1, 1, 2),
                       patient_id: str = "DCM001", modality: str = "CT", seed: int = 0,
                       description: str = "synthetic", series_uid: str | None = None, study_uid: str | None = None,
                       file_names: Sequence[str] | None = None) -> list[Path]:
    """Write ``volume`` (x, y, z; int16 values) as one DICOM file per slice of a series; return the paths.

    The UIDs are derived from ``seed`` unless given (``series_uid``, ``study_uid``); ``file_names`` names the
    files (default ``IM0001.dcm``, ...).
    """
    import pydicom
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, MRImageStorage, generate_uid

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    study = study_uid or generate_uid(entropy_srcs=[f"study{seed}"])
    series = series_uid or generate_uid(entropy_srcs=[f"series{seed}"])
    sop_class = MRImageStorage if modality == "MR" else CTImageStorage
    vol = np.asarray(volume).astype(np.int16)
    if file_names is not None and len(file_names) != vol.shape[2]:
        raise ConfigError(f"{len(file_names)} file names for {vol.shape[2]} slices: give one name per slice")
    paths = []
    for k in range(vol.shape[2]):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = sop_class
        meta.MediaStorageSOPInstanceUID = generate_uid(entropy_srcs=[f"{series}-{k}" if series_uid else f"{seed}-{k}"])
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        path = folder / (file_names[k] if file_names is not None else f"IM{k + 1:04d}.dcm")
        ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
        ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
        ds.PatientID, ds.PatientName = patient_id, patient_id
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
        ds.SeriesDescription, ds.Modality, ds.InstanceNumber = description, modality, k + 1
        ds.ImagePositionPatient = [0.0, 0.0, float(k * spacing[2])]
        ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
        ds.PixelSpacing = [float(spacing[1]), float(spacing[0])]
        ds.SliceThickness = float(spacing[2])
        ds.Rows, ds.Columns = vol.shape[1], vol.shape[0]
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        ds.RescaleSlope, ds.RescaleIntercept = 1, -1024
        ds.PixelData = np.ascontiguousarray(vol[:, :, k].T + 1024).astype(np.int16).tobytes()
        pydicom.dcmwrite(path, ds, enforce_file_format=True)
        paths.append(path)
    return paths
