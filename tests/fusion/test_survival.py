"""Cox loss, concordance metrics vs scikit-survival and lifelines, KM plots, bootstrap, bad input."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import torch

from medimg_kernel.errors import ShapeMismatchError
from medimg_kernel.fusion import (
    CoxPHLoss,
    MetricUndefinedError,
    bootstrap_ci,
    c_index_metric,
    c_index_table,
    cox_ph_loss,
    harrell_c_index,
    plot_km_risk_groups,
    risk_groups,
    survival_targets,
    uno_c_index,
)


def _data(n=200, seed=0, ties=True):
    rng = np.random.default_rng(seed)
    risk = rng.normal(size=n)
    t = rng.exponential(np.exp(-risk))
    if ties:
        t = np.round(t, 1) + 0.1  # many tied times
    event = (rng.random(n) < 0.7).astype(int)
    return t, event, risk + rng.normal(0, 1, n)


def _breslow_reference(eta, t, e):
    total = 0.0
    for i in range(len(t)):
        if e[i]:
            total -= eta[i] - np.log(np.exp(eta[t >= t[i]]).sum())
    return total / e.sum()


def test_cox_loss_matches_breslow_definition_with_ties():
    t, e, eta = _data(60)
    loss = cox_ph_loss(torch.tensor(eta), torch.tensor(t), torch.tensor(e))
    assert float(loss) == pytest.approx(_breslow_reference(eta, t, e), rel=1e-9)
    summed = cox_ph_loss(torch.tensor(eta), torch.tensor(t), torch.tensor(e), reduction="sum")
    assert float(summed) == pytest.approx(_breslow_reference(eta, t, e) * e.sum(), rel=1e-9)


def test_cox_loss_fits_same_coefficients_as_scikit_survival():
    from sksurv.linear_model import CoxPHSurvivalAnalysis
    from sksurv.util import Surv

    rng = np.random.default_rng(3)
    x = rng.normal(size=(300, 3))
    t = np.round(rng.exponential(np.exp(-(x @ [0.8, -0.5, 0.0]))), 1) + 0.1
    e = rng.random(300) < 0.75
    ref = CoxPHSurvivalAnalysis(ties="breslow").fit(x, Surv.from_arrays(e, t)).coef_
    beta = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([beta], max_iter=200, tolerance_grad=1e-10, line_search_fn="strong_wolfe")
    xt, tt, et = torch.tensor(x), torch.tensor(t), torch.tensor(e, dtype=torch.float64)

    def closure():
        opt.zero_grad()
        loss = cox_ph_loss(xt @ beta, tt, et)
        loss.backward()
        return loss

    opt.step(closure)
    np.testing.assert_allclose(beta.detach().numpy(), ref, atol=1e-4)


def test_cox_loss_edge_cases():
    risk = torch.randn(5, 1, requires_grad=True)
    zero = cox_ph_loss(risk, torch.arange(5.0), torch.zeros(5))
    zero.backward()
    assert zero.item() == 0.0 and risk.grad is not None
    with pytest.raises(ShapeMismatchError, match="out_features=1"):
        cox_ph_loss(torch.randn(5, 2), torch.arange(5.0), torch.ones(5))
    with pytest.raises(ShapeMismatchError, match=r"\(N, 2\)"):
        CoxPHLoss()(torch.randn(5, 1), torch.ones(5))
    y = survival_targets([1.0, 2.0], [1, 0])
    assert y.shape == (2, 2) and y.dtype == torch.float32
    assert float(CoxPHLoss()(torch.tensor([[0.3], [0.1]]), y)) == pytest.approx(
        -(0.3 - np.log(np.exp(0.3) + np.exp(0.1)))
    )


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_harrell_agrees_with_scikit_survival_and_lifelines(seed):
    from lifelines.utils import concordance_index
    from sksurv.metrics import concordance_index_censored

    t, e, r = _data(150, seed)
    r = np.round(r, 1)  # tied risks count 0.5 in all three
    ours = harrell_c_index(t, e, r)
    assert ours == pytest.approx(concordance_index_censored(e.astype(bool), t, r)[0], abs=1e-12)
    assert ours == pytest.approx(concordance_index(t, -r, e), abs=1e-9)
    assert harrell_c_index(t, e, -r) == pytest.approx(1 - ours, abs=0.02)


def test_uno_agrees_with_scikit_survival():
    from sksurv.metrics import concordance_index_ipcw
    from sksurv.util import Surv

    t_tr, e_tr, _ = _data(300, 5, ties=False)
    t, e, r = _data(120, 6, ties=False)
    tau = float(np.quantile(t, 0.8))
    ours = uno_c_index(t, e, r, train_time=t_tr, train_event=e_tr, tau=tau)
    ref = concordance_index_ipcw(
        Surv.from_arrays(e_tr.astype(bool), t_tr), Surv.from_arrays(e.astype(bool), t), r, tau=tau
    )[0]
    assert ours == pytest.approx(ref, abs=1e-12)
    assert 0.5 < uno_c_index(t, e, r, train_time=t_tr, train_event=e_tr) < 1.0  # default tau


def test_metrics_refuse_undefined_data():
    t, e, r = _data(50)
    with pytest.raises(MetricUndefinedError, match="all 50 subjects are censored"):
        harrell_c_index(t, np.zeros(50), r)
    with pytest.raises(MetricUndefinedError, match="3 subject"):
        harrell_c_index(t[:3], e[:3], r[:3])
    with pytest.raises(MetricUndefinedError, match="comparable"):
        harrell_c_index(np.ones(20), np.ones(20), r[:20])
    with pytest.raises(MetricUndefinedError, match="NaN"):
        harrell_c_index(t, e, np.where(np.arange(50) == 3, np.nan, r))
    with pytest.raises(MetricUndefinedError, match="0/1"):
        harrell_c_index(t, e * 2, r)
    with pytest.raises(ShapeMismatchError):
        harrell_c_index(t, e, r[:-1])
    with pytest.raises(MetricUndefinedError, match="censored"):
        uno_c_index(t, e, r, train_time=t, train_event=np.zeros(50))
    assert np.isnan(c_index_metric(torch.tensor(r), torch.tensor(np.stack([t, np.zeros(50)], 1))))
    assert c_index_metric(torch.tensor(r), torch.tensor(np.stack([t, e], 1))) == harrell_c_index(t, e, r)


def test_bootstrap_ci():
    t, e, r = _data(200)
    res = bootstrap_ci(harrell_c_index, t, e, r, n_boot=100, seed=1)
    assert res.low < res.estimate < res.high and res.high - res.low < 0.2
    assert res == bootstrap_ci(harrell_c_index, t, e, r, n_boot=100, seed=1)
    assert str(res).startswith(f"{res.estimate:.3f}")
    e_rare = np.zeros(200, int)
    e_rare[np.argmin(t)] = 1  # one event: about 37% of resamples have none
    with pytest.raises(MetricUndefinedError, match="bootstrap"):
        bootstrap_ci(lambda a, b, c: harrell_c_index(a, b, c), t, e_rare, r, n_boot=50)


def test_c_index_table():
    t, e, r = _data(150)
    tab = c_index_table(
        {"model": r, "random": np.random.default_rng(99).normal(size=150)},
        t,
        e,
        train_time=t,
        train_event=e,
        n_boot=50,
    )
    assert list(tab.columns) == ["harrell", "ci_low", "ci_high", "uno", "note"]
    assert tab.loc["model", "harrell"] > tab.loc["random", "harrell"]
    assert (tab["ci_low"] <= tab["harrell"]).all() and (tab["harrell"] <= tab["ci_high"]).all()
    bad = c_index_table({"m": r[:5]}, t[:5], e[:5], n_boot=10)
    assert np.isnan(bad.loc["m", "harrell"]) and "5 subject" in bad.loc["m", "note"]


def test_risk_groups_and_km_plot():
    assert risk_groups([0.1, 0.5, 0.9, 0.3]).tolist() == [0, 1, 1, 0]
    assert risk_groups([0.1, 0.5, 0.9], cutoffs=[0.4, 0.8]).tolist() == [0, 1, 2]
    t, e, r = _data(200, ties=False)
    fig = plot_km_risk_groups(t, e, r, title="test")
    ax = fig.axes[0]
    labels = [line.get_label() for line in ax.get_lines()]
    assert any("low risk" in lab for lab in labels) and any("high risk" in lab for lab in labels)
    from lifelines.statistics import logrank_test

    g = risk_groups(r)  # the plot's two groups, split at the median risk
    ref = logrank_test(t[g == 0], t[g == 1], e[g == 0], e[g == 1]).p_value  # the reference library's test
    assert fig.logrank_p == pytest.approx(ref, rel=1e-6) and ref < 0.05
    fig3 = plot_km_risk_groups(t, e, r, n_groups=3, at_risk=False)
    assert sum("risk group" in line.get_label() for line in fig3.axes[0].get_lines()) == 3
    with pytest.raises(MetricUndefinedError):
        plot_km_risk_groups(t, np.zeros_like(e), r)
