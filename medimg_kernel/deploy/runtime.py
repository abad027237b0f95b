"""One ``predict`` interface for eager torch, ONNX Runtime fp32 and ONNX Runtime int8.

Every predictor takes a float32 ``(N, C, *spatial)`` NumPy array and returns the model's raw outputs
(logits) as a float32 NumPy array, so the benchmark, the evaluation, the stream and the DICOM node treat
them alike. Threads come from the course's device policy (:func:`medimg_kernel.device_policy`, which honours
``MEDIMG_NUM_THREADS``); ONNX Runtime uses its CUDA provider when it is installed and the policy chose CUDA.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from ..errors import ConfigError, DeployError

__all__ = ["Predictor", "EagerPredictor", "OrtPredictor", "load_predictor", "ort_providers"]


@runtime_checkable
class Predictor(Protocol):
    """Anything with a ``name`` and ``predict(x: ndarray) -> ndarray`` (raw model outputs)."""

    name: str

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Run the model on a float32 ``(N, C, *spatial)`` batch."""
        ...


def _as_batch(x: Any) -> np.ndarray:
    arr = np.ascontiguousarray(np.asarray(x, dtype=np.float32))
    if arr.ndim < 3:
        raise ConfigError(f"predict needs an (N, C, *spatial) batch, got shape {arr.shape}")
    return arr


class EagerPredictor:
    """Eager torch fp32 on the device policy's CPU threads (the trained model, as trained)."""

    def __init__(self, model: Any, *, name: str = "eager fp32", threads: int | None = None) -> None:
        import torch

        from ..device import device_policy

        policy = device_policy("cpu")
        self.threads = int(threads or policy.num_threads)
        if torch.get_num_threads() != self.threads:
            torch.set_num_threads(self.threads)
        self.model = model.eval().cpu()
        self.name = name

    def predict(self, x: Any) -> np.ndarray:
        """Run the torch model under ``inference_mode`` and return float32 outputs."""
        import torch

        with torch.inference_mode():
            out = self.model(torch.from_numpy(_as_batch(x)))
        return out.float().numpy()

    def __repr__(self) -> str:
        return f"EagerPredictor({type(self.model).__name__}, threads={self.threads})"


def ort_providers(device: str | None = None) -> list[str]:
    """The ONNX Runtime providers to use: CUDA first when installed and the policy chose CUDA, then CPU."""
    import onnxruntime as ort

    from ..device import device_policy

    available = ort.get_available_providers()
    want_cuda = "CUDAExecutionProvider" in available and device_policy(device).device_type == "cuda"
    return (["CUDAExecutionProvider"] if want_cuda else []) + ["CPUExecutionProvider"]


class OrtPredictor:
    """An ONNX Runtime session on one ``.onnx`` file (fp32 or int8 QDQ alike)."""

    def __init__(self, path: str | Path, *, name: str | None = None, threads: int | None = None,
                 providers: list[str] | None = None) -> None:
        import onnxruntime as ort

        from ..device import device_policy

        self.path = Path(path)
        if not self.path.is_file():
            raise DeployError(f"no ONNX model at {self.path}: export one with medimg deploy export")
        opts = ort.SessionOptions()
        self.threads = int(threads or device_policy("cpu").num_threads)
        opts.intra_op_num_threads = self.threads
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(str(self.path), sess_options=opts,
                                                providers=providers or ort_providers())
        except Exception as err:  # noqa: BLE001 - onnxruntime raises its own Fail/InvalidGraph types
            raise DeployError(f"ONNX Runtime cannot load {self.path.name}: {str(err).splitlines()[0][:200]}; "
                              f"re-export the model") from err
        self.input_name = self.session.get_inputs()[0].name
        self.input_shape = tuple(self.session.get_inputs()[0].shape)
        self.metadata = dict(self.session.get_modelmeta().custom_metadata_map)
        self.name = name or ("ORT int8" if ".int8" in self.path.name else "ORT fp32")

    @property
    def providers(self) -> list[str]:
        """The providers the session actually uses."""
        return list(self.session.get_providers())

    def predict(self, x: Any) -> np.ndarray:
        """Run the session and return float32 outputs."""
        return np.asarray(self.session.run(None, {self.input_name: _as_batch(x)})[0], dtype=np.float32)

    def __repr__(self) -> str:
        return f"OrtPredictor({self.path.name}, threads={self.threads}, providers={self.providers})"


def load_predictor(source: Any, **kw: Any) -> Predictor:
    """A predictor for a torch module (eager), a ``.onnx`` path (ORT) or an existing predictor."""
    if isinstance(source, (str, Path)):
        return OrtPredictor(source, **kw)
    if hasattr(source, "predict") and hasattr(source, "name"):
        return source
    import torch

    if isinstance(source, torch.nn.Module):
        return EagerPredictor(source, **kw)
    raise ConfigError(f"cannot make a predictor from {type(source).__name__}: pass a torch.nn.Module, "
                      f"a .onnx path or a predictor")
