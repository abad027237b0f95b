"""calibration_errors / reliability_table against torchmetrics' CalibrationError and scikit-learn."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn.calibration import calibration_curve
from torchmetrics.functional.classification import binary_calibration_error, multiclass_calibration_error
from torchmetrics.functional.classification.calibration_error import _ce_compute

from medimg_kernel.errors import ConfigError
from medimg_kernel.explain.calibration import calibration_errors, reliability_table

NORMS = {"ece": "l1", "mce": "max", "rmsce": "l2"}


def _tm_binary(p, y, n_bins):
    pt, yt = torch.tensor(p, dtype=torch.float64), torch.tensor(y)
    return {k: float(binary_calibration_error(pt, yt, n_bins=n_bins, norm=v)) for k, v in NORMS.items()}


def _tm_exact_edges(conf, correct, n_bins):
    """torchmetrics' own binning with the kit's stated edges: k/n exact, the top bin closed at 1."""
    edges = torch.tensor(np.r_[np.arange(n_bins) / n_bins, np.nextafter(1.0, 2.0)], dtype=torch.float64)
    c, a = torch.tensor(conf, dtype=torch.float64), torch.tensor(correct, dtype=torch.float64)
    return {k: float(_ce_compute(c, a, edges, norm=v)) for k, v in NORMS.items()}


def _table_ece(table, n):
    ok = table["count"] > 0
    return float((table["count"][ok] / n * (table["accuracy"][ok] - table["confidence"][ok]).abs()).sum())


@pytest.mark.parametrize("seed,n_bins", [(0, 15), (1, 10), (2, 7), (3, 1)])
def test_binary_random_equals_torchmetrics(seed, n_bins):
    rng = np.random.default_rng(seed)
    p = rng.beta(2, 2, 1000)
    y = (rng.random(1000) < p**1.5).astype(int)
    kit, ref = calibration_errors(p, y, n_bins), _tm_binary(p, y, n_bins)
    for k in NORMS:
        assert kit[k] == pytest.approx(ref[k], abs=1e-12), k
    t = reliability_table(p, y, n_bins)
    assert len(t) == n_bins and t["count"].sum() == len(p)
    assert _table_ece(t, len(p)) == pytest.approx(kit["ece"], abs=1e-12)
    # scikit-learn's calibration_curve: the same per-bin means on the non-empty bins
    prob_true, prob_pred = calibration_curve(y, p, n_bins=n_bins, strategy="uniform")
    ok = t["count"] > 0
    np.testing.assert_allclose(t.loc[ok, "accuracy"], prob_true, atol=1e-12)
    np.testing.assert_allclose(t.loc[ok, "confidence"], prob_pred, atol=1e-12)


@pytest.mark.parametrize("seed", [0, 1])
def test_multiclass_random_equals_torchmetrics(seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 4, 800)
    z = rng.normal(0, 1.5, (800, 4)) + np.eye(4)[y]
    p = torch.softmax(torch.tensor(z), 1).numpy()
    kit = calibration_errors(p, y)
    pt, yt = torch.tensor(p), torch.tensor(y)
    for k, v in NORMS.items():  # torchmetrics bins top-label confidences in float32: agree to ~1e-7
        ref = float(multiclass_calibration_error(pt, yt, num_classes=4, n_bins=15, norm=v))
        assert kit[k] == pytest.approx(ref, abs=1e-6), k
    assert _table_ece(reliability_table(p, y), len(y)) == pytest.approx(kit["ece"], abs=1e-12)


@pytest.mark.parametrize("n_trees,n_bins", [(10, 10), (100, 10), (30, 15), (20, 5), (50, 20)])
def test_forest_grid_on_bin_edges(n_trees, n_bins):
    """Random-forest votes k/n_trees sit exactly on bin edges. float32 moved some into the bin below; the kit
    bins in float64 with exact edges k/n_bins (3/10 is the double 0.3, not linspace's 0.30000000000000004)."""
    rng = np.random.default_rng(n_trees + n_bins)
    p = rng.integers(0, n_trees + 1, 2000) / n_trees  # includes 0 and exactly 1
    y = (rng.random(2000) < p).astype(int)
    kit = calibration_errors(p, y, n_bins)
    ref = _tm_exact_edges(p, y, n_bins)
    for k in NORMS:
        assert kit[k] == pytest.approx(ref[k], abs=1e-12), k
    t = reliability_table(p, y, n_bins)
    assert _table_ece(t, len(p)) == pytest.approx(kit["ece"], abs=1e-12)
    # each probability lands in the bin whose exact rational interval [k/n, (k+1)/n) holds it
    votes = np.round(p * n_trees).astype(int)
    expect = np.minimum(votes * n_bins // n_trees, n_bins - 1)
    np.testing.assert_array_equal(t["count"], np.bincount(expect, minlength=n_bins))
    # the public torchmetrics function agrees once exact 1.0s (its extra bin) are left out and its
    # float64 linspace edges are exact (true for 5 bins)
    if n_bins == 5:
        keep = p < 1
        kit2, ref2 = calibration_errors(p[keep], y[keep], 5), _tm_binary(p[keep], y[keep], 5)
        for k in NORMS:
            assert kit2[k] == pytest.approx(ref2[k], abs=1e-12), k


def test_probability_one_convention_top_bin_closed():
    """The kit's documented difference: p = 1 joins the top bin (torchmetrics gives it a bin of its own)."""
    p = np.array([0.95, 1.0, 1.0, 0.2])
    y = np.array([0, 1, 1, 0])
    t = reliability_table(p, y, n_bins=10)
    assert t["count"].iloc[-1] == 3 and t["count"].iloc[2] == 1
    top = abs(2 / 3 - (0.95 + 2) / 3)
    assert calibration_errors(p, y, 10)["ece"] == pytest.approx(3 / 4 * top + 1 / 4 * 0.2, abs=1e-12)
    assert _tm_binary(p, y, 10)["ece"] == pytest.approx(1 / 4 * 0.95 + 1 / 4 * 0.2, abs=1e-12)


def test_edge_cases():
    # all-one labels, perfectly confident: zero error; constant prediction
    assert calibration_errors(np.ones(20), np.ones(20))["ece"] == pytest.approx(0.0)
    p, y = np.full(50, 0.3), np.r_[np.ones(15), np.zeros(35)].astype(int)
    e = calibration_errors(p, y, 10)
    assert e == pytest.approx({"ece": 0.0, "mce": 0.0, "rmsce": 0.0}, abs=1e-12)
    assert e["ece"] == pytest.approx(_tm_exact_edges(p, y, 10)["ece"], abs=1e-12)
    # empty input: undefined
    assert all(math.isnan(v) for v in calibration_errors(np.zeros(0), np.zeros(0)).values())
    # tiny probabilities keep their float64 values (float32 would round 1e-40 to 0)
    tiny = np.array([1e-40, 2e-40, 0.99, 0.98])
    t = reliability_table(tiny, np.array([0, 0, 1, 1]))
    assert t["confidence"].iloc[0] == pytest.approx(1.5e-40, rel=1e-12)
    with pytest.raises(ConfigError, match="probabilities"):
        calibration_errors(np.array([0.2, np.nan]), np.array([0, 1]))
    with pytest.raises(ConfigError, match="n_bins"):
        calibration_errors(np.array([0.2, 0.4]), np.array([0, 1]), n_bins=0)
