"""Edge AI and real-time inference: take a trained model to the bedside, and measure it honestly.

* :mod:`.export` — torch -> one self-contained ONNX file (dynamo exporter), parity-checked against eager.
  TorchScript is deprecated in torch >= 2.11 and is not used.
* :mod:`.runtime` — one ``predict`` interface for eager torch, ONNX Runtime fp32 and int8.
* :mod:`.quantize` — static int8 QDQ (S8S8) calibrated on training images.
* :mod:`.evaluate` — held-out accuracy (Dice, accuracy/AUC) and its change after export/quantisation.
* :mod:`.bench` — p50/p95/p99 latency, fps, peak memory, size; backends interleaved in one run.
* :mod:`.bundle` — the folder ``medimg deploy export`` writes and ``bench``/``serve`` read.
* :mod:`.stream` — frame sources and a real-time scheduler with a latency budget that drops, never queues.
* :mod:`.display` — a live notebook view (frame + overlay, fps, latency).
* :mod:`.node` — a DICOM C-STORE inference node answering with DICOM SEG (highdicom).

Heavy libraries (torch, onnxruntime, pydicom, pynetdicom, highdicom) are imported inside functions.
"""

from __future__ import annotations

from .bench import BenchReport, benchmark, latency_summary, machine_info, size_breakdown
from .bundle import Bundle, export_bundle, load_bundle
from .evaluate import accuracy_delta, dice_score, evaluate, predict_batches
from .export import ExportReport, check_parity, export_onnx
from .quantize import calibration_set, quantize_int8
from .runtime import EagerPredictor, OrtPredictor, Predictor, load_predictor

__all__ = [
    "BenchReport", "benchmark", "latency_summary", "machine_info", "size_breakdown",
    "Bundle", "export_bundle", "load_bundle",
    "accuracy_delta", "dice_score", "evaluate", "predict_batches",
    "ExportReport", "check_parity", "export_onnx",
    "calibration_set", "quantize_int8",
    "EagerPredictor", "OrtPredictor", "Predictor", "load_predictor",
]
