# Assignment 10 - Bias and calibration: ECE, subgroup TPR gaps, temperature scaling, a shortcut, permutation
# importance, linear Shapley values and a measured model card.
# Authoring source of assignments/source/10_bias_calibration_reporting/10_bias_calibration_reporting.ipynb
# (regenerate with `medimg grade build`; format: assignments/README.md).

# %% [markdown] readonly id=intro
# # Assignment 10 — Bias and calibration
#
# Lesson 10 used `medimg_kernel.explain.bias` and `.calibration`. Here you implement the pieces yourself
# with numpy and apply them to the predictions of a lesion detector on three hospital sites.
#
# * Use `numpy` (and `scipy`); not `medimg_kernel.explain`, scikit-learn or torchmetrics in your answers
#   (exercise 6 explains a scikit-learn model that the setup fits; your function only calls it).
# * Run each test cell to check your work; hidden tests use other data and edge cases.
#
# | Exercise | Points |
# |---|---|
# | 1. Expected calibration error | 3 |
# | 2. Sensitivity per subgroup and the largest gap | 3 |
# | 3. Temperature scaling | 3 |
# | 4. Find the shortcut site | 2 |
# | 5. Written answer: a real gap or noise? | 2 |
# | 6. Permutation importance of a tabular model | 3 |
# | 7. Shapley values of a linear model | 2 |
# | 8. A model card whose every number is measured | 2 |

# %% readonly id=setup
import numpy as np

import medimg_kernel as mk

# your own variant: the seed comes from your student id (mk.student_id()), so your numbers differ from
# your neighbour's; solve the general problem and the tests pass for every variant
rng = np.random.default_rng(mk.variant_seed("10_bias_calibration_reporting"))
n = 900
site = np.array(["A", "B", "C"])[np.arange(n) % 3]
overconfidence = round(float(rng.uniform(2.5, 3.5)), 2)  # an over-confident model: logits this much too large
shortcut = str(rng.choice(["A", "B", "C"]))  # at this site it learnt a marker that (at deployment) is random
true_logit = rng.normal(0, 2, n)
labels = (rng.random(n) < 1 / (1 + np.exp(-true_logit))).astype(int)
logits = overconfidence * true_logit
marker = rng.random(n) < 0.5
at_shortcut = site == shortcut
logits[at_shortcut] = np.where(marker[at_shortcut], 4.0, -4.0) + rng.normal(0, 0.5, at_shortcut.sum())
probs = 1 / (1 + np.exp(-logits))
print("variant of", mk.student_id(), "- n =", n, "| positives per site:",
      {s: int(labels[site == s].sum()) for s in "ABC"}, "| mean probability:", round(float(probs.mean()), 3))

# %% [markdown] readonly id=ex1_text
# ## Exercise 1 — Expected calibration error (3 points)
#
# For binary predictions, split [0, 1] into `n_bins` equal-width bins by the predicted probability `p`
# (bin `b` holds $\frac{b}{n_{bins}} < p \le \frac{b+1}{n_{bins}}$; put `p = 0` into the first bin). In
# every non-empty bin compare the mean predicted probability (confidence) with the fraction of positive
# labels (accuracy):
# $$\text{ECE} = \sum_b \frac{n_b}{N}\,\big|\text{acc}_b - \text{conf}_b\big|$$
# Implement `ece(probs, labels, n_bins=10)` returning a Python float.

# %% solution id=ex1_answer exercise=ece
def ece(probs, labels, n_bins=10):
    """Expected calibration error of binary probabilities with equal-width bins."""
    ### BEGIN SOLUTION
    p = np.asarray(probs, dtype=float).ravel()
    y = np.asarray(labels, dtype=float).ravel()
    idx = np.clip(np.ceil(p * n_bins).astype(int) - 1, 0, n_bins - 1)
    total = 0.0
    for b in range(n_bins):
        sel = idx == b
        if sel.any():
            total += sel.mean() * abs(y[sel].mean() - p[sel].mean())
    return float(total)
    ### END SOLUTION

# %% tests id=ex1_tests points=3
def test_perfect_and_worst():
    """predicting the labels exactly gives 0; always wrong with certainty gives 1. Hint: |acc - conf| per bin"""
    y = np.array([0, 1, 1, 0])
    assert np.isclose(ece(y.astype(float), y), 0.0) and np.isclose(ece(1.0 - y, y), 1.0)


def test_one_bin_by_hand():
    """four predictions of 0.7 with three positives: |0.75 - 0.7| = 0.05. Hint: weight by n_b / N"""
    assert np.isclose(ece(np.full(4, 0.7), np.array([1, 1, 1, 0])), 0.05)


def test_overconfident_model_is_miscalibrated():
    """the setup model is clearly miscalibrated at the two sites without the shortcut. Hint: use all of them"""
    ac = site != shortcut
    assert ece(probs[ac], labels[ac]) > 0.05


mk.check("ece", test_perfect_and_worst, test_one_bin_by_hand, test_overconfident_model_is_miscalibrated, budget=5)
### BEGIN HIDDEN TESTS
def _ece_reference():
    r = np.random.default_rng(21)
    p = r.uniform(0.001, 0.999, 500)
    y = (r.random(500) < p ** 1.5).astype(int)
    edges = np.linspace(0, 1, 11)
    ref = sum(abs(y[s].mean() - p[s].mean()) * s.mean()
              for s in ((p > lo) & (p <= hi) for lo, hi in zip(edges[:-1], edges[1:])) if s.any())
    assert np.isclose(ece(p, y, n_bins=10), ref, atol=1e-6)


def _ece_bins_argument():
    p = np.array([0.05, 0.15, 0.95])
    y = np.array([0, 1, 1])
    assert np.isclose(ece(p, y, n_bins=2), (2 / 3) * abs(0.5 - 0.1) + (1 / 3) * 0.05)


mk.check("ece", _ece_reference, _ece_bins_argument, budget=5, hidden=True)
### END HIDDEN TESTS

# %% [markdown] readonly id=ex2_text
# ## Exercise 2 — Sensitivity per subgroup (3 points)
#
# Implement `tpr_by_group(probs, labels, groups, threshold=0.5)`: a dict `{group: TPR}` where TPR is the
# share of **positive** cases in the group with `probs >= threshold` (groups without positives get
# `np.nan`). Then `max_tpr_gap(...)` (same arguments) returns the largest difference between two groups'
# TPRs, ignoring NaNs — the equal-opportunity difference. A low TPR means missed findings: underdiagnosis.

# %% solution id=ex2_answer exercise=tpr_gap
def tpr_by_group(probs, labels, groups, threshold=0.5):
    """True-positive rate per group at ``threshold``."""
    ### BEGIN SOLUTION
    p, y, g = np.asarray(probs, float), np.asarray(labels).astype(int), np.asarray(groups)
    out = {}
    for grp in np.unique(g):
        pos = (g == grp) & (y == 1)
        out[grp.item() if hasattr(grp, "item") else grp] = float((p[pos] >= threshold).mean()) if pos.any() else np.nan
    return out
    ### END SOLUTION


def max_tpr_gap(probs, labels, groups, threshold=0.5):
    """Largest TPR difference between groups (NaNs ignored)."""
    ### BEGIN SOLUTION
    v = np.array(list(tpr_by_group(probs, labels, groups, threshold).values()), float)
    v = v[~np.isnan(v)]
    return float(v.max() - v.min()) if len(v) else float("nan")
    ### END SOLUTION

# %% tests id=ex2_tests points=3
def test_small_groups():
    """two groups by hand. Hint: only positives count for the TPR"""
    t = tpr_by_group(np.array([0.9, 0.2, 0.8, 0.7, 0.1]), np.array([1, 1, 0, 1, 1]), np.array(list("aabbb")))
    assert np.isclose(t["a"], 0.5) and np.isclose(t["b"], 0.5)


def test_site_gap_on_setup_data():
    """the shortcut site's sensitivity is clearly below the other two. Hint: max minus min over the groups"""
    t = tpr_by_group(probs, labels, site)
    assert t[shortcut] < min(t[s] for s in "ABC" if s != shortcut)
    assert np.isclose(max_tpr_gap(probs, labels, site), max(t.values()) - min(t.values()))
    assert max_tpr_gap(probs, labels, site) > 0.05


mk.check("tpr_gap", test_small_groups, test_site_gap_on_setup_data, budget=5)
### BEGIN HIDDEN TESTS
def _tpr_threshold_and_nan():
    p = np.array([0.6, 0.4, 0.9, 0.3])
    t = tpr_by_group(p, np.array([1, 1, 0, 0]), np.array(["x", "x", "y", "y"]), threshold=0.35)
    assert np.isclose(t["x"], 1.0) and np.isnan(t["y"])
    assert np.isclose(max_tpr_gap(p, np.array([1, 1, 0, 0]), np.array(["x", "x", "y", "y"]), 0.35), 0.0)


def _tpr_three_groups():
    p = np.array([0.9, 0.9, 0.1, 0.9, 0.1, 0.1])
    y = np.ones(6, int)
    g = np.array([1, 1, 2, 2, 3, 3])
    assert np.isclose(max_tpr_gap(p, y, g), 1.0)


def _tpr_setup_reference():
    ref = {s: float((probs[(site == s) & (labels == 1)] >= 0.5).mean()) for s in "ABC"}
    t = tpr_by_group(probs, labels, site)
    assert sorted(t) == ["A", "B", "C"] and all(np.isclose(t[s], ref[s]) for s in "ABC")
    assert np.isclose(max_tpr_gap(probs, labels, site), max(ref.values()) - min(ref.values()))


mk.check("tpr_gap", _tpr_threshold_and_nan, _tpr_three_groups, _tpr_setup_reference, budget=5, hidden=True)
### END HIDDEN TESTS

# %% [markdown] readonly id=ex3_text
# ## Exercise 3 — Temperature scaling (3 points)
#
# Implement `fit_temperature(logits, labels)`: return the temperature `T > 0` that minimises the binary
# negative log-likelihood of `sigmoid(logits / T)` on the given (validation) data, with a precision of
# 0.05 or better (a grid search over `np.linspace(0.05, 10, 400)` is fine, or `scipy.optimize`). Then
# `apply_temperature(logits, T)` returns the calibrated probabilities.

# %% solution id=ex3_answer exercise=temperature
def fit_temperature(logits, labels):
    """Temperature minimising the binary NLL of sigmoid(logits / T)."""
    ### BEGIN SOLUTION
    z = np.asarray(logits, float)
    y = np.asarray(labels, float)
    grid = np.linspace(0.05, 10, 400)

    def nll(t):
        s = z / t
        return float(np.mean(np.logaddexp(0, s) - y * s))

    return float(grid[np.argmin([nll(t) for t in grid])])
    ### END SOLUTION


def apply_temperature(logits, T):
    """Calibrated probabilities sigmoid(logits / T)."""
    ### BEGIN SOLUTION
    return 1 / (1 + np.exp(-np.asarray(logits, float) / T))
    ### END SOLUTION

# %% tests id=ex3_tests points=3
def test_recovers_the_overconfidence_factor():
    """the other two sites' logits are `overconfidence` x too large: T minimises their NLL. Hint: mean NLL over T"""
    from scipy.optimize import minimize_scalar

    ac = site != shortcut
    z, y = logits[ac], labels[ac]
    best = minimize_scalar(lambda t: np.mean(np.logaddexp(0, z / t) - y * z / t), bounds=(0.05, 10),
                           method="bounded", options={"xatol": 1e-4}).x
    assert abs(fit_temperature(z, y) - best) < 0.06


def test_scaling_helps_held_out_cases():
    """fitted on half of the two sites, T lowers the other half's NLL, not raising its ECE. Hint: sigmoid(z / T)"""
    ac = np.flatnonzero(site != shortcut)
    fit, held = ac[::2], ac[1::2]
    T = fit_temperature(logits[fit], labels[fit])
    y = labels[held]

    def nll(p):
        p = np.clip(np.asarray(p, float), 1e-12, 1 - 1e-12)
        return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))

    calibrated = apply_temperature(logits[held], T)
    # with ~300 cases the ECE has a noise floor of about 0.05, so it is checked loosely; the NLL is not noisy
    assert nll(calibrated) < 0.97 * nll(probs[held]) and ece(calibrated, y) < ece(probs[held], y) + 0.01


mk.check("temperature", test_recovers_the_overconfidence_factor, test_scaling_helps_held_out_cases, budget=10)
### BEGIN HIDDEN TESTS
def _temp_underconfident():
    r = np.random.default_rng(17)
    z = r.normal(0, 3, 3000)
    y = (r.random(3000) < 1 / (1 + np.exp(-z))).astype(int)
    assert abs(fit_temperature(z / 2.0, y) - 0.5) < 0.1


def _temp_identity():
    assert np.allclose(apply_temperature(np.array([0.0, 2.0]), 1.0), [0.5, 1 / (1 + np.exp(-2.0))])


mk.check("temperature", _temp_underconfident, _temp_identity, budget=10, hidden=True)
### END HIDDEN TESTS

# %% [markdown] readonly id=ex4_text
# ## Exercise 4 — Which site uses a shortcut? (2 points)
#
# Implement `auc(scores, labels)` (the probability that a random positive scores higher than a random
# negative, ties counting ½) and `shortcut_site(probs, labels, groups)`: the group with the lowest AUC.
# On the setup data (a deployment where one site's marker no longer follows the label) it should name the
# site whose model learnt the marker.

# %% solution id=ex4_answer exercise=shortcut
def auc(scores, labels):
    """ROC AUC by pairwise comparison (ties count 1/2); NaN with a single class."""
    ### BEGIN SOLUTION
    s, y = np.asarray(scores, float), np.asarray(labels).astype(bool)
    pos, neg = s[y], s[~y]
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    return float(((pos[:, None] > neg).sum() + 0.5 * (pos[:, None] == neg).sum()) / (len(pos) * len(neg)))
    ### END SOLUTION


def shortcut_site(probs, labels, groups):
    """The group with the lowest AUC."""
    ### BEGIN SOLUTION
    g = np.asarray(groups)
    aucs = {grp: auc(np.asarray(probs)[g == grp], np.asarray(labels)[g == grp]) for grp in np.unique(g)}
    return min(aucs, key=aucs.get)
    ### END SOLUTION

# %% tests id=ex4_tests points=2
def test_auc_small():
    """perfect ranking gives 1; all tied gives 0.5. Hint: compare every positive with every negative"""
    assert auc(np.array([0.1, 0.9]), np.array([0, 1])) == 1.0 and auc(np.full(4, 0.2), np.array([0, 1, 0, 1])) == 0.5


def test_finds_the_shortcut_site():
    """the marker site has the lowest AUC at deployment. Hint: compute the AUC per group"""
    assert shortcut_site(probs, labels, site) == shortcut


mk.check("shortcut", test_auc_small, test_finds_the_shortcut_site, budget=5)
### BEGIN HIDDEN TESTS
def _auc_matches_ranks():
    r = np.random.default_rng(4)
    y = r.random(80) < 0.4
    s = np.round(r.random(80) + 0.4 * y, 1)
    wins = sum(1.0 if a > b else 0.5 if a == b else 0.0 for a in s[y] for b in s[~y])
    assert np.isclose(auc(s, y.astype(int)), wins / (y.sum() * (~y).sum()))


def _shortcut_other_names():
    r = np.random.default_rng(6)
    y = np.tile([0, 1], 60)
    g = np.repeat(["north", "south", "east"], 40)
    p = np.where(g == "east", r.random(120), y * 0.6 + r.random(120) * 0.4)
    assert shortcut_site(p, y, g) == "east"


mk.check("shortcut", _auc_matches_ranks, _shortcut_other_names, budget=5, hidden=True)
### END HIDDEN TESTS

# %% [markdown] readonly id=q5_text
# ## Exercise 5 — Written answer (2 points, graded by your instructor)
#
# At deployment a detector's sensitivity is 0.80 at site A (200 lesions) and 0.65 at site C (20 lesions).
# In two or three sentences: is this 15-point gap evidence that the model underdiagnoses at site C, how
# would you tell a real gap from noise, and what would you report?

# %% [markdown] manual id=q5_answer points=2
# ### BEGIN SOLUTION
# Not yet: with 20 lesions one missed lesion moves the sensitivity by 5 points, and the standard error of
# 0.65 on 20 positives is about √(0.65 · 0.35 / 20) ≈ 0.11, so its 95 % interval (Wilson 0.43–0.82,
# bootstrap about 0.45–0.85) contains site A's 0.80; a two-proportion test gives p ≈ 0.12. Tell a real gap from noise with a bootstrap
# confidence interval per site (resampling patients) or a two-proportion test, as `bias.flag_gaps` does.
# Report each site's sensitivity with its interval and number of positives, say the gap is not established
# (which is not the same as no gap), and collect more site-C cases before deciding.
# ### END SOLUTION

# %% [markdown] rubric id=q5_rubric for=q5_answer
# - 1: says the gap may be noise because site C has few positives (one lesion = 5 points; wide interval / standard error about 0.1)
# - 1: names a way to test it (bootstrap confidence intervals per site or a two-proportion test) and reports sensitivities with intervals and counts, not the gap alone

# %% [markdown] readonly id=ex6_text
# ## Exercise 6 — Permutation importance of a tabular model (3 points)
#
# `tab_model` below is a logistic regression (fitted in the setup, not by you) that predicts the detector's
# miss from five columns of the case table `tab_X`: age, lesion size in mm, sex, whether the scan came from
# site B, and a column of pure noise. Which columns does it rely on?
#
# Implement `permutation_importance(predict, X, y, metric, n_repeats=10, seed=0)`: `predict(X)` returns
# scores, and `metric(y, scores)` is larger for a better model. For every column `j`, shuffle that column
# alone (`n_repeats` times, with `np.random.default_rng(seed)`), score the model again and return, per
# column, the mean drop `metric(y, predict(X)) - metric(y, predict(X_shuffled))`: a numpy array of length
# `X.shape[1]`. Never change `X` itself.

# %% readonly id=ex6_setup
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402

tab_columns = ["age", "lesion_mm", "sex", "site_B", "noise"]
_tab_rng = np.random.default_rng(mk.variant_seed("10_bias_calibration_reporting", salt="tabular"))
_m = 600
tab_X = np.column_stack([
    _tab_rng.normal(60, 12, _m),           # age
    _tab_rng.gamma(3.0, 4.0, _m),          # lesion size, mm
    _tab_rng.integers(0, 2, _m),           # sex
    _tab_rng.integers(0, 2, _m),           # site B
    _tab_rng.normal(0, 1, _m),             # noise
])
_miss_logit = -0.25 * (tab_X[:, 1] - 12) + 0.04 * (tab_X[:, 0] - 60) + 1.2 * tab_X[:, 3]
tab_y = (_tab_rng.random(_m) < 1 / (1 + np.exp(-_miss_logit))).astype(int)
tab_model = LogisticRegression(max_iter=1000).fit(tab_X, tab_y)


def tab_predict(X):
    """P(miss) of the fitted model."""
    return tab_model.predict_proba(X)[:, 1]


print("columns", tab_columns, "| misses:", int(tab_y.sum()), "of", len(tab_y),
      "| model AUC on its table:", round(roc_auc_score(tab_y, tab_predict(tab_X)), 3))

# %% solution id=ex6_answer exercise=permutation
def permutation_importance(predict, X, y, metric, n_repeats=10, seed=0):
    """Mean drop of metric(y, predict(X)) when each column of X alone is shuffled."""
    ### BEGIN SOLUTION
    X = np.asarray(X)
    rng_p = np.random.default_rng(seed)
    base = metric(y, predict(X))
    out = np.zeros(X.shape[1])
    for j in range(X.shape[1]):
        drops = []
        for _ in range(n_repeats):
            Xp = X.copy()
            Xp[:, j] = Xp[rng_p.permutation(len(Xp)), j]
            drops.append(base - metric(y, predict(Xp)))
        out[j] = np.mean(drops)
    return out
    ### END SOLUTION

# %% tests id=ex6_tests points=3
def _auc_metric(y, s):
    return roc_auc_score(y, s)


def test_importance_names_lesion_size():
    """lesion size matters most and the noise column hardly at all. Hint: shuffle one column of a copy"""
    imp = permutation_importance(tab_predict, tab_X, tab_y, _auc_metric, n_repeats=5, seed=0)
    assert np.asarray(imp).shape == (5,)
    assert tab_columns[int(np.argmax(imp))] == "lesion_mm"
    assert abs(imp[4]) < 0.02 < imp[1]


def test_ignored_column_is_zero_and_x_untouched():
    """a column the model never reads has importance 0, and X is not changed. Hint: work on X.copy()"""
    X = tab_X.copy()
    only_size = lambda A: -A[:, 1]  # noqa: E731  a "model" that reads lesion size only (small ones are missed)
    imp = permutation_importance(only_size, X, tab_y, _auc_metric, n_repeats=3, seed=1)
    assert np.allclose(np.delete(imp, 1), 0.0) and imp[1] > 0
    assert np.array_equal(X, tab_X)


mk.check("permutation", test_importance_names_lesion_size, test_ignored_column_is_zero_and_x_untouched, budget=60)
### BEGIN HIDDEN TESTS
def _perm_close_to_sklearn():
    from sklearn.inspection import permutation_importance as sk_pi
    ref = sk_pi(tab_model, tab_X, tab_y, scoring="roc_auc", n_repeats=20, random_state=0).importances_mean
    ours = permutation_importance(tab_predict, tab_X, tab_y, _auc_metric, n_repeats=20, seed=3)
    assert np.allclose(ours, ref, atol=0.02)
    assert int(np.argmax(ours)) == int(np.argmax(ref))


def _perm_uses_the_metric_and_repeats():
    acc = lambda y, s: float(np.mean((np.asarray(s) > 0.5) == y))  # noqa: E731
    a = permutation_importance(tab_predict, tab_X, tab_y, acc, n_repeats=4, seed=0)
    b = permutation_importance(tab_predict, tab_X, tab_y, _auc_metric, n_repeats=4, seed=0)
    assert not np.allclose(a, b)
    first_two = lambda A: -A[:, 1] + 0.1 * A[:, 0]  # noqa: E731  a model of two columns
    one = permutation_importance(first_two, tab_X[:, :2], tab_y, _auc_metric, n_repeats=1, seed=5)
    assert np.asarray(one).shape == (2,) and one[1] > one[0] > -0.05


mk.check("permutation", _perm_close_to_sklearn, _perm_uses_the_metric_and_repeats, budget=60, hidden=True)
### END HIDDEN TESTS

# %% [markdown] readonly id=ex7_text
# ## Exercise 7 — Shapley values of a linear model (2 points)
#
# For a model that is linear in its inputs, $f(x) = b + \sum_j w_j x_j$, with the columns treated as
# independent, the Shapley value of column $j$ for one case is exactly $w_j (x_j - \bar{x}_j)$, where
# $\bar{x}_j$ is the mean of column $j$ over a **background** table. Implement
# `linear_shapley(coef, X, background)` returning an array of shape `(N, F)`. The values of a case add up
# to its output minus the mean output over the background (the *efficiency* property).

# %% solution id=ex7_answer exercise=shapley
def linear_shapley(coef, X, background):
    """Exact (interventional) Shapley values of a linear model: coef * (X - background mean)."""
    ### BEGIN SOLUTION
    X, background = np.atleast_2d(np.asarray(X, float)), np.asarray(background, float)
    return np.asarray(coef, float).ravel()[None, :] * (X - background.mean(axis=0)[None, :])
    ### END SOLUTION

# %% tests id=ex7_tests points=2
def test_shapley_efficiency_on_the_logit():
    """per case, values sum to logit(case) - mean logit of the background. Hint: w * (x - mean)"""
    phi = linear_shapley(tab_model.coef_, tab_X[:50], tab_X)
    logit = tab_model.decision_function
    assert np.asarray(phi).shape == (50, 5)
    assert np.allclose(phi.sum(axis=1), logit(tab_X[:50]) - logit(tab_X).mean())


mk.check("shapley", test_shapley_efficiency_on_the_logit, budget=10)
### BEGIN HIDDEN TESTS
def _shapley_by_coalitions():
    from itertools import combinations
    from math import factorial

    w, bg = np.array([0.5, -2.0, 1.5]), np.random.default_rng(9).normal(size=(40, 3))
    x = np.array([1.0, 0.3, -2.0])
    f = lambda cols: float(np.mean([(w * np.where(np.isin(range(3), cols), x, b)).sum() for b in bg]))  # noqa: E731
    for j in range(3):
        rest = [k for k in range(3) if k != j]
        exact = sum(factorial(len(S)) * factorial(2 - len(S)) / factorial(3) * (f(list(S) + [j]) - f(list(S)))
                    for r in range(3) for S in combinations(rest, r))
        assert np.isclose(linear_shapley(w, x[None, :], bg)[0, j], exact)


def _shapley_other_background():
    phi = linear_shapley(np.ones(2), np.array([[3.0, 3.0]]), np.array([[1.0, 5.0], [3.0, 7.0]]))
    assert np.allclose(phi, [[1.0, -3.0]])


mk.check("shapley", _shapley_by_coalitions, _shapley_other_background, budget=10, hidden=True)
### END HIDDEN TESTS

# %% [markdown] readonly id=ex8_text
# ## Exercise 8 — A model card whose every number is measured (2 points)
#
# A model card reports how a model performs, for whom, and how sure we are. Every number in it must come
# from a measurement on stated data, never be typed in. Implement `model_card(probs, labels, groups,
# n_boot=200, seed=0)` returning a dict with exactly these keys, computed with **your** functions above:
#
# * `"n"` (number of cases), `"prevalence"` (share of positive labels);
# * `"auc"` (your `auc`) and `"auc_95ci"`, a `(low, high)` tuple: the 2.5th and 97.5th percentiles of the AUC
#   over `n_boot` bootstrap resamples of the cases (draw indices with replacement from
#   `np.random.default_rng(seed)`; skip a resample that holds one class only);
# * `"ece"` (your `ece`, 10 bins);
# * `"tpr_by_group"` and `"max_tpr_gap"` (your exercise 2 functions, threshold 0.5).

# %% solution id=ex8_answer exercise=model_card
def model_card(probs, labels, groups, n_boot=200, seed=0):
    """Measured numbers for a model card: size, prevalence, AUC with a bootstrap interval, ECE, TPR per group."""
    ### BEGIN SOLUTION
    p, y = np.asarray(probs, float), np.asarray(labels).astype(int)
    rng_b = np.random.default_rng(seed)
    boots = []
    for _ in range(n_boot):
        idx = rng_b.integers(0, len(y), len(y))
        if 0 < y[idx].sum() < len(idx):
            boots.append(auc(p[idx], y[idx]))
    return {
        "n": int(len(y)),
        "prevalence": float(y.mean()),
        "auc": auc(p, y),
        "auc_95ci": (float(np.percentile(boots, 2.5)), float(np.percentile(boots, 97.5))),
        "ece": ece(p, y, n_bins=10),
        "tpr_by_group": tpr_by_group(p, y, groups),
        "max_tpr_gap": max_tpr_gap(p, y, groups),
    }
    ### END SOLUTION

# %% tests id=ex8_tests points=2 requires=ece,tpr_gap,shortcut
def test_card_numbers_are_measured():
    """each entry equals its measurement; the AUC lies in its interval. Hint: call your own auc, ece, tpr_by_group"""
    card = model_card(probs, labels, site, n_boot=100, seed=0)
    assert set(card) == {"n", "prevalence", "auc", "auc_95ci", "ece", "tpr_by_group", "max_tpr_gap"}
    assert card["n"] == len(labels) and np.isclose(card["prevalence"], labels.mean())
    assert np.isclose(card["auc"], auc(probs, labels)) and np.isclose(card["ece"], ece(probs, labels))
    assert card["tpr_by_group"] == tpr_by_group(probs, labels, site)
    assert np.isclose(card["max_tpr_gap"], max_tpr_gap(probs, labels, site))
    low, high = card["auc_95ci"]
    assert low <= card["auc"] <= high and 0.005 < high - low < 0.3
    for key, value in card.items():
        print(f"{key:>14}: {value}")


def test_interval_is_reproducible():
    """the same seed gives the same interval, another seed another one. Hint: np.random.default_rng(seed)"""
    a = model_card(probs, labels, site, n_boot=50, seed=1)["auc_95ci"]
    b = model_card(probs, labels, site, n_boot=50, seed=1)["auc_95ci"]
    c = model_card(probs, labels, site, n_boot=50, seed=2)["auc_95ci"]
    assert a == b and a != c


mk.check("model_card", test_card_numbers_are_measured, test_interval_is_reproducible, budget=60)
### BEGIN HIDDEN TESTS
def _card_small_cohort_wider_interval():
    r = np.random.default_rng(12)
    y_small = np.tile([0, 1], 20)
    p_small = np.clip(0.3 + 0.4 * y_small + r.normal(0, 0.25, 40), 0, 1)
    g_small = np.repeat(["x", "y"], 20)
    small = model_card(p_small, y_small, g_small, n_boot=100, seed=0)
    big = model_card(probs, labels, site, n_boot=100, seed=0)
    assert small["n"] == 40 and small["prevalence"] == 0.5
    assert np.diff(small["auc_95ci"])[0] > np.diff(big["auc_95ci"])[0]
    assert set(small["tpr_by_group"]) == {"x", "y"}


mk.check("model_card", _card_small_cohort_wider_interval, budget=60, hidden=True)
### END HIDDEN TESTS

# %% [markdown] readonly id=selfcheck
# ## Self-check
#
# Before you submit: **Kernel → Restart & Run All**, then press **Validate** (or run
# `nbgrader validate 10_bias_calibration_reporting.ipynb`). Every visible test line should start with ✓.
# Hidden tests use other inputs: your functions must accept any number of samples, bins and group names.
