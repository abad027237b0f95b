"""ONNX export: one self-contained file, parity with eager torch, clear errors for what cannot export."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from medimg_kernel.deploy import EagerPredictor, OrtPredictor, check_parity, export_onnx
from medimg_kernel.errors import ExportError, ParityError


def test_bundle_is_self_contained_and_matches_eager(unet_bundle, lesions):
    files = sorted(p.name for p in unet_bundle.folder.iterdir())
    assert "model.onnx" in files and "model.int8.onnx" in files
    assert not any(f.endswith(".data") for f in files), files  # weights inside the .onnx
    assert unet_bundle.info["parity_max_abs_err"] <= 1e-4
    x = lesions[0][28:]  # real held-out images, a batch of 12 (the batch axis is dynamic)
    eager = EagerPredictor(unet_bundle.eager_model()).predict(x)
    ort = OrtPredictor(unet_bundle.fp32_path).predict(x)
    assert ort.shape == eager.shape == (12, 2, 32, 32)
    assert np.abs(ort - eager).max() <= 1e-4


def test_parity_above_tolerance_is_an_error(unet_bundle, lesions):
    other = unet_bundle.eager_model()
    with torch.no_grad():
        next(other.parameters()).add_(0.05)  # the deployed file no longer matches this model
    with pytest.raises(ParityError, match="max \\|err\\|"):
        check_parity(other, unet_bundle.fp32_path, lesions[0][:4])
    err = check_parity(other, unet_bundle.fp32_path, lesions[0][:4], raise_error=False)
    assert err > 1e-4


class Branchy(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 1, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        if y.mean() > 0:  # data-dependent control flow
            return y * 2
        return y


class EigBlock(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + torch.linalg.eig(x[0, 0])[0].real.sum()  # no ONNX translation


class Wrapper(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = torch.nn.Conv2d(1, 1, 1)
        self.odd = EigBlock()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.odd(self.stem(x))


def test_dynamic_control_flow_names_module_and_op(tmp_path):
    with pytest.raises(ExportError) as exc:
        export_onnx(Branchy(), np.zeros((1, 1, 8, 8), np.float32), tmp_path / "b.onnx")
    msg = str(exc.value)
    assert "\n" not in msg
    assert "Branchy" in msg and "data-dependent control flow" in msg and "y.mean() > 0" in msg
    assert "torch.cond" in msg  # the fix
    assert not (tmp_path / "b.onnx").exists()


def test_unsupported_op_names_submodule_and_op(tmp_path):
    with pytest.raises(ExportError) as exc:
        export_onnx(Wrapper(), np.ones((1, 1, 4, 4), np.float32), tmp_path / "w.onnx")
    msg = str(exc.value)
    assert "\n" not in msg
    assert "odd (EigBlock)" in msg and "aten.linalg_eig" in msg and "custom_translation_table" in msg


@pytest.mark.slow
def test_classifier_and_3d_unet_export(tmp_path):
    import medimg_kernel as mk

    cnn = mk.build_model("simplecnn", 2, 1, 3)
    rep = export_onnx(cnn, np.random.default_rng(0).random((2, 1, 32, 32), dtype=np.float32), tmp_path / "c.onnx")
    assert rep.max_abs_err <= 1e-4 and rep.input_shape == (1, 32, 32)
    assert OrtPredictor(rep.path).predict(np.zeros((5, 1, 32, 32), np.float32)).shape == (5, 3)
    net3d = mk.build_model("tinyunet", 3, 1, 2)
    vol = np.random.default_rng(1).random((1, 1, 16, 16, 16), dtype=np.float32)
    rep3 = export_onnx(net3d, vol, tmp_path / "u3.onnx")
    assert rep3.max_abs_err <= 1e-4
    assert not list(tmp_path.glob("*.data"))
