"""Cox loss, calibration fits, bootstrap intervals and subgroup-gap tests against lifelines, SciPy and scikit-learn."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.optimize import minimize_scalar
from scipy.stats import bootstrap, chi2_contingency

from medimg_kernel.explain import bias
from medimg_kernel.explain.calibration import PlattScaler, TemperatureScaler, to_probabilities
from medimg_kernel.fusion._errors import MetricUndefinedError
from medimg_kernel.fusion.survival.bootstrap import bootstrap_ci
from medimg_kernel.fusion.survival.loss import cox_ph_loss


def _breslow_nll(eta, t, e):
    """Negative Breslow partial log-likelihood, written out pair by pair."""
    return -sum(eta[i] - np.log(np.exp(eta[t >= t[i]]).sum()) for i in range(len(t)) if e[i])


def test_cox_loss_equals_lifelines_partial_likelihood():
    from lifelines import CoxPHFitter

    rng = np.random.default_rng(0)
    n = 150
    x = rng.normal(size=(n, 2))
    t = rng.exponential(np.exp(-(x @ [0.8, -0.5])))
    c = rng.exponential(1.5, n)
    df = pd.DataFrame({"x0": x[:, 0], "x1": x[:, 1], "T": np.minimum(t, c), "E": (t <= c).astype(int)})
    cph = CoxPHFitter(penalizer=0.0).fit(df, "T", "E")  # distinct times: Efron = Breslow
    eta = torch.tensor(x @ cph.params_.to_numpy())
    loss = cox_ph_loss(eta, torch.tensor(df["T"].to_numpy()), torch.tensor(df["E"].to_numpy()), reduction="sum")
    assert float(loss) == pytest.approx(-cph.log_likelihood_, rel=1e-8)
    mean = cox_ph_loss(eta, torch.tensor(df["T"].to_numpy()), torch.tensor(df["E"].to_numpy()))
    assert float(mean) == pytest.approx(-cph.log_likelihood_ / df["E"].sum(), rel=1e-8)


@pytest.mark.parametrize("scale", [1e-6, 1.0, 50.0])
def test_cox_loss_breslow_ties_and_scales(scale):
    rng = np.random.default_rng(1)
    t = np.round(rng.exponential(1.0, 80), 1)  # many tied times
    e = (rng.random(80) < 0.3).astype(float)  # heavy censoring
    eta = rng.normal(size=80) * scale
    kit = cox_ph_loss(torch.tensor(eta), torch.tensor(t), torch.tensor(e), reduction="sum")
    assert float(kit) == pytest.approx(_breslow_nll(eta, t, e), rel=1e-9)
    assert float(cox_ph_loss(torch.tensor(eta), torch.tensor(t), torch.zeros(80))) == 0.0  # no events


def test_temperature_scaling_minimises_the_nll_like_scipy():
    rng = np.random.default_rng(2)
    y = rng.integers(0, 3, 600)
    z = 3.0 * (rng.normal(size=(600, 3)) + 1.0 * np.eye(3)[y])  # over-confident logits
    ts = TemperatureScaler().fit(z, y)

    def nll(temp):
        p = to_probabilities(z, temp)
        return -np.log(p[np.arange(len(y)), y]).mean()

    ref = minimize_scalar(nll, bounds=(0.05, 20), method="bounded", options={"xatol": 1e-8})
    assert ts.temperature == pytest.approx(ref.x, rel=1e-4)


def test_platt_scaling_equals_unpenalised_logistic_regression():
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(3)
    z = rng.normal(0, 2, 800)
    y = (rng.random(800) < 1 / (1 + np.exp(-(0.5 * z - 1.0)))).astype(int)  # shifted and too confident
    ps = PlattScaler().fit(z, y)
    lr = LogisticRegression(C=np.inf, tol=1e-10, max_iter=1000).fit(z[:, None], y)
    assert ps.a == pytest.approx(lr.coef_[0, 0], rel=1e-4) and ps.b == pytest.approx(lr.intercept_[0], abs=1e-4)
    np.testing.assert_allclose(ps.transform(z), lr.predict_proba(z[:, None])[:, 1], atol=1e-5)


def test_bootstrap_ci_agrees_with_scipy_percentile_bootstrap():
    rng = np.random.default_rng(4)
    a = rng.normal(1.0, 2.0, 300)
    b = rng.normal(0.0, 1.0, 300)

    def metric(u, v):
        return float(np.mean(u - v))

    kit = bootstrap_ci(metric, a, b, n_boot=2000, seed=0)
    ref = bootstrap((a, b), lambda u, v: np.mean(u - v), paired=True, n_resamples=2000, method="percentile",
                    confidence_level=0.95, rng=np.random.default_rng(1))
    assert kit.estimate == pytest.approx(metric(a, b))
    width = ref.confidence_interval.high - ref.confidence_interval.low
    assert kit.low == pytest.approx(ref.confidence_interval.low, abs=0.08 * width)
    assert kit.high == pytest.approx(ref.confidence_interval.high, abs=0.08 * width)

    def needs_two_events(u):  # like a C-index that needs events: undefined on ~40 % of these resamples
        if u.sum() < 2:
            raise MetricUndefinedError("fewer than two events")
        return float(u.mean())

    with pytest.raises(MetricUndefinedError, match="bootstrap resamples"):
        bootstrap_ci(needs_two_events, np.r_[np.zeros(38), np.ones(2)])


@pytest.mark.parametrize("k1,n1,k2,n2", [(30, 100, 45, 100), (5, 20, 18, 25), (0, 10, 0, 12), (3, 50, 40, 60)])
def test_two_proportion_test_equals_chi_square_without_correction(k1, n1, k2, n2):
    p = bias._two_proportion_p(k1, n1, k2, n2)
    if k1 + k2 == 0:
        assert p == 1.0  # no events at all: no evidence of a gap
        return
    ref = chi2_contingency([[k1, n1 - k1], [k2, n2 - k2]], correction=False).pvalue
    assert p == pytest.approx(ref, rel=1e-9)


def test_max_gaps_match_pandas():
    rng = np.random.default_rng(5)
    n = 1200
    site = rng.choice(["A", "B", "C"], n)
    y = rng.integers(0, 2, n)
    s = np.clip(rng.normal(0.35 + 0.3 * y * (site != "C"), 0.2), 0, 1)
    tab = bias.subgroup_metrics(y, s, {"site": site}, n_boot=50)
    gaps = bias.max_gaps(tab).set_index("attribute")
    sub = tab[tab.attribute == "site"]
    for m in ("auc", "tpr", "fpr", "fnr", "ece"):
        assert gaps.loc["site", f"{m}_gap"] == pytest.approx(sub[m].max() - sub[m].min(), abs=1e-12)
    assert gaps.loc["site", "worst_auc_group"] == "C"
    lo, hi = sub.loc[sub.tpr.idxmin()], sub.loc[sub.tpr.idxmax()]
    npos = lambda r: round(r.n * r.prevalence)  # noqa: E731
    ref = chi2_contingency([[round(lo.tpr * npos(lo)), npos(lo) - round(lo.tpr * npos(lo))],
                            [round(hi.tpr * npos(hi)), npos(hi) - round(hi.tpr * npos(hi))]], correction=False)
    assert gaps.loc["site", "tpr_gap_p"] == pytest.approx(ref.pvalue, rel=1e-6)
