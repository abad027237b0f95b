"""A deployment bundle: the trained weights, the fp32 and int8 ONNX files and what was measured about them.

``export_bundle`` writes a folder::

    bundle.json        task, input shape, classes, architecture, parity error, sizes, accuracy, calibration
    weights.pt         the trained model's state dict (for the eager reference; needs ``arch``)
    model.onnx         the fp32 export (self-contained)
    model.int8.onnx    the static int8 QDQ copy

so ``medimg deploy bench`` and ``medimg deploy serve`` can find everything from one path, and the record of
*which* model was validated travels with the file that is deployed.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError, DeployError
from .evaluate import accuracy_delta, evaluate
from .export import DEFAULT_ATOL, export_onnx
from .quantize import calibration_set, quantize_int8
from .runtime import EagerPredictor, OrtPredictor

__all__ = ["Bundle", "export_bundle", "load_bundle", "export_factory_model", "synthetic_split"]

BUNDLE_FILE = "bundle.json"


@dataclass
class Bundle:
    """A deployment bundle on disk (see the module docstring) and its recorded facts."""

    folder: Path
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def task(self) -> str:
        """``"segmentation"`` or ``"classification"``."""
        return str(self.info.get("task", "segmentation"))

    @property
    def fp32_path(self) -> Path:
        """The fp32 ONNX file."""
        return self.folder / "model.onnx"

    @property
    def int8_path(self) -> Path | None:
        """The int8 ONNX file, or ``None`` when the bundle has none."""
        p = self.folder / "model.int8.onnx"
        return p if p.is_file() else None

    @property
    def input_shape(self) -> tuple[int, ...]:
        """``(C, *spatial)`` the model was exported for."""
        return tuple(self.info["input_shape"])

    @property
    def class_names(self) -> list[str]:
        """Names of the output classes (segment labels for segmentation)."""
        return list(self.info.get("class_names") or [])

    def eager_model(self) -> Any:
        """Rebuild the trained torch model from ``arch`` and ``weights.pt``."""
        import torch

        from ..models import build_model

        arch = self.info.get("arch")
        if not arch:
            raise DeployError(f"bundle {self.folder} has no 'arch': re-export with export_bundle(..., arch={{...}}) "
                              f"to compare against eager torch")
        model = build_model(arch["name"], arch["spatial_dims"], arch["in_channels"], arch["out_channels"],
                            **arch.get("kwargs", {}))
        model.load_state_dict(torch.load(self.folder / "weights.pt", map_location="cpu", weights_only=True))
        return model.eval()

    def predictor(self, kind: str = "fp32", **kw: Any) -> Any:
        """A predictor of ``kind``: ``"eager"``, ``"fp32"`` (ORT) or ``"int8"`` (ORT)."""
        if kind == "eager":
            return EagerPredictor(self.eager_model(), **kw)
        if kind == "fp32":
            return OrtPredictor(self.fp32_path, name="ORT fp32", **kw)
        if kind == "int8":
            if self.int8_path is None:
                raise DeployError(f"bundle {self.folder} has no int8 model: export it with calibration data")
            return OrtPredictor(self.int8_path, name="ORT int8", **kw)
        raise ConfigError(f"unknown predictor kind {kind!r}: choose eager, fp32 or int8")

    def __repr__(self) -> str:
        sizes = self.info.get("sizes_mb", {})
        return (f"Bundle({self.folder}, task={self.task}, input={self.input_shape}, "
                f"fp32={sizes.get('fp32', '?')} MB, int8={sizes.get('int8', '?')} MB)")


def export_bundle(model: Any, folder: str | Path, *, task: str, train_images: Any, heldout_images: Any = None,
                  heldout_targets: Any = None, train_targets: Any = None, arch: dict[str, Any] | None = None,
                  class_names: list[str] | None = None, n_calibration: int = 32, seed: int = 0,
                  int8: bool = True, atol: float = DEFAULT_ATOL) -> Bundle:
    """Export ``model`` to a bundle folder: fp32 ONNX with parity, int8 calibrated on training images.

    Parity is checked on held-out images (real inputs). With ``heldout_targets`` the accuracy of eager,
    ORT fp32 and int8 is scored and the deltas recorded. ``arch`` (``{"name", "spatial_dims",
    "in_channels", "out_channels", "kwargs"}``, as for :func:`medimg_kernel.build_model`) lets the bundle
    rebuild the eager model later.
    """
    import torch

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    train = np.asarray(train_images, dtype=np.float32)
    held = train[:4] if heldout_images is None else np.asarray(heldout_images, dtype=np.float32)
    model = model.eval().cpu()
    meta = {"medimg.task": task, "medimg.class_names": json.dumps(class_names or [])}
    report = export_onnx(model, held[:1], folder / "model.onnx", parity_inputs=held[:8], atol=atol, metadata=meta)
    torch.save(model.state_dict(), folder / "weights.pt")
    info: dict[str, Any] = {
        "task": task, "input_shape": list(report.input_shape), "class_names": class_names or [],
        "arch": arch, "parity_max_abs_err": report.max_abs_err, "parity_atol": atol,
        "export_seconds": report.seconds, "opset": report.opset, "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "torch": torch.__version__,
    }
    paths = {"fp32": folder / "model.onnx"}
    if int8:
        calib = calibration_set(train, n_calibration, seed=seed, labels=train_targets)
        paths["int8"] = quantize_int8(folder / "model.onnx", calib, folder / "model.int8.onnx")
        info["calibration"] = {"n": len(calib), "seed": seed, "source": "training images",
                               "stratified": train_targets is not None}
    info["sizes_mb"] = {k: round(p.stat().st_size / 1e6, 4) for k, p in paths.items()}
    if heldout_targets is not None:
        acc = {"eager": evaluate(EagerPredictor(model), held, heldout_targets, task=task)}
        acc["fp32"] = evaluate(OrtPredictor(paths["fp32"]), held, heldout_targets, task=task)
        if "int8" in paths:
            acc["int8"] = evaluate(OrtPredictor(paths["int8"]), held, heldout_targets, task=task)
        info["accuracy"] = acc
        info["accuracy_delta_pt"] = {k: accuracy_delta(acc["eager"], v) for k, v in acc.items() if k != "eager"}
        info["n_heldout"] = len(held)
    (folder / BUNDLE_FILE).write_text(json.dumps(info, indent=2, default=str))
    return Bundle(folder, info)


def load_bundle(path: str | Path) -> Bundle:
    """Open a bundle folder (or its ``bundle.json``, or a bare ``.onnx`` file with default facts)."""
    path = Path(path)
    if path.is_file() and path.suffix == ".onnx":
        ort = OrtPredictor(path)
        shape = [int(s) if isinstance(s, int) else 1 for s in ort.input_shape[1:]]
        names = json.loads(ort.metadata.get("medimg.class_names", "[]"))
        info = {"task": ort.metadata.get("medimg.task", "segmentation"), "input_shape": shape,
                "class_names": names, "single_file": str(path)}
        b = Bundle(path.parent, info)
        if path.name != "model.onnx":
            raise DeployError(f"{path.name}: a bare ONNX file must be named model.onnx, or pass its bundle folder")
        return b
    if path.is_file() and path.name == BUNDLE_FILE:
        path = path.parent
    if not (path / BUNDLE_FILE).is_file():
        raise DeployError(f"{path} is not a deployment bundle (no {BUNDLE_FILE}): create one with "
                          f"medimg deploy export or mk.deploy.export_bundle")
    return Bundle(path, json.loads((path / BUNDLE_FILE).read_text()))


def synthetic_split(task: str, size: int, *, n_train: int = 96, n_heldout: int = 32, seed: int = 0,
                    in_channels: int = 1) -> dict[str, np.ndarray]:
    """Training and held-out images from the ``lesions2d`` generator (masks or labels as targets).

    The generator's images are synthetic: accuracy on them shows what export and int8 change, not how
    the model would do on patients.
    """
    from ..data.synthetic import generate

    d = generate("lesions2d", n_train + n_heldout, seed=seed, size=size, prevalence=0.7)
    x = np.repeat(d["images"], in_channels, axis=1) if in_channels > 1 else d["images"]
    y = d["masks"].astype(np.int64) if task == "segmentation" else d["labels"]
    return {"train_images": x[:n_train], "train_targets": y[:n_train],
            "heldout_images": x[n_train:], "heldout_targets": y[n_train:]}


def export_factory_model(name: str, folder: str | Path, *, spatial_dims: int = 2, in_channels: int = 1,
                         out_channels: int = 2, size: int = 64, weights: str | Path | None = None,
                         train_epochs: int = 0, n_calibration: int = 32, int8: bool = True, seed: int = 0,
                         **kwargs: Any) -> Bundle:
    """Build a factory model (optionally load ``weights`` or train it briefly on synthetic data) and bundle it.

    This is what ``medimg deploy export MODEL`` runs. Calibration and held-out images come from the
    synthetic ``lesions2d`` generator at ``size``.
    """
    from ..models import build_model, load_weights, model_info
    from ..train import Trainer, seed_everything

    if spatial_dims != 2:
        raise ConfigError("medimg deploy export builds 2D models from the synthetic lesion images; export a 3D "
                          "model from Python with mk.deploy.export_bundle(model, ..., train_images=volumes)")
    task = model_info(name).task
    seed_everything(seed)
    model = build_model(name, spatial_dims, in_channels, out_channels, **kwargs)
    if weights:
        load_weights(model, weights, strict=True)
    data = synthetic_split(task, size, seed=seed, in_channels=in_channels)
    if train_epochs > 0:
        Trainer(model, task=task, max_epochs=train_epochs, batch_size=16, lr=3e-3, progress=False, seed=seed,
                precision="fp32").fit((data["train_images"], data["train_targets"]))
    names = ["background", "lesion"] if task == "segmentation" else ["no lesion", "lesion"]
    arch = {"name": name, "spatial_dims": spatial_dims, "in_channels": in_channels, "out_channels": out_channels,
            "kwargs": kwargs}
    bundle = export_bundle(model, folder, task=task, arch=arch, class_names=names[:out_channels] if
                           out_channels == 2 else None, n_calibration=n_calibration, int8=int8, seed=seed, **data)
    bundle.info["trained"] = {"weights": str(weights) if weights else None, "train_epochs": train_epochs,
                              "data": "synthetic lesions2d"}
    (bundle.folder / BUNDLE_FILE).write_text(json.dumps(bundle.info, indent=2, default=str))
    return bundle
