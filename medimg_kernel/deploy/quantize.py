"""Static int8 quantisation (QDQ, signed int8 weights and activations) with ONNX Runtime.

Static quantisation fixes the int8 scale of every activation from a *calibration set*: a few hundred (here
a few dozen) images drawn from the training data, never from the test set. ONNX Runtime recommends QDQ
with S8S8 for CNNs; U8S8 can saturate on CPUs without VNNI. Whether int8 is faster depends on the
hardware (VNNI/AMX CPUs, TensorRT, NPUs): on CPUs without int8 matrix units it mostly buys a smaller file.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError, DeployError

__all__ = ["calibration_set", "quantize_int8", "ArrayCalibrationReader"]


def calibration_set(images: Any, n: int = 32, *, seed: int = 0, labels: Any = None) -> np.ndarray:
    """Draw ``n`` calibration images from training ``images``, stratified by ``labels`` when given.

    Stratifying keeps rare classes (e.g. lesion-positive images) in the set, so their activations get a
    scale too; for masks the strata are images with and without foreground. The draw is reproducible for a ``seed``.
    """
    x = np.asarray(images, dtype=np.float32)
    if x.ndim < 3 or len(x) == 0:
        raise ConfigError(f"calibration images must be a non-empty (N, C, *spatial) array, got {x.shape}")
    n = int(min(max(1, n), len(x)))
    rng = np.random.default_rng(seed)
    if labels is None:
        idx = rng.choice(len(x), size=n, replace=False)
    else:
        y = np.asarray(labels)
        if y.ndim > 1:  # masks: stratify by "has foreground"
            y = (y.reshape(len(x), -1).max(axis=1) > 0).astype(np.int64)
        classes = np.unique(y)
        per = [rng.permutation(np.flatnonzero(y == c)) for c in classes]
        idx_list: list[int] = []
        k = 0
        while len(idx_list) < n:  # round-robin over classes
            for p in per:
                if k < len(p) and len(idx_list) < n:
                    idx_list.append(int(p[k]))
            k += 1
        idx = np.array(sorted(idx_list))
    return np.ascontiguousarray(x[np.sort(idx)])


class ArrayCalibrationReader:
    """An ONNX Runtime ``CalibrationDataReader`` feeding an array one image at a time."""

    def __init__(self, images: np.ndarray, input_name: str) -> None:
        self.images = np.asarray(images, dtype=np.float32)
        self.input_name = input_name
        self._i = 0

    def get_next(self) -> dict[str, np.ndarray] | None:
        """The next ``{input: (1, C, ...)}`` feed, or ``None`` at the end."""
        if self._i >= len(self.images):
            return None
        self._i += 1
        return {self.input_name: self.images[self._i - 1:self._i]}

    def rewind(self) -> None:
        """Start again from the first image."""
        self._i = 0


def quantize_int8(fp32_path: str | Path, calibration: Any, out_path: str | Path | None = None, *,
                  per_channel: bool = True, method: str = "minmax") -> Path:
    """Write a static int8 QDQ (S8S8) copy of ``fp32_path`` calibrated on ``calibration``; return its path.

    ``method`` is ONNX Runtime's calibration method: ``"minmax"``, ``"entropy"`` or ``"percentile"``.
    The default output is ``<name>.int8.onnx`` beside the fp32 file.
    """
    import onnxruntime as ort
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    methods = {"minmax": CalibrationMethod.MinMax, "entropy": CalibrationMethod.Entropy,
               "percentile": CalibrationMethod.Percentile}
    if method not in methods:
        raise ConfigError(f"unknown calibration method {method!r}: choose one of {', '.join(methods)}")
    fp32_path = Path(fp32_path)
    if not fp32_path.is_file():
        raise DeployError(f"no fp32 ONNX model at {fp32_path}: export it first (mk.deploy.export_onnx)")
    out = Path(out_path) if out_path else fp32_path.with_name(fp32_path.name.replace(".onnx", "") + ".int8.onnx")
    calib = np.asarray(calibration, dtype=np.float32)
    if calib.ndim < 3 or len(calib) == 0:
        raise ConfigError(f"calibration must be a non-empty (N, C, *spatial) array, got {calib.shape}")
    input_name = ort.InferenceSession(str(fp32_path), providers=["CPUExecutionProvider"]).get_inputs()[0].name
    qlog = logging.getLogger("root")
    level = qlog.level
    with tempfile.TemporaryDirectory(prefix="medimg_quant_") as tmp:
        pre = Path(tmp) / "pre.onnx"
        try:
            qlog.setLevel(logging.ERROR)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    quant_pre_process(str(fp32_path), str(pre), skip_symbolic_shape=False)
                except Exception:  # noqa: BLE001 - pre-processing is an optimisation only
                    pre = fp32_path
                quantize_static(str(pre), str(out), ArrayCalibrationReader(calib, input_name),
                                quant_format=QuantFormat.QDQ, activation_type=QuantType.QInt8,
                                weight_type=QuantType.QInt8, per_channel=per_channel,
                                calibrate_method=methods[method])
        except Exception as err:  # noqa: BLE001
            with contextlib.suppress(OSError):
                out.unlink()
            raise DeployError(f"int8 quantisation of {fp32_path.name} failed: {str(err).splitlines()[0][:200]}; "
                              f"try per_channel=False or another calibration method") from err
        finally:
            qlog.setLevel(level)
    return out
