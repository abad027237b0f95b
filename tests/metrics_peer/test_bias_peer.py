"""Subgroup metrics, rates, bootstrap AUC and the Youden threshold against scikit-learn and pandas."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import confusion_matrix, roc_auc_score, roc_curve

from medimg_kernel.explain import bias
from medimg_kernel.explain.calibration import calibration_errors


def _rates_ref(y, s, thr):
    tn, fp, fn, tp = confusion_matrix(y, s >= thr, labels=[0, 1]).ravel()
    return {"tpr": tp / (tp + fn), "fpr": fp / (fp + tn), "fnr": fn / (tp + fn), "tnr": tn / (tn + fp)}


@pytest.mark.parametrize("thr", [0.0, 0.3, 0.5, 0.99, 1.0])
def test_rates_at_threshold_match_confusion_matrix(thr):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    s = np.round(rng.random(300), 2)  # ties with the threshold included: score >= threshold is positive
    r = bias.rates_at_threshold(y, s, thr)
    for k, v in _rates_ref(y, s, thr).items():
        assert r[k] == pytest.approx(v, abs=1e-12), k
    ones = bias.rates_at_threshold(np.ones(10), s[:10], thr)  # all-one labels: FPR/TNR undefined
    assert math.isnan(ones["fpr"]) and math.isnan(ones["tnr"]) and not math.isnan(ones["tpr"])


@pytest.mark.parametrize("scale", [1e-9, 1.0, 1e9])
def test_bootstrap_auc_point_estimate_is_sklearns_at_any_scale(scale):
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 200)
    s = (rng.random(200) + 0.3 * y) * scale
    auc, lo, hi = bias.bootstrap_auc(y, s, n_boot=200)
    assert auc == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    assert lo <= auc <= hi
    assert all(math.isnan(v) for v in bias.bootstrap_auc(np.ones(8), s[:8]))


def _youden_brute_force(y, s):
    """Best J over every candidate 'score >= t' (each distinct score, and +inf = nobody positive)."""
    best_j, best_t = -np.inf, None
    for t in np.r_[np.inf, np.unique(s)[::-1]]:
        r = _rates_ref(y, s, t)
        j = r["tpr"] - r["fpr"]
        if j > best_j + 1e-15:
            best_j, best_t = j, t
    return best_t, best_j


@pytest.mark.parametrize("seed", range(4))
def test_youden_threshold_is_the_optimum(seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, 150)
    s = np.round(np.clip(rng.normal(0.4 + 0.2 * y, 0.2), 0, 1), 2)
    t = bias.youden_threshold(y, s)
    ref_t, ref_j = _youden_brute_force(y, s)
    r = bias.rates_at_threshold(y, s, t)
    assert r["tpr"] - r["fpr"] == pytest.approx(ref_j, abs=1e-12)
    assert t == ref_t
    fpr, tpr, _ = roc_curve(y, s)
    assert ref_j == pytest.approx((tpr - fpr).max(), abs=1e-12)


def test_youden_threshold_when_calling_nobody_positive_is_best():
    """An inverted score: every real threshold has J < 0, so the optimum is 'nobody positive' (inf)."""
    y = np.array([0, 0, 0, 1, 1, 1])
    s = np.array([0.9, 0.8, 1.0, 0.1, 0.2, 0.3])
    t = bias.youden_threshold(y, s)
    assert t == math.inf and _youden_brute_force(y, s)[0] == math.inf
    r = bias.rates_at_threshold(y, s, t)
    assert r["tpr"] == 0 and r["fpr"] == 0  # the old clamp to 1.0 called the score-1.0 negative positive
    assert bias.rates_at_threshold(y, s, 1.0)["fpr"] > 0


def test_youden_threshold_on_logit_scores_is_not_clamped():
    y = np.array([0, 0, 1, 1])
    s = np.array([-3.0, 1.0, 4.0, 7.0])  # logits: the optimum is 4.0, above 1
    assert bias.youden_threshold(y, s) == 4.0


def test_subgroup_metrics_match_pandas_groupby_and_keep_nan_ages_apart():
    rng = np.random.default_rng(2)
    n = 900
    y = rng.integers(0, 2, n)
    s = np.clip(rng.normal(0.4 + 0.2 * y, 0.2), 0, 1)
    age = rng.uniform(20, 90, n)
    age[rng.random(n) < 0.1] = np.nan  # 10 % missing ages
    sex = rng.choice(np.array(["F", "M", None], dtype=object), n, p=[0.45, 0.45, 0.1])
    tab = bias.subgroup_metrics(y, s, pd.DataFrame({"age": age, "sex": sex}), threshold=0.5, n_boot=50)
    band = pd.cut(age, [-np.inf, 40, 60, np.inf], right=False, labels=["<40", "40-59", "60+"])
    ref_age = pd.Series(band).astype(object).where(~np.isnan(age), "missing")
    ref_sex = pd.Series(sex).where(pd.notna(sex), "missing")
    for attr, groups in (("age", ref_age), ("sex", ref_sex)):
        sub = tab[tab.attribute == attr].set_index("group")
        assert set(sub.index) == set(groups.unique())
        for g, row in sub.iterrows():
            sel = (groups == g).to_numpy()
            assert row["n"] == sel.sum()
            assert row["auc"] == pytest.approx(roc_auc_score(y[sel], s[sel]), abs=1e-12)
            for k, v in _rates_ref(y[sel], s[sel], 0.5).items():
                assert row[k] == pytest.approx(v, abs=1e-12)
            assert row["ece"] == pytest.approx(calibration_errors(s[sel], y[sel], 10)["ece"], abs=1e-12)
    oldest = tab[(tab.attribute == "age") & (tab.group == "60+")].iloc[0]
    assert oldest["n"] == int((age >= 60).sum())  # NaN ages are not in the oldest band
    assert list(bias.age_bands([np.nan, 39.9, 40, 60])) == ["missing", "<40", "40-59", "60+"]


def test_subgroup_with_a_single_class_group_reports_undefined_auc():
    y = np.r_[np.ones(20), np.random.default_rng(3).integers(0, 2, 40)].astype(int)
    s = np.random.default_rng(4).random(60)
    site = np.r_[["A"] * 20, ["B"] * 40]
    tab = bias.subgroup_metrics(y, s, {"site": site}, n_boot=20).set_index("group")
    assert math.isnan(tab.loc["A", "auc"]) and math.isnan(tab.loc["A", "fpr"])
    assert tab.loc["B", "auc"] == pytest.approx(roc_auc_score(y[20:], s[20:]), abs=1e-12)
