"""Subgroup metrics, calibration, temperature scaling, and the spurious-cue model caught by both."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

import medimg_kernel as mk
from medimg_kernel.errors import ConfigError, ShapeMismatchError
from medimg_kernel.explain import bias, calibration, checks


def _cohort(n=2000, seed=0):
    """Scores that are informative for site A and pure noise for site B."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    site = np.where(np.arange(n) % 2 == 0, "A", "B")
    sex = rng.choice(["F", "M"], n)
    age = rng.uniform(20, 90, n)
    good = 1 / (1 + np.exp(-(3 * (y - 0.5) + rng.normal(0, 1, n))))
    noise = rng.uniform(0, 1, n)
    score = np.where(site == "A", good, noise)
    return y, score, pd.DataFrame({"sex": sex, "age": age, "site": site})


def test_rates_and_bootstrap_auc():
    y = np.array([1, 1, 1, 1, 0, 0, 0, 0])
    s = np.array([0.9, 0.8, 0.7, 0.2, 0.6, 0.1, 0.1, 0.1])
    r = bias.rates_at_threshold(y, s, 0.5)
    assert r == {"tpr": 0.75, "fpr": 0.25, "fnr": 0.25, "tnr": 0.75}
    auc, lo, hi = bias.bootstrap_auc(y, s, n_boot=200)
    assert auc == pytest.approx(15 / 16) and lo <= auc <= hi
    assert np.isnan(bias.bootstrap_auc(np.ones(5), np.random.rand(5))[0])
    # the vectorised bootstrap agrees with scikit-learn on a resample
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    yy, ss = rng.integers(0, 2, 300), rng.random(300).round(2)
    a1, lo1, hi1 = bias.bootstrap_auc(yy, ss, n_boot=2000, seed=1)
    boots = [roc_auc_score(yy[i], ss[i]) for i in rng.integers(0, 300, (300, 300))]
    assert a1 == pytest.approx(roc_auc_score(yy, ss))
    assert lo1 == pytest.approx(np.quantile(boots, 0.025), abs=0.015)
    assert hi1 == pytest.approx(np.quantile(boots, 0.975), abs=0.015)
    assert list(bias.age_bands([25, 40, 59, 60, 80])) == ["<40", "40-59", "40-59", "60+", "60+"]
    assert 0.2 < bias.youden_threshold(y, s) <= 0.7


def test_subgroup_metrics_find_the_planted_gap_and_only_it():
    y, s, meta = _cohort()
    tab = bias.subgroup_metrics(y, s, meta, threshold=0.5, n_boot=200)
    assert list(tab.columns[:4]) == ["attribute", "group", "n", "prevalence"]
    assert set(tab["attribute"]) == {"overall", "sex", "age", "site"}
    assert set(tab[tab.attribute == "age"]["group"]) == {"<40", "40-59", "60+"}  # continuous age is banded
    a = tab[(tab.attribute == "site") & (tab.group == "A")].iloc[0]
    b = tab[(tab.attribute == "site") & (tab.group == "B")].iloc[0]
    assert a.auc > 0.9 and abs(b.auc - 0.5) < 0.06 and a.auc_lo > b.auc_hi
    gaps = bias.max_gaps(tab).set_index("attribute")
    assert gaps.loc["site", "auc_gap"] > 0.35 and gaps.loc["site", "worst_auc_group"] == "B"
    assert gaps.loc["site", "auc_ci_separated"]
    assert gaps.loc["sex", "auc_gap"] < 0.1
    flags = bias.flag_gaps(tab)
    assert any(f.startswith("site: AUC gap") for f in flags)
    assert not any(f.startswith(("sex", "age")) for f in flags), flags


def test_subgroup_metrics_bad_input():
    y, s, meta = _cohort(100)
    with pytest.raises(ShapeMismatchError):
        bias.subgroup_metrics(y[:50], s, meta)
    with pytest.raises(ConfigError, match="probabilities"):
        bias.subgroup_metrics(y, s * 5, meta)
    with pytest.raises(ShapeMismatchError, match="site"):
        bias.subgroup_metrics(y, s, {"site": meta.site.to_numpy()[:10]})


def _ece_by_hand(conf: np.ndarray, hit: np.ndarray, n_bins: int) -> float:
    """ECE from its definition: bins [k/n, (k+1)/n), the last one closed; sum of |bin| / N * |hit - conf|."""
    total = 0.0
    for k in range(n_bins):
        lo, hi = k / n_bins, (k + 1) / n_bins
        inside = (conf >= lo) & ((conf < hi) | (k == n_bins - 1))
        if inside.any():
            total += inside.sum() / conf.size * abs(hit[inside].mean() - conf[inside].mean())
    return float(total)


def test_calibration_errors_match_definition_and_temperature_scaling_fixes_overconfidence():
    rng = np.random.default_rng(0)
    n = 4000
    true_logit = rng.normal(0, 2, n)
    y = (rng.random(n) < 1 / (1 + np.exp(-true_logit))).astype(int)
    over = 3.0 * true_logit  # an over-confident model: logits 3x too large
    p_over = calibration.to_probabilities(over)
    before = calibration.calibration_errors(p_over, y)
    assert before["ece"] > 0.08 and before["mce"] >= before["ece"]
    # ECE by hand with plain numpy (not the module's own table): 15 equal bins of P(class 1) vs share of 1s
    assert before["ece"] == pytest.approx(_ece_by_hand(p_over, y, 15), abs=1e-9)
    assert calibration.reliability_table(p_over, y, n_bins=15)["count"].sum() == n
    half = n // 2
    ts = calibration.TemperatureScaler().fit(over[:half], y[:half])
    assert ts.temperature == pytest.approx(3.0, rel=0.15)
    after = calibration.calibration_errors(ts.transform(over[half:]), y[half:])
    assert after["ece"] < before["ece"] / 2
    # the same model as 2-class logits: top-label ECE (a different binning convention), same story
    z = np.stack([np.zeros(n), over], 1)
    mc = calibration.calibration_errors(calibration.to_probabilities(z), y)
    assert mc["ece"] == pytest.approx(before["ece"], abs=0.02)
    pz = np.exp(z - z.max(1, keepdims=True))
    pz /= pz.sum(1, keepdims=True)  # softmax by hand; top-label confidence and correctness
    assert mc["ece"] == pytest.approx(_ece_by_hand(pz.max(1), (pz.argmax(1) == y).astype(float), 15), abs=1e-9)
    assert calibration.fit_temperature(z[:half], y[:half]) == pytest.approx(ts.temperature, rel=0.05)
    with pytest.raises(ConfigError, match="probabilities"):
        calibration.calibration_errors(over, y)


def test_platt_scaling_fixes_a_shift_that_temperature_cannot():
    rng = np.random.default_rng(1)
    n = 4000
    true_logit = rng.normal(0, 2, n)
    y = (rng.random(n) < 1 / (1 + np.exp(-true_logit))).astype(int)
    shifted = np.stack([np.zeros(n), true_logit - 2.0], 1)  # probabilities systematically too low
    half = n // 2
    before = calibration.calibration_errors(calibration.to_probabilities(shifted)[:, 1], y)["ece"]
    t_only = calibration.TemperatureScaler().fit(shifted[:half], y[:half])
    t_ece = calibration.calibration_errors(t_only.transform(shifted[half:])[:, 1], y[half:])["ece"]
    platt = calibration.PlattScaler().fit(shifted[:half], y[:half])
    p_ece = calibration.calibration_errors(platt.transform(shifted[half:]), y[half:])["ece"]
    assert platt.a == pytest.approx(1.0, abs=0.15) and platt.b == pytest.approx(2.0, abs=0.25)
    assert p_ece < 0.03 < before and p_ece < t_ece / 2


def test_spurious_cue_generator():
    d = mk.synthetic.spurious_cue(90, seed=3, size=32)
    assert d["images"].shape == (90, 1, 32, 32) and d["images"].dtype == np.float32
    assert list(d["metadata"].columns) == ["sex", "age", "site"]
    meta = d["metadata"]
    cue_b = d["has_cue"][meta.site.to_numpy() == "B"]
    lab_b = d["labels"][meta.site.to_numpy() == "B"]
    assert (cue_b == (lab_b == 1)).mean() > 0.85
    assert not d["has_cue"][meta.site.to_numpy() != "B"].any()
    assert np.all(d["images"][d["cue_masks"].astype(bool)] == np.float32(0.95))
    again = mk.synthetic.spurious_cue(90, seed=3, size=32)
    np.testing.assert_array_equal(again["images"], d["images"])
    shuffled = mk.synthetic.spurious_cue(600, seed=4, size=32, cue_strength=0.5)
    b = shuffled["metadata"].site.to_numpy() == "B"
    assert abs(np.corrcoef(shuffled["has_cue"][b], shuffled["labels"][b])[0, 1]) < 0.2
    assert "spurious_cue" in mk.synthetic.generators()
    with pytest.raises(ValueError, match="cue_site"):
        mk.synthetic.spurious_cue(10, cue_site="Z")


def _probs(model, images):
    with torch.no_grad():
        return torch.softmax(model(torch.as_tensor(images)), 1)[:, 1].numpy()


def test_spurious_cue_model_is_caught_by_subgroup_analysis_and_saliency(trained_2d, cue_data):
    spurious_model = trained_2d
    # in distribution the shortcut works: site B looks fine
    same = cue_data["test"]
    tab_same = bias.subgroup_metrics(
        same["labels"], _probs(spurious_model, same["images"]), same["metadata"][["site"]], n_boot=100
    )
    b_same = tab_same[tab_same.group == "B"].iloc[0]
    assert b_same.auc > 0.8
    # where the marker no longer follows the label, subgroup analysis exposes site B
    shift = cue_data["shift"]
    tab = bias.subgroup_metrics(
        shift["labels"], _probs(spurious_model, shift["images"]), shift["metadata"], n_boot=200
    )
    site = tab[tab.attribute == "site"].set_index("group")
    assert site.loc["B", "auc"] < 0.7 and min(site.loc["A", "auc"], site.loc["C", "auc"]) > 0.8
    gaps = bias.max_gaps(tab).set_index("attribute")
    assert gaps.loc["site", "worst_auc_group"] == "B" and gaps.loc["site", "auc_gap"] > 0.2
    assert any(f.startswith("site: AUC gap") for f in bias.flag_gaps(tab))
    # and saliency on site-B positives with the marker lands on the marker, not on the lesion
    sel = (same["metadata"].site.to_numpy() == "B") & same["has_cue"] & (same["labels"] == 1)
    maps = mk.explain(spurious_model, same["images"][sel], method="gradient", target=1)
    on_cue = checks.pointing_game(maps, same["cue_masks"][sel])
    on_lesion = checks.pointing_game(maps, same["masks"][sel])
    assert on_cue.accuracy > 0.6 and on_cue.accuracy > on_lesion.accuracy + 0.3
