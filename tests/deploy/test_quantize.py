"""Static int8: calibration drawn from training data, a smaller file, accuracy checked on held-out data."""

from __future__ import annotations

import numpy as np
import pytest

from medimg_kernel.deploy import OrtPredictor, calibration_set, dice_score, evaluate, quantize_int8
from medimg_kernel.errors import ConfigError, DeployError


def test_calibration_set_is_stratified_and_reproducible(lesions):
    x, m, y = lesions
    a = calibration_set(x, 8, seed=1, labels=y)
    b = calibration_set(x, 8, seed=1, labels=y)
    assert a.shape == (8, 1, 32, 32) and np.array_equal(a, b)
    # both classes present: find which images were drawn
    drawn = [int(np.flatnonzero((x == img).all(axis=(1, 2, 3)))[0]) for img in a]
    assert set(y[drawn]) == {0, 1}
    seg = calibration_set(x, 6, seed=0, labels=m)  # masks: strata with / without foreground
    assert len(seg) == 6
    assert len(calibration_set(x, 1000)) == len(x)
    with pytest.raises(ConfigError):
        calibration_set(np.zeros((0, 1, 4, 4)), 4)


def test_int8_bundle_smaller_and_accuracy_recorded(unet_bundle):
    info = unet_bundle.info
    assert info["calibration"] == {"n": 16, "seed": 0, "source": "training images", "stratified": True}
    assert info["sizes_mb"]["int8"] < info["sizes_mb"]["fp32"]
    assert set(info["accuracy"]) == {"eager", "fp32", "int8"}
    assert abs(info["accuracy_delta_pt"]["fp32"]["dice_pt"]) < 0.5  # fp32 ONNX = eager up to a stray tie
    # the int8 graph really is quantised: QuantizeLinear / DequantizeLinear nodes around int8 weights
    import onnx

    ops = {n.op_type for n in onnx.load(str(unet_bundle.int8_path)).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops


def test_int8_keeps_accuracy_of_a_model_with_known_answer(threshold_bundle, tmp_path):
    from medimg_kernel.data.synthetic import generate

    d = generate("lesions2d", 24, seed=9, size=64, contrast=0.6)
    truth = (d["images"][:, 0] > 0.5).astype(np.int64)  # what the threshold model must output
    fp32 = OrtPredictor(threshold_bundle.fp32_path)
    assert evaluate(fp32, d["images"], truth[:, None], task="segmentation")["dice"] == pytest.approx(1.0)
    q = quantize_int8(threshold_bundle.fp32_path, d["images"][:12], tmp_path / "thr.int8.onnx")
    dice8 = evaluate(OrtPredictor(q), d["images"][12:], truth[12:, None], task="segmentation")["dice"]
    assert dice8 > 0.95  # int8 rounding moves a few boundary pixels only


def test_quantize_errors(tmp_path):
    with pytest.raises(DeployError, match="export it first"):
        quantize_int8(tmp_path / "missing.onnx", np.zeros((1, 1, 4, 4)))


def test_dice_and_classification_metrics():
    p = np.array([[0, 1, 1], [0, 0, 2]])
    t = np.array([[0, 1, 0], [0, 0, 2]])
    assert dice_score(p, t, 3) == pytest.approx(np.mean([2 * 1 / 3, 1.0]))

    class Fixed:
        name = "fixed"

        def predict(self, x):
            return np.stack([0.5 - x[:, 0, 0, 0], x[:, 0, 0, 0] - 0.5], axis=1)

    x = np.array([0.1, 0.9, 0.8, 0.2, 0.7], np.float32).reshape(5, 1, 1, 1)
    res = evaluate(Fixed(), x, np.array([0, 1, 1, 0, 0]), task="classification")
    assert res["accuracy"] == pytest.approx(0.8) and res["auc"] == pytest.approx(1.0)


def test_size_breakdown_splits_weights_from_the_graph(unet_bundle):
    from medimg_kernel.deploy import size_breakdown

    fp32, int8 = size_breakdown(unet_bundle.fp32_path), size_breakdown(unet_bundle.int8_path)
    assert fp32["file_bytes"] == unet_bundle.fp32_path.stat().st_size
    assert fp32["weight_bytes"] >= 4 * fp32["n_weights"] * 0.99  # fp32: 4 bytes per weight
    assert 3.0 < fp32["weight_bytes"] / int8["weight_bytes"] < 4.5  # int8 weights, fp32 scales and biases
    assert int8["other_bytes"] > fp32["other_bytes"]  # QDQ nodes add graph, they never remove it
