# Assignment 08 - Outcome prediction with fusion: Cox partial likelihood, concordance, late fusion with a missing
# modality, Kaplan-Meier curves and the log-rank test.
# Authoring source of assignments/source/08_outcome_fusion/08_outcome_fusion.ipynb
# (regenerate with `medimg grade build`; format: assignments/README.md).

# %% [markdown] readonly id=intro
# # Assignment 08 — Outcome prediction with fusion
#
# Lesson 08 trained survival models on imaging, clinical and genomic data and fused them. Here you
# write the three core pieces yourself, with `numpy`/`torch` only (not `medimg_kernel.fusion`, which
# solves them for you):
#
# * Write your code where it says `YOUR CODE HERE` (delete the `raise NotImplementedError()` line).
# * Run the test cell below each exercise: it prints one line per check, with a hint when one fails.
#   The grader also runs **hidden tests** (other inputs, edge cases), so solve the general problem.
#
# Convention: a **higher risk score means an earlier event**; `event` is 1 for an observed death and
# 0 for a censored patient (alive at the last follow-up `time`).
#
# | Exercise | Points |
# |---|---|
# | 1. Cox negative log partial likelihood (Breslow ties) | 3 |
# | 2. Harrell's concordance index | 3 |
# | 3. Late fusion that survives a missing modality | 3 |
# | 4. Written answer | 2 |
# | 5. Kaplan–Meier curves and the log-rank test | 4 |

# %% readonly id=setup
import numpy as np
import torch
from survival_data import make_cohort  # helper file shipped with this assignment

import medimg_kernel as mk

# your own variant: the seed comes from your student id (mk.student_id()), so your cohort (its size,
# patients, survival times) differs from your neighbour's; solve the general problem and the tests pass
# for every variant
N_PATIENTS = 120 + 10 * (mk.variant_seed("08_outcome_fusion", salt="size") % 5)  # 120 ... 160
cohort = make_cohort(n=N_PATIENTS, seed=mk.variant_seed("08_outcome_fusion"))
print(f"variant of {mk.student_id()} - {len(cohort['time'])} patients, {cohort['event'].mean():.0%} events, "
      f"median time {np.median(cohort['time']):.2f} months")

# %% [markdown] readonly id=ex1_text
# ## Exercise 1 — Cox partial likelihood (3 points)
#
# For risk scores $\eta$, the Cox negative log partial likelihood averaged over the $d$ events is
#
# $$ L = -\frac{1}{d} \sum_{i:\,\text{event}_i = 1} \Big[\eta_i - \log \sum_{j:\, t_j \ge t_i} e^{\eta_j}\Big]. $$
#
# The risk set of patient $i$ is everyone still followed at $t_i$ (including $i$ and anyone tied with
# it: Breslow's rule). Implement `cox_nll(risk, time, event)` for 1D **torch** tensors, returning a
# scalar tensor that gradients flow through. Use `torch.logsumexp` for numerical stability. With no
# event at all, return `risk.sum() * 0` (a zero that keeps the graph).

# %% solution id=ex1_answer exercise=cox_nll
def cox_nll(risk, time, event):
    """Mean negative Cox log partial likelihood (Breslow ties) of 1D tensors risk, time, event."""
    ### BEGIN SOLUTION
    event = event.to(risk.dtype)
    if event.sum() == 0:
        return risk.sum() * 0
    at_risk = time[None, :] >= time[:, None]  # row i: who is at risk at t_i
    log_den = torch.logsumexp(risk[None, :].masked_fill(~at_risk, float("-inf")), dim=1)
    return -((risk - log_den) * event).sum() / event.sum()
    ### END SOLUTION

# %% tests id=ex1_tests points=3
def test_two_patients():
    """two patients, first dies: L = -(0.3 - log(e^0.3 + e^0.1)). Hint: the risk set of t=1 holds both"""
    out = cox_nll(torch.tensor([0.3, 0.1]), torch.tensor([1.0, 2.0]), torch.tensor([1, 0]))
    assert np.isclose(float(out), -(0.3 - np.log(np.exp(0.3) + np.exp(0.1))))


def test_zero_risk_value():
    """with all risks 0 and no ties, L = mean over events of log(#at risk). Hint: log sum exp(0) = log n"""
    time = torch.tensor([1.0, 2.0, 3.0, 4.0])
    out = cox_nll(torch.zeros(4), time, torch.tensor([1, 1, 0, 1]))
    assert np.isclose(float(out), (np.log(4) + np.log(3) + np.log(1)) / 3)


def test_gradient_and_no_event():
    """gradients flow; no events gives 0. Hint: use torch ops only, and handle event.sum() == 0"""
    risk = torch.tensor([0.5, -0.2, 0.1], requires_grad=True)
    cox_nll(risk, torch.tensor([3.0, 1.0, 2.0]), torch.tensor([1, 1, 0])).backward()
    assert risk.grad is not None and torch.isfinite(risk.grad).all()
    zero = cox_nll(torch.tensor([0.5, 0.2]), torch.tensor([1.0, 2.0]), torch.tensor([0, 0]))
    assert float(zero) == 0.0


mk.check("cox_nll", test_two_patients, test_zero_risk_value, test_gradient_and_no_event, budget=10)
### BEGIN HIDDEN TESTS
def _cox_matches_reference_with_ties():
    from medimg_kernel.fusion import cox_ph_loss

    rng = np.random.default_rng(4)
    t = torch.tensor(np.round(rng.exponential(1, 80), 1) + 0.1)
    e = torch.tensor((rng.random(80) < 0.7).astype(np.int64))
    r = torch.tensor(rng.normal(size=80))
    assert np.isclose(float(cox_nll(r, t, e)), float(cox_ph_loss(r, t, e)), rtol=1e-6)


def _cox_cohort_true_risk_beats_random():
    t, e = torch.tensor(cohort["time"]), torch.tensor(cohort["event"])
    good = float(cox_nll(torch.tensor(cohort["risk"]), t, e))
    bad = float(cox_nll(torch.tensor(np.random.default_rng(1).normal(size=len(t))), t, e))
    assert good < bad


def _cox_large_risks_finite():
    out = cox_nll(torch.tensor([800.0, 900.0, 1000.0]), torch.tensor([1.0, 2.0, 3.0]), torch.tensor([1, 1, 1]))
    assert torch.isfinite(out)


mk.check("cox_nll", _cox_matches_reference_with_ties, _cox_cohort_true_risk_beats_random, _cox_large_risks_finite,
         budget=10, hidden=True)
### END HIDDEN TESTS

# %% [markdown] readonly id=ex2_text
# ## Exercise 2 — Harrell's C-index (3 points)
#
# A pair of patients $(i, j)$ is **comparable** when $i$ had an event and $t_i < t_j$ (we know $i$
# died first). It is **concordant** when $\text{risk}_i > \text{risk}_j$; a tie in risk counts ½.
# $C$ = (concordant + ½ ties) / comparable. Implement `harrell_c(time, event, risk)` with numpy
# (a double loop is fine for small cohorts). If there is **no comparable pair** (e.g. everyone is
# censored), raise a `ValueError` — the C-index is undefined then, not 0.5.

# %% solution id=ex2_answer exercise=harrell_c
def harrell_c(time, event, risk):
    """Harrell's concordance index; ValueError when no pair is comparable."""
    ### BEGIN SOLUTION
    time, event, risk = (np.asarray(a, dtype=float) for a in (time, event, risk))
    num = den = 0.0
    for i in range(len(time)):
        if not event[i]:
            continue
        later = time > time[i]
        den += later.sum()
        num += (risk[i] > risk[later]).sum() + 0.5 * (risk[i] == risk[later]).sum()
    if den == 0:
        raise ValueError("no comparable pair: the C-index is undefined")
    return num / den
    ### END SOLUTION

# %% tests id=ex2_tests points=3
def test_perfect_and_reversed():
    """risk ordered like early death gives 1, reversed gives 0. Hint: compare risk[i] with risk[j] for t_j > t_i"""
    t, e = np.array([1.0, 2.0, 3.0, 4.0]), np.array([1, 1, 1, 1])
    assert np.isclose(harrell_c(t, e, [4, 3, 2, 1]), 1.0)
    assert np.isclose(harrell_c(t, e, [1, 2, 3, 4]), 0.0)


def test_censoring_and_ties():
    """censored patients only appear as the later member; tied risks count 1/2. Hint: skip i with event 0"""
    t, e = np.array([1.0, 2.0, 3.0]), np.array([1, 0, 1])
    assert np.isclose(harrell_c(t, e, [2.0, 2.0, 1.0]), 0.75)


def test_all_censored_is_undefined():
    """all censored raises ValueError. Hint: count comparable pairs and check for 0"""
    try:
        harrell_c([1.0, 2.0, 3.0], [0, 0, 0], [0.1, 0.2, 0.3])
    except ValueError:
        return
    raise AssertionError("no ValueError for an all-censored cohort")


mk.check("harrell_c", test_perfect_and_reversed, test_censoring_and_ties, test_all_censored_is_undefined, budget=10)
### BEGIN HIDDEN TESTS
def _c_matches_library():
    from sksurv.metrics import concordance_index_censored

    rng = np.random.default_rng(7)
    t = rng.exponential(1, 60) + 0.1  # distinct times (libraries differ on tied event/censoring times)
    e = rng.random(60) < 0.6
    r = np.round(rng.normal(size=60), 1)  # tied risks count 1/2
    assert np.isclose(harrell_c(t, e.astype(int), r), concordance_index_censored(e, t, r)[0])


def _c_cohort_sources():
    t, e = cohort["time"], cohort["event"]
    full = harrell_c(t, e, cohort["risk"])
    assert 0.65 < full < 0.9 and all(harrell_c(t, e, cohort["parts"][k]) < full for k in ("imaging", "clinical"))


def _c_same_time_events_not_comparable():
    try:
        harrell_c([2.0, 2.0], [1, 1], [0.5, 0.1])
    except ValueError:
        return
    raise AssertionError("tied event times were treated as comparable")


mk.check("harrell_c", _c_matches_library, _c_cohort_sources, _c_same_time_events_not_comparable, budget=10,
         hidden=True)
### END HIDDEN TESTS

# %% [markdown] readonly id=ex3_text
# ## Exercise 3 — Late fusion with a missing modality (3 points)
#
# Each modality has its own model, so each gives its own risk score. Implement
# `late_fusion(scores, weights)`:
#
# * `scores` maps a modality name to a 1D array of risk scores, or to `None` when that modality is
#   missing for this batch of patients; `weights` maps every modality name to a non-negative weight;
# * standardise each available score (subtract its mean, divide by its standard deviation) so that
#   models on different scales count fairly;
# * return the weighted average over the **available** modalities, weights renormalised to sum to 1;
# * if no modality with a positive weight is available, raise a `ValueError`.

# %% solution id=ex3_answer exercise=late_fusion
def late_fusion(scores, weights):
    """Weighted mean of standardised risk scores over the modalities that are present."""
    ### BEGIN SOLUTION
    avail = [m for m, s in scores.items() if s is not None and weights.get(m, 0) > 0]
    if not avail:
        raise ValueError("no modality with a positive weight is available")
    total = sum(weights[m] for m in avail)
    out = 0.0
    for m in avail:
        s = np.asarray(scores[m], dtype=float)
        out = out + weights[m] / total * (s - s.mean()) / s.std()
    return out
    ### END SOLUTION

# %% tests id=ex3_tests points=3
def test_equal_weights_mean():
    """equal weights average the standardised scores. Hint: (s - s.mean()) / s.std()"""
    a, b = np.array([1.0, 2.0, 3.0]), np.array([10.0, 30.0, 20.0])
    z = lambda s: (s - s.mean()) / s.std()  # noqa: E731
    out = late_fusion({"img": a, "clin": b}, {"img": 1.0, "clin": 1.0})
    assert np.allclose(out, (z(a) + z(b)) / 2)


def test_missing_modality_renormalises():
    """a None modality is skipped and the weights renormalised. Hint: sum the weights of present ones"""
    a = np.array([1.0, 2.0, 4.0])
    out = late_fusion({"img": a, "gen": None}, {"img": 1.0, "gen": 3.0})
    assert np.allclose(out, (a - a.mean()) / a.std())


def test_nothing_available():
    """nothing available raises ValueError. Hint: check before averaging"""
    try:
        late_fusion({"img": None}, {"img": 1.0})
    except ValueError:
        return
    raise AssertionError("no ValueError when every modality is missing")


mk.check("late_fusion", test_equal_weights_mean, test_missing_modality_renormalises, test_nothing_available,
         budget=10)
### BEGIN HIDDEN TESTS
def _late_beats_single_on_cohort():
    parts = cohort["parts"]
    scores = {k: parts[k].to_numpy() for k in ("imaging", "clinical", "genomic")}
    t, e = cohort["time"], cohort["event"]
    fused = late_fusion(scores, {k: 1.0 for k in scores})
    from sksurv.metrics import concordance_index_censored as cic

    c = lambda r: cic(e.astype(bool), t, r)[0]  # noqa: E731
    assert c(fused) > max(c(s) for s in scores.values())
    two = late_fusion(dict(scores, genomic=None), {k: 1.0 for k in scores})
    assert two.shape == t.shape and np.isfinite(two).all()


def _late_zero_weight_only():
    try:
        late_fusion({"a": np.array([1.0, 2.0]), "b": None}, {"a": 0.0, "b": 1.0})
    except ValueError:
        return
    raise AssertionError("a zero-weight modality alone was accepted")


def _late_weights_matter():
    a, b = np.array([1.0, 2.0, 3.0, 4.0]), np.array([4.0, 1.0, 3.0, 2.0])
    z = lambda s: (s - s.mean()) / s.std()  # noqa: E731
    assert np.allclose(late_fusion({"a": a, "b": b}, {"a": 3.0, "b": 1.0}), 0.75 * z(a) + 0.25 * z(b))


mk.check("late_fusion", _late_beats_single_on_cohort, _late_zero_weight_only, _late_weights_matter, budget=10,
         hidden=True)
### END HIDDEN TESTS

# %% [markdown] readonly id=q4_text
# ## Exercise 4 — Written answer (2 points, graded by your instructor)
#
# A paper reports Harrell's C = 0.81 for its fusion model on a cohort where 85% of patients are
# censored, and no confidence interval. In three or four sentences: why should you be cautious, and
# what would you ask the authors to report instead or in addition?

# %% [markdown] manual id=q4_answer points=2
# ### BEGIN SOLUTION
# With 85% censoring few pairs are comparable, and Harrell's C is biased upwards under heavy censoring
# (it depends on the censoring distribution). A point estimate without an interval hides how uncertain
# it is on so few events. Ask for Uno's IPCW C-index with a stated truncation time τ, bootstrap (or
# cross-validated) confidence intervals, the number of events, and a comparison against simple
# single-source baselines such as a clinical-only model evaluated on the same test set.
# ### END SOLUTION

# %% [markdown] rubric id=q4_rubric for=q4_answer
# - 1: with heavy censoring few pairs are comparable and Harrell's C is biased and uncertain; a point estimate alone hides that
# - 1: asks for Uno's IPCW C with a truncation time, confidence intervals, the number of events and a simple baseline on the same test set

# %% [markdown] readonly id=ex5_text
# ## Exercise 5 — Kaplan–Meier curves and the log-rank test (4 points)
#
# A risk model is usually shown by splitting patients into risk groups and drawing a Kaplan–Meier curve
# for each. Write, with `numpy` (and `scipy.stats.chi2` for the p-value):
#
# 1. `kaplan_meier(time, event)` returns `(t, s)`: `t` the sorted distinct times at which at least one
#    event happened, and `s[k]` the estimated probability of surviving past `t[k]`,
#    $S(t_k) = \prod_{j \le k} (1 - d_j / n_j)$, where $d_j$ is the number of events at $t_j$ and $n_j$ the
#    number still at risk (time $\ge t_j$; a patient censored at $t_j$ is still at risk there).
# 2. `logrank(time, event, group)` compares two groups (`group` boolean, or 0/1) and returns
#    `(chi2, p)`: at every distinct event time, the observed events in group 1 minus the expected number
#    $d_j n_{1j} / n_j$, summed, squared, divided by the summed hypergeometric variance
#    $d_j \frac{n_{1j}}{n_j}\big(1 - \frac{n_{1j}}{n_j}\big)\frac{n_j - d_j}{n_j - 1}$; `p` from a χ² with
#    one degree of freedom.
#
# Below, the true risk of your cohort splits it at the median into a high- and a low-risk group; the test
# cell draws both curves.

# %% solution id=ex5_answer exercise=km_logrank
def kaplan_meier(time, event):
    """Kaplan–Meier estimate: (distinct event times, survival just after each)."""
    ### BEGIN SOLUTION
    time, event = np.asarray(time, dtype=float), np.asarray(event).astype(bool)
    t = np.unique(time[event])
    d = np.array([np.sum(event & (time == tj)) for tj in t])
    n = np.array([np.sum(time >= tj) for tj in t])
    return t, np.cumprod(1.0 - d / n)
    ### END SOLUTION


def logrank(time, event, group):
    """Two-group log-rank test: (chi-squared statistic, p-value with 1 degree of freedom)."""
    ### BEGIN SOLUTION
    from scipy.stats import chi2

    time, event = np.asarray(time, dtype=float), np.asarray(event).astype(bool)
    group = np.asarray(group).astype(bool)
    o_minus_e, var = 0.0, 0.0
    for tj in np.unique(time[event]):
        at_risk = time >= tj
        n, n1 = at_risk.sum(), (at_risk & group).sum()
        d, d1 = (event & (time == tj)).sum(), (event & (time == tj) & group).sum()
        o_minus_e += d1 - d * n1 / n
        if n > 1:
            var += d * (n1 / n) * (1 - n1 / n) * (n - d) / (n - 1)
    stat = o_minus_e**2 / var
    return float(stat), float(chi2.sf(stat, 1))
    ### END SOLUTION

# %% tests id=ex5_tests points=4
def test_km_by_hand():
    """five patients, a censored tie at t=2. Hint: n_j counts everyone with time >= t_j"""
    t, s = kaplan_meier([1, 2, 2, 3, 4], [1, 1, 0, 1, 0])
    assert np.allclose(t, [1, 2, 3]) and np.allclose(s, [0.8, 0.6, 0.3])


def test_logrank_separates_risk_groups():
    """the high-risk half dies sooner: a large chi2, p < 0.05. Hint: p = scipy.stats.chi2.sf(stat, 1)"""
    high = cohort["risk"] > np.median(cohort["risk"])
    stat, p = logrank(cohort["time"], cohort["event"], high)
    assert stat > 3.84 and 0 <= p < 0.05
    import matplotlib.pyplot as plt

    for mask, name in ((high, "high risk"), (~high, "low risk")):
        t, s = kaplan_meier(cohort["time"][mask], cohort["event"][mask])
        plt.step(np.r_[0, t], np.r_[1, s], where="post", label=name)
    plt.xlabel("months")
    plt.ylabel("survival")
    plt.title(f"log-rank chi2 = {stat:.1f}, p = {p:.1g}")
    plt.legend()
    plt.show()


mk.check("km_logrank", test_km_by_hand, test_logrank_separates_risk_groups, budget=20)
### BEGIN HIDDEN TESTS
def _km_matches_lifelines():
    from lifelines import KaplanMeierFitter

    t, e = cohort["time"], cohort["event"]
    km = KaplanMeierFitter().fit(t, e)
    ours_t, ours_s = kaplan_meier(t, e)
    assert np.allclose(ours_s, km.survival_function_at_times(ours_t).to_numpy())


def _km_ties_and_censoring():
    t, s = kaplan_meier(np.array([5.0, 5.0, 5.0, 7.0, 9.0, 9.0]), np.array([1, 1, 0, 0, 1, 0]))
    assert np.allclose(t, [5.0, 9.0]) and np.allclose(s, [4 / 6, 4 / 6 * 0.5])


def _logrank_matches_lifelines():
    from lifelines.statistics import logrank_test

    t, e = cohort["time"], cohort["event"]
    g = np.random.default_rng(3).random(len(t)) < 0.4
    ref = logrank_test(t[g], t[~g], e[g], e[~g])
    stat, p = logrank(t, e, g.astype(int))
    assert np.isclose(stat, ref.test_statistic) and np.isclose(p, ref.p_value)


mk.check("km_logrank", _km_matches_lifelines, _km_ties_and_censoring, _logrank_matches_lifelines, budget=20,
         hidden=True)
### END HIDDEN TESTS
