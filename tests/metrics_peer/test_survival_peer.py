"""Harrell's and Uno's C-index against lifelines and scikit-survival: random cohorts, ties, censoring, scales."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from lifelines.utils import concordance_index
from sksurv.metrics import concordance_index_censored, concordance_index_ipcw
from sksurv.util import Surv

from medimg_kernel.fusion._errors import MetricUndefinedError
from medimg_kernel.fusion.survival.metrics import c_index_metric, harrell_c_index, uno_c_index


def _cohort(n=300, seed=0, censor_rate=1.0):
    rng = np.random.default_rng(seed)
    risk = rng.normal(size=n)
    t = rng.exponential(np.exp(-risk))
    c = rng.exponential(1.0 / censor_rate, n)
    return np.minimum(t, c), t <= c, risk + rng.normal(0, 0.5, n)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("scale", [1e-12, 1e-9, 1.0, 1e9])
def test_harrell_matches_lifelines_and_sksurv_at_any_scale(seed, scale):
    t, e, r = _cohort(seed=seed)
    kit = harrell_c_index(t, e, r * scale)
    assert kit == pytest.approx(concordance_index(t, -r * scale, e), abs=1e-12)  # lifelines: higher = longer
    assert kit == pytest.approx(concordance_index_censored(e, t, r)[0], abs=1e-12)
    assert kit > 0.6


def test_tiny_scale_no_longer_collapses_to_half():
    t, e, r = _cohort(seed=5)
    naive = concordance_index_censored(e, t, r * 1e-9)[0]  # scikit-survival's tied_tol=1e-8 ties them all
    assert naive == pytest.approx(0.5)
    assert harrell_c_index(t, e, r * 1e-9) == pytest.approx(concordance_index(t, -r, e), abs=1e-12)


def test_ties_in_risk_and_time_match_lifelines():
    t, e, r = _cohort(seed=6)
    tr, rr = np.round(t, 1), np.round(r, 0)  # many tied times and tied risks
    kit = harrell_c_index(tr, e, rr)
    assert kit == pytest.approx(concordance_index(tr, -rr, e), abs=1e-12)
    assert kit == pytest.approx(concordance_index_censored(e, tr, rr)[0], abs=1e-12)
    # scale-free ties: risks that differ by less than 1e-8 are still ordered
    close = 1.0 + 1e-10 * np.argsort(np.argsort(r))
    assert harrell_c_index(t, e, close) == pytest.approx(concordance_index(t, -r, e), abs=1e-12)


def test_heavy_censoring_matches_and_all_censored_is_refused():
    t, e, r = _cohort(n=400, seed=7, censor_rate=8.0)
    assert e.mean() < 0.2
    assert harrell_c_index(t, e, r) == pytest.approx(concordance_index(t, -r, e), abs=1e-12)
    with pytest.raises(MetricUndefinedError, match="censored"):
        harrell_c_index(t, np.zeros_like(e), r)
    with pytest.raises(MetricUndefinedError, match="NaN"):
        harrell_c_index(t, e, np.where(np.arange(len(r)) == 3, np.nan, r))


@pytest.mark.parametrize("scale", [1e-9, 1.0, 1e6])
def test_uno_matches_sksurv_and_is_scale_free(scale):
    t, e, r = _cohort(n=300, seed=8)
    tt, te, _ = _cohort(n=300, seed=9)
    tau = float(np.quantile(t, 0.8))
    kit = uno_c_index(t, e, r * scale, train_time=tt, train_event=te, tau=tau)
    ref = concordance_index_ipcw(Surv.from_arrays(te, tt), Surv.from_arrays(e, t), r, tau=tau)[0]
    assert kit == pytest.approx(ref, abs=1e-12)


def test_uno_without_tau_matches_sksurv_at_the_documented_default():
    t, e, r = _cohort(n=200, seed=10)
    tt, te, _ = _cohort(n=400, seed=11)
    tau = float(t[t < tt.max()].max())
    kit = uno_c_index(t, e, r, train_time=tt, train_event=te)
    ref = concordance_index_ipcw(Surv.from_arrays(te, tt), Surv.from_arrays(e, t), r, tau=tau)[0]
    assert kit == pytest.approx(ref, abs=1e-12)


def test_trainer_adapter_uses_float64_and_returns_nan_when_undefined():
    t, e, r = _cohort(n=100, seed=12)
    out = torch.tensor(r * 1e-9, dtype=torch.float64)
    targets = torch.tensor(np.c_[t, e.astype(float)], dtype=torch.float64)
    assert c_index_metric(out, targets) == pytest.approx(concordance_index(t, -r, e), abs=1e-12)
    targets[:, 1] = 0
    assert np.isnan(c_index_metric(out, targets))


def test_c_index_table_reports_the_reference_values():
    from medimg_kernel.fusion.survival.table import c_index_table

    t, e, r = _cohort(n=200, seed=13)
    tt, te, _ = _cohort(n=300, seed=14)
    tab = c_index_table({"model": r * 1e-9, "noise": np.random.default_rng(0).normal(size=200)}, t, e,
                        train_time=tt, train_event=te, n_boot=50)
    assert tab.loc["model", "harrell"] == pytest.approx(concordance_index(t, -r, e), abs=1e-12)
    assert tab.loc["model", "ci_low"] <= tab.loc["model", "harrell"] <= tab.loc["model", "ci_high"]
    tau = float(t[t < tt.max()].max())
    ref = concordance_index_ipcw(Surv.from_arrays(te, tt), Surv.from_arrays(e, t), r, tau=tau)[0]
    assert tab.loc["model", "uno"] == pytest.approx(ref, abs=1e-12)
    assert abs(tab.loc["noise", "harrell"] - 0.5) < 0.1
