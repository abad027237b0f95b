"""A DICOM inference node: receive a series by C-STORE, run the exported model, answer with a DICOM SEG.

This is where a hospital puts a model: a DICOM application entity (AE) that a scanner or PACS sends
images to. :class:`InferenceNode` (pynetdicom) accepts image storage and verification (C-ECHO, the
ready check). When an association that delivered images is released, each complete series is segmented
by the bundle's ONNX model and written as a DICOM Segmentation (highdicom) to ``output_dir`` and, if
``forward_to`` is set, sent by C-STORE to that AE (e.g. the PACS). Classification models write a JSON
structured result instead. Objects without pixel data (or that cannot be decoded) are answered with a
DICOM failure status and logged; the node keeps serving. Every study is logged to ``studies.jsonl``.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError, DeployError

__all__ = ["InferenceNode", "echo", "send_series", "STATUS"]

logger = logging.getLogger(__name__)

# DICOM C-STORE status codes (PS3.4 Annex B.2.3)
STATUS = {"success": 0x0000, "no_pixel_data": 0xA900, "cannot_understand": 0xC000, "out_of_resources": 0xA700}


def _storage_contexts() -> list[str]:
    from pynetdicom import sop_class

    names = ["CTImageStorage", "MRImageStorage", "UltrasoundImageStorage", "UltrasoundMultiFrameImageStorage",
             "SecondaryCaptureImageStorage", "ComputedRadiographyImageStorage",
             "DigitalXRayImageStorageForPresentation", "EnhancedCTImageStorage", "EnhancedMRImageStorage",
             "PositronEmissionTomographyImageStorage", "SegmentationStorage", "BasicTextSRStorage",
             "ComprehensiveSRStorage", "EncapsulatedPDFStorage"]
    return [getattr(sop_class, n) for n in names if hasattr(sop_class, n)]


def _series_volume(datasets: list[Any]) -> tuple[list[Any], np.ndarray]:
    """Sort slices along the patient axis and return them with their (S, R, C) float pixel stack."""
    def key(ds: Any) -> tuple[float, int]:
        pos = getattr(ds, "ImagePositionPatient", None)
        return (float(pos[2]) if pos is not None else 0.0, int(getattr(ds, "InstanceNumber", 0) or 0))

    ordered = sorted(datasets, key=key)
    slices = []
    for ds in ordered:
        a = ds.pixel_array.astype(np.float32)
        if a.ndim == 3:  # colour -> grey
            a = a[..., :3] @ np.array([0.299, 0.587, 0.114], np.float32)
        a = a * float(getattr(ds, "RescaleSlope", 1) or 1) + float(getattr(ds, "RescaleIntercept", 0) or 0)
        slices.append(a)
    return ordered, np.stack(slices)


def preprocess_slice(a: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Scale one slice to [0, 1] (min-max) and resize it to the model's ``size``: a ``(1, H, W)`` array."""
    from PIL import Image

    lo, hi = float(a.min()), float(a.max())
    a = (a - lo) / (hi - lo) if hi > lo else np.zeros_like(a, dtype=np.float32)
    if a.shape != tuple(size):
        a = np.asarray(Image.fromarray(a.astype(np.float32), mode="F").resize((size[1], size[0]), Image.BILINEAR))
    return a[None].astype(np.float32)


class InferenceNode:
    """A DICOM C-STORE/C-ECHO service that runs a deployment bundle's model on each received series.

    Parameters
    ----------
    bundle
        A :class:`~medimg_kernel.deploy.bundle.Bundle` or a path :func:`load_bundle` accepts.
    output_dir
        Where results (``<study>/<series>_SEG.dcm`` or ``_result.json``) and ``studies.jsonl`` go.
    port, host, ae_title
        The listening address (``port=0`` picks a free port; read it back from ``node.port``).
    kind
        ``"fp32"`` or ``"int8"``: which ONNX file serves.
    forward_to
        ``(host, port, ae_title)`` of an AE that receives each SEG by C-STORE (e.g. the PACS).
    """

    def __init__(self, bundle: Any, output_dir: str | Path, *, port: int = 11112, host: str = "127.0.0.1",
                 ae_title: str = "MEDIMG", kind: str = "fp32", forward_to: tuple[str, int, str] | None = None,
                 batch_size: int = 8) -> None:
        from .bundle import Bundle, load_bundle

        self.bundle = bundle if isinstance(bundle, Bundle) else load_bundle(bundle)
        self.predictor = self.bundle.predictor(kind)
        self.output_dir = Path(output_dir)
        self.output_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.output_dir / "studies.jsonl"
        self.host, self.port, self.ae_title = host, int(port), ae_title
        self.forward_to = forward_to
        self.batch_size = int(batch_size)
        self.results: list[dict[str, Any]] = []
        self._pending: dict[int, dict[str, list[Any]]] = {}
        self._lock = threading.Lock()
        self._jobs: queue.Queue = queue.Queue(maxsize=64)
        self._busy = threading.Event()
        self._server: Any = None
        self._worker: threading.Thread | None = None

    # ------------------------------------------------------------------ handlers
    def _on_echo(self, event: Any) -> int:
        return 0x0000

    def _on_store(self, event: Any) -> int:
        try:
            ds = event.dataset
            ds.file_meta = event.file_meta
        except Exception as err:  # noqa: BLE001 - a malformed object must not stop the node
            self._log({"status": "rejected", "reason": f"cannot decode the dataset: {err}"[:200]})
            return STATUS["cannot_understand"]
        uid = str(getattr(ds, "SOPInstanceUID", "?"))
        if "PixelData" not in ds or not hasattr(ds, "Rows"):
            self._log({"status": "rejected", "sop_instance": uid, "sop_class": str(getattr(ds, "SOPClassUID", "?")),
                       "study": str(getattr(ds, "StudyInstanceUID", "?")),
                       "reason": "no pixel data: only images can be segmented (status 0xA900)"})
            return STATUS["no_pixel_data"]
        if int(getattr(ds, "NumberOfFrames", 1) or 1) > 1:
            self._log({"status": "rejected", "sop_instance": uid, "study": str(getattr(ds, "StudyInstanceUID", "?")),
                       "reason": "multi-frame images are not served by this node: send single-frame slices"})
            return STATUS["cannot_understand"]
        with self._lock:
            series = self._pending.setdefault(event.assoc.native_id, {})
            series.setdefault(str(ds.SeriesInstanceUID), []).append(ds)
        return STATUS["success"]

    def _on_release(self, event: Any) -> None:
        with self._lock:
            series = self._pending.pop(event.assoc.native_id, {})
        for datasets in series.values():
            self._busy.set()
            self._jobs.put(datasets)

    # ------------------------------------------------------------------ processing
    def _work(self) -> None:
        while True:
            datasets = self._jobs.get()
            if datasets is None:
                return
            try:
                self.process_series(datasets)
            except Exception as err:  # noqa: BLE001 - log, keep serving
                ds = datasets[0]
                self._log({"status": "failed", "study": str(getattr(ds, "StudyInstanceUID", "?")),
                           "series": str(getattr(ds, "SeriesInstanceUID", "?")), "n_instances": len(datasets),
                           "reason": f"{type(err).__name__}: {err}"[:300]})
            finally:
                if self._jobs.empty():
                    self._busy.clear()

    def process_series(self, datasets: list[Any]) -> dict[str, Any]:
        """Run the model on one series and write (and forward) its result; return the log record."""
        t0 = time.perf_counter()
        ordered, vol = _series_volume(datasets)
        size = tuple(self.bundle.input_shape[1:3])
        x = np.stack([preprocess_slice(s, size) for s in vol])
        outs = [self.predictor.predict(x[i:i + self.batch_size]) for i in range(0, len(x), self.batch_size)]
        logits = np.concatenate(outs)
        first = ordered[0]
        study, series_uid = str(first.StudyInstanceUID), str(first.SeriesInstanceUID)
        folder = self.output_dir / study
        folder.mkdir(parents=True, exist_ok=True)
        record: dict[str, Any] = {"study": study, "series": series_uid, "modality": str(getattr(first, "Modality", "")),
                                  "n_instances": len(ordered), "model": self.predictor.name}
        if self.bundle.task == "segmentation":
            labels = logits.argmax(1).astype(np.uint8)
            labels = self._to_source_size(labels, vol.shape[1:])
            path = folder / f"{series_uid}_SEG.dcm"
            seg = self._make_seg(ordered, labels)
            seg.save_as(path)
            record.update(result=str(path), foreground_voxels=int((labels > 0).sum()))
            if self.forward_to:
                record["forwarded"] = send_series([seg], *self.forward_to, calling_ae=self.ae_title)
        else:
            z = logits - logits.max(1, keepdims=True)
            prob = np.exp(z) / np.exp(z).sum(1, keepdims=True)
            names = self.bundle.class_names or [f"class {i}" for i in range(prob.shape[1])]
            mean = prob.mean(0)
            result = {"study": study, "series": series_uid, "model": self.predictor.name,
                      "prediction": names[int(mean.argmax())],
                      "probabilities": {n: float(p) for n, p in zip(names, mean)},
                      "per_instance": [{"sop_instance": str(d.SOPInstanceUID), "prediction": names[int(p.argmax())]}
                                       for d, p in zip(ordered, prob)]}
            path = folder / f"{series_uid}_result.json"
            path.write_text(json.dumps(result, indent=2))
            record.update(result=str(path), prediction=result["prediction"])
        record.update(status="done", seconds=round(time.perf_counter() - t0, 3))
        self._log(record)
        return record

    @staticmethod
    def _to_source_size(labels: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        if labels.shape[1:] == tuple(shape):
            return labels
        from PIL import Image

        return np.stack([np.asarray(Image.fromarray(s).resize((shape[1], shape[0]), Image.NEAREST)) for s in labels])

    def _make_seg(self, ordered: list[Any], labels: np.ndarray) -> Any:
        import highdicom as hd
        from pydicom.sr.codedict import codes

        from .. import __version__

        names = self.bundle.class_names or ["background"] + [f"class {i}" for i in range(1, int(labels.max()) + 2)]
        n_classes = max(len(names), int(labels.max()) + 1)
        algo = hd.AlgorithmIdentificationSequence(name="medimg deploy", version=__version__,
                                                  family=codes.cid7162.ArtificialIntelligence)
        descriptions = [
            hd.seg.SegmentDescription(
                segment_number=c, segment_label=(names[c] if c < len(names) else f"class {c}")[:64],
                segmented_property_category=codes.SCT.MorphologicallyAbnormalStructure,
                segmented_property_type=codes.SCT.Lesion, algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC,
                algorithm_identification=algo)
            for c in range(1, n_classes)]
        return hd.seg.Segmentation(
            source_images=ordered, pixel_array=labels, segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
            segment_descriptions=descriptions, series_instance_uid=hd.UID(), series_number=900,
            sop_instance_uid=hd.UID(), instance_number=1, manufacturer="medimg", manufacturer_model_name="medimg deploy",
            software_versions=__version__, device_serial_number="0", omit_empty_frames=False,
            content_description="model output: not validated for clinical use")

    def _log(self, record: dict[str, Any]) -> None:
        record = {"time": time.strftime("%Y-%m-%dT%H:%M:%S"), **record}
        with self._lock:
            self.results.append(record)
            with self.log_path.open("a") as fh:
                fh.write(json.dumps(record) + "\n")
        (logger.warning if record.get("status") in ("rejected", "failed") else logger.info)(json.dumps(record))

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> InferenceNode:
        """Start listening (in background threads) and return the node."""
        from pynetdicom import AE, evt
        from pynetdicom.sop_class import Verification

        if self._server is not None:
            return self
        ae = AE(ae_title=self.ae_title)
        for ctx in _storage_contexts():
            ae.add_supported_context(ctx, ["1.2.840.10008.1.2.1", "1.2.840.10008.1.2", "1.2.840.10008.1.2.5",
                                           "1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.70"])
        ae.add_supported_context(Verification)
        ae.maximum_pdu_size = 0
        handlers = [(evt.EVT_C_STORE, self._on_store), (evt.EVT_C_ECHO, self._on_echo),
                    (evt.EVT_RELEASED, self._on_release), (evt.EVT_ABORTED, self._on_release)]
        try:
            self._server = ae.start_server((self.host, self.port), block=False, evt_handlers=handlers)
        except OSError as err:
            raise DeployError(f"cannot listen on {self.host}:{self.port}: {err.strerror or err}; choose another "
                              f"--port") from err
        self.port = int(self._server.server_address[1])
        self._worker = threading.Thread(target=self._work, name="medimg-node-worker", daemon=True)
        self._worker.start()
        return self

    def ready(self, timeout: float = 5.0) -> bool:
        """C-ECHO the node: ``True`` when it answers with success."""
        return echo(self.host, self.port, self.ae_title, timeout=timeout)

    def wait_idle(self, timeout: float = 60.0) -> bool:
        """Wait until every received series has been processed (for tests and notebooks)."""
        t_end = time.monotonic() + timeout
        while time.monotonic() < t_end:
            with self._lock:
                pending = bool(self._pending)
            if not pending and not self._busy.is_set() and self._jobs.empty():
                return True
            time.sleep(0.02)
        return False

    def stop(self) -> None:
        """Stop listening and finish the worker."""
        if self._server is not None:
            self._server.shutdown()
            self._server = None
        if self._worker is not None:
            self._jobs.put(None)
            self._worker.join(timeout=10)
            self._worker = None

    def __enter__(self) -> InferenceNode:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "listening" if self._server is not None else "stopped"
        return f"InferenceNode({self.ae_title}@{self.host}:{self.port}, {self.predictor.name}, {state})"


def echo(host: str, port: int, ae_title: str = "MEDIMG", *, timeout: float = 5.0) -> bool:
    """Send a C-ECHO to ``ae_title`` at ``host:port``; ``True`` on a success status."""
    from pynetdicom import AE
    from pynetdicom.sop_class import Verification

    ae = AE(ae_title="MEDIMG_SCU")
    ae.add_requested_context(Verification)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = timeout
    assoc = ae.associate(host, int(port), ae_title=ae_title)
    if not assoc.is_established:
        return False
    try:
        status = assoc.send_c_echo()
        return bool(status) and int(status.Status) == 0
    finally:
        assoc.release()


def send_series(datasets: list[Any], host: str, port: int, ae_title: str = "MEDIMG", *,
                calling_ae: str = "MEDIMG_SCU", timeout: float = 30.0) -> list[int]:
    """C-STORE ``datasets`` to ``ae_title`` at ``host:port`` in one association; return the status codes."""
    from pynetdicom import AE

    if not datasets:
        raise ConfigError("send_series needs at least one dataset")
    ae = AE(ae_title=calling_ae)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = timeout
    for uid in sorted({(str(d.SOPClassUID), str(d.file_meta.TransferSyntaxUID)) for d in datasets}):
        ae.add_requested_context(uid[0], [uid[1]])
    assoc = ae.associate(host, int(port), ae_title=ae_title)
    if not assoc.is_established:
        raise DeployError(f"no DICOM association with {ae_title}@{host}:{port}: is the node running? "
                          f"(check with medimg deploy serve ... and C-ECHO)")
    codes = []
    try:
        for ds in datasets:
            status = assoc.send_c_store(ds)
            codes.append(int(status.Status) if status else -1)
    finally:
        assoc.release()
    return codes
