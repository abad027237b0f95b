# Assignment 02 - CNN classification: class imbalance, a weighted loss, sensitivity/specificity and AUC.
# Authoring source of assignments/source/02_cnn_classification/02_cnn_classification.ipynb
# (regenerate with `medimg grade build`; format: assignments/README.md).

# %% [markdown] readonly id=intro
# # Assignment 02 — Classification metrics and class imbalance
#
# In lesson 02 a classifier met a data set where positives are rare. A plain loss then rewards
# predicting "negative" everywhere, and accuracy hides it. Here you build the tools that expose and fix
# that: class frequencies, a weighted binary cross-entropy, sensitivity/specificity at a threshold, and
# the ROC AUC. Then you train a CNN end to end on images grouped by patient, graded on patients you never
# see, and you take apart a published accuracy figure in words.
#
# * Use `numpy` only in exercises 1–4 (no scikit-learn in your answers); exercise 5 uses `mk` and `torch`.
# * Run each test cell to check your work; hidden tests use other data and edge cases.
#
# | Exercise | Points |
# |---|---|
# | 1. Class frequencies and balancing weights | 2 |
# | 2. Weighted binary cross-entropy | 3 |
# | 3. Sensitivity and specificity at a threshold | 2 |
# | 4. ROC AUC from ranks | 3 |
# | 5. Split by patient, train with `mk.Trainer`, graded on hidden patients (AUC bands 0.65 / 0.72) | 6 |
# | 6. "97 % accuracy": what a published figure can hide (written, rubric) | 3 |

# %% readonly id=setup
import numpy as np

import medimg_kernel as mk

# your own variant: the seed comes from your student id (mk.student_id()), so your numbers differ from
# your neighbour's; solve the general problem and the tests pass for every variant
rng = np.random.default_rng(mk.variant_seed("02_cnn_classification"))
# about 200 chest images x 3 findings (multi-label: one rare, one uncommon, one common) and a model's scores
n_images = int(rng.integers(180, 241))
prevalence = np.array([rng.uniform(0.04, 0.08), rng.uniform(0.15, 0.25), rng.uniform(0.4, 0.55)])
separation = rng.uniform(0.3, 0.4)  # how much higher the model scores a positive, on average
labels = (rng.random((n_images, 3)) < prevalence).astype(int)
scores = np.clip(labels * separation + rng.normal(0.35, 0.2, labels.shape), 0, 1)
print("variant of", mk.student_id(), "- positives per finding:", labels.sum(axis=0), "of", len(labels),
      "images; mean score:", round(float(scores.mean()), 3))

# %% [markdown] readonly id=ex1_text
# ## Exercise 1 — Class frequencies (2 points)
#
# Implement `class_frequencies(labels)` for a `(N, C)` array of 0/1 labels: return `(pos_freq, neg_freq)`,
# two float arrays of length `C` with the fraction of positives and negatives per column.
#
# Then `balancing_weights(labels)` returns `(w_pos, w_neg)` such that positives and negatives contribute
# **equally** to the loss: $w_{pos} \cdot f_{pos} = w_{neg} \cdot f_{neg}$ in every column. Use
# $w_{pos} = f_{neg}$ and $w_{neg} = f_{pos}$.

# %% solution id=ex1_answer exercise=frequencies
def class_frequencies(labels):
    """Return (pos_freq, neg_freq): fraction of positive and negative labels per column."""
    ### BEGIN SOLUTION
    labels = np.asarray(labels, dtype=float)
    if labels.ndim == 1:
        labels = labels[:, None]
    pos = labels.mean(axis=0)
    return pos, 1.0 - pos
    ### END SOLUTION


def balancing_weights(labels):
    """Return (w_pos, w_neg) so that positives and negatives contribute equally per column."""
    ### BEGIN SOLUTION
    pos, neg = class_frequencies(labels)
    return neg, pos
    ### END SOLUTION

# %% tests id=ex1_tests points=2
def test_frequencies_small():
    """frequencies of a 4 x 2 example. Hint: the mean of a 0/1 column is its fraction of ones"""
    pos, neg = class_frequencies(np.array([[1, 0], [0, 0], [1, 1], [0, 0]]))
    assert np.allclose(pos, [0.5, 0.25]) and np.allclose(neg, [0.5, 0.75])


def test_weights_balance_contributions():
    """weighted positives equal weighted negatives. Hint: w_pos = neg_freq, w_neg = pos_freq"""
    pos, neg = class_frequencies(labels)
    w_pos, w_neg = balancing_weights(labels)
    assert np.allclose(w_pos * pos, w_neg * neg)


mk.check("frequencies", test_frequencies_small, test_weights_balance_contributions, budget=5)
### BEGIN HIDDEN TESTS
def _freq_held_out():
    lab = (np.random.default_rng(3).random((50, 4)) < 0.3).astype(int)
    pos, neg = class_frequencies(lab)
    assert np.allclose(pos, lab.mean(0)) and np.allclose(pos + neg, 1)


def _freq_all_negative_column():
    w_pos, w_neg = balancing_weights(np.array([[0, 1], [0, 1], [0, 0]]))
    assert np.allclose(w_pos, [1.0, 1 / 3]) and np.allclose(w_neg, [0.0, 2 / 3])


mk.check("frequencies", _freq_held_out, _freq_all_negative_column, budget=5, hidden=True)
### END HIDDEN TESTS

# %% [markdown] readonly id=ex2_text
# ## Exercise 2 — Weighted binary cross-entropy (3 points)
#
# $$L = -\frac{1}{N}\sum_{i}\sum_{c}\Big[w_{pos,c}\, y_{ic}\log(p_{ic} + \epsilon)
#       + w_{neg,c}\,(1-y_{ic})\log(1-p_{ic} + \epsilon)\Big]$$
#
# Implement `weighted_bce(y_true, y_prob, w_pos, w_neg, eps=1e-7)` for `(N, C)` arrays and length-`C`
# weights, returning a Python `float`. Sum over the columns, average over the samples.

# %% solution id=ex2_answer exercise=weighted_bce
def weighted_bce(y_true, y_prob, w_pos, w_neg, eps=1e-7):
    """Weighted binary cross-entropy summed over classes and averaged over samples."""
    ### BEGIN SOLUTION
    y = np.asarray(y_true, dtype=float)
    p = np.asarray(y_prob, dtype=float)
    if y.ndim == 1:
        y, p = y[:, None], p[:, None]
    w_pos = np.asarray(w_pos, dtype=float)
    w_neg = np.asarray(w_neg, dtype=float)
    per = w_pos * y * np.log(p + eps) + w_neg * (1 - y) * np.log(1 - p + eps)
    return float(-per.sum(axis=1).mean())
    ### END SOLUTION

# %% tests id=ex2_tests points=3
def test_single_value():
    """one positive predicted 0.5 with w_pos=2 gives 2*log 2. Hint: -w_pos * log(p) for a positive"""
    loss = weighted_bce(np.array([[1]]), np.array([[0.5]]), np.array([2.0]), np.array([1.0]))
    assert np.isclose(loss, 2 * np.log(2), atol=1e-5)


def test_returns_float_and_is_positive():
    """a positive Python float on the lesson data. Hint: return float(...)"""
    w_pos, w_neg = 1 - labels.mean(axis=0), labels.mean(axis=0)  # balancing weights of your variant
    loss = weighted_bce(labels, scores, w_pos, w_neg)
    assert isinstance(loss, float) and loss > 0


def test_perfect_prediction_is_near_zero():
    """p = y gives (almost) zero loss. Hint: eps keeps log(0) finite"""
    loss = weighted_bce(labels, labels.astype(float), np.ones(3), np.ones(3))
    assert abs(loss) < 1e-5


mk.check("weighted_bce", test_single_value, test_returns_float_and_is_positive,
         test_perfect_prediction_is_near_zero, budget=5)
### BEGIN HIDDEN TESTS
def _wbce_reference():
    rng2 = np.random.default_rng(9)
    y = (rng2.random((30, 2)) < 0.4).astype(int)
    p = rng2.uniform(0.01, 0.99, (30, 2))
    wp, wn = np.array([0.6, 0.7]), np.array([0.4, 0.3])
    ref = -(wp * y * np.log(p + 1e-7) + wn * (1 - y) * np.log(1 - p + 1e-7)).sum(1).mean()
    assert np.isclose(weighted_bce(y, p, wp, wn), ref, rtol=1e-6)


def _wbce_confident_mistake_finite():
    loss = weighted_bce(np.array([[1, 0]]), np.array([[0.0, 1.0]]), np.ones(2), np.ones(2))
    assert np.isfinite(loss) and loss > 20


def _wbce_weights_matter():
    y, p = np.array([[1], [0]]), np.array([[0.3], [0.3]])
    a = weighted_bce(y, p, np.array([1.0]), np.array([1.0]))
    b = weighted_bce(y, p, np.array([3.0]), np.array([1.0]))
    assert b > a + 0.5


def _wbce_variant_reference():
    wp, wn = 1 - labels.mean(axis=0), labels.mean(axis=0)
    ref = -(wp * labels * np.log(scores + 1e-7) + wn * (1 - labels) * np.log(1 - scores + 1e-7)).sum(1).mean()
    assert np.isclose(weighted_bce(labels, scores, wp, wn), ref, rtol=1e-6)


mk.check("weighted_bce", _wbce_reference, _wbce_confident_mistake_finite, _wbce_weights_matter,
         _wbce_variant_reference, budget=5, hidden=True)
### END HIDDEN TESTS

# %% [markdown] readonly id=ex3_text
# ## Exercise 3 — Sensitivity and specificity at a threshold (2 points)
#
# Implement `sens_spec(y_true, y_score, threshold)` for 1-D arrays: predict positive when
# `score >= threshold`; return `(sensitivity, specificity)` as floats. If there are no positives
# (or negatives), the corresponding value is `nan`.

# %% solution id=ex3_answer exercise=sens_spec
def sens_spec(y_true, y_score, threshold):
    """Return (sensitivity, specificity) when predicting positive for score >= threshold."""
    ### BEGIN SOLUTION
    y = np.asarray(y_true).astype(bool)
    pred = np.asarray(y_score) >= threshold
    tp = np.sum(pred & y)
    tn = np.sum(~pred & ~y)
    sens = tp / y.sum() if y.sum() else float("nan")
    spec = tn / (~y).sum() if (~y).sum() else float("nan")
    return float(sens), float(spec)
    ### END SOLUTION

# %% tests id=ex3_tests points=2
def test_small_example():
    """2 of 3 positives and 1 of 2 negatives right. Hint: sensitivity = TP / positives"""
    sens, spec = sens_spec(np.array([1, 1, 1, 0, 0]), np.array([0.9, 0.6, 0.2, 0.7, 0.1]), 0.5)
    assert np.isclose(sens, 2 / 3) and np.isclose(spec, 0.5)


def test_threshold_is_inclusive():
    """a score equal to the threshold counts as positive. Hint: use >="""
    sens, spec = sens_spec(np.array([1, 0]), np.array([0.5, 0.4]), 0.5)
    assert sens == 1.0 and spec == 1.0


mk.check("sens_spec", test_small_example, test_threshold_is_inclusive, budget=5)
### BEGIN HIDDEN TESTS
def _ss_no_positives():
    sens, spec = sens_spec(np.array([0, 0, 0]), np.array([0.1, 0.8, 0.3]), 0.5)
    assert np.isnan(sens) and np.isclose(spec, 2 / 3)


def _ss_extremes():
    y, s = labels[:, 1], scores[:, 1]
    assert sens_spec(y, s, -1.0)[0] == 1.0 and sens_spec(y, s, 2.0)[1] == 1.0


def _ss_held_out():
    rng3 = np.random.default_rng(21)
    y = rng3.random(40) < 0.5
    s = rng3.random(40)
    t = 0.37
    ref = ((s >= t) & y).sum() / y.sum(), ((s < t) & ~y).sum() / (~y).sum()
    assert np.allclose(sens_spec(y.astype(int), s, t), ref)


mk.check("sens_spec", _ss_no_positives, _ss_extremes, _ss_held_out, budget=5, hidden=True)
### END HIDDEN TESTS

# %% [markdown] readonly id=ex4_text
# ## Exercise 4 — ROC AUC from ranks (3 points)
#
# The AUC is the probability that a random positive scores higher than a random negative (ties count
# one half). Implement `roc_auc(y_true, y_score)` by comparing scores of positives and negatives
# (or with ranks: the Mann–Whitney statistic). Return a float; `nan` when one class is missing.

# %% solution id=ex4_answer exercise=roc_auc
def roc_auc(y_true, y_score):
    """ROC AUC as P(score of a positive > score of a negative), ties counted 1/2."""
    ### BEGIN SOLUTION
    y = np.asarray(y_true).astype(bool)
    s = np.asarray(y_score, dtype=float)
    pos, neg = s[y], s[~y]
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    greater = (pos[:, None] > neg[None, :]).sum()
    ties = (pos[:, None] == neg[None, :]).sum()
    return float((greater + 0.5 * ties) / (len(pos) * len(neg)))
    ### END SOLUTION

# %% tests id=ex4_tests points=3
def test_perfect_and_reversed():
    """perfect ranking gives 1, reversed gives 0. Hint: count positive-negative pairs in the right order"""
    y = np.array([0, 0, 1, 1])
    assert roc_auc(y, np.array([0.1, 0.2, 0.8, 0.9])) == 1.0
    assert roc_auc(y, np.array([0.9, 0.8, 0.2, 0.1])) == 0.0


def test_ties_count_half():
    """all scores equal gives 0.5. Hint: a tied pair counts 1/2"""
    assert np.isclose(roc_auc(np.array([0, 1, 0, 1]), np.full(4, 0.3)), 0.5)


def test_lesson_scores_are_informative():
    """the lesson model's AUC for finding 3 is clearly above chance. Hint: compare every pair"""
    assert 0.75 < roc_auc(labels[:, 2], scores[:, 2]) <= 1.0


mk.check("roc_auc", test_perfect_and_reversed, test_ties_count_half, test_lesson_scores_are_informative,
         budget=5)
### BEGIN HIDDEN TESTS
def _auc_held_out():
    rng4 = np.random.default_rng(33)
    y = rng4.random(60) < 0.3
    s = np.round(rng4.random(60) + 0.3 * y, 1)  # with ties
    pos, neg = s[y], s[~y]
    ref = ((pos[:, None] > neg).sum() + 0.5 * (pos[:, None] == neg).sum()) / (len(pos) * len(neg))
    assert np.isclose(roc_auc(y.astype(int), s), ref)


def _auc_one_class():
    assert np.isnan(roc_auc(np.zeros(5), np.linspace(0, 1, 5)))


def _auc_invariant_to_monotone_transform():
    y, s = labels[:, 1], scores[:, 1]
    assert np.isclose(roc_auc(y, s), roc_auc(y, np.exp(3 * s)))


def _auc_variant_reference():
    y, s = labels[:, 2].astype(bool), scores[:, 2]
    pos, neg = s[y], s[~y]
    ref = ((pos[:, None] > neg).sum() + 0.5 * (pos[:, None] == neg).sum()) / (len(pos) * len(neg))
    assert np.isclose(roc_auc(labels[:, 2], s), ref)


mk.check("roc_auc", _auc_held_out, _auc_one_class, _auc_invariant_to_monotone_transform,
         _auc_variant_reference, budget=5, hidden=True)
### END HIDDEN TESTS

# %% [markdown] readonly id=ex5_text
# ## Exercise 5 — Train end to end, split by patient (6 points)
#
# `cohort` below holds chest-like images of 60 patients, 6 images each, one label per patient (finding
# present or absent). Each patient's anatomy is a strong fingerprint shared by all of their images, and
# the finding is a faint blob at a random place. Lesson 02 showed what an image-level split does here:
# a model recognises the patient and the test score is a lie.
#
# 1. `patient_split(patients, test_fraction=0.25, seed=0)` returns `(train_rows, val_rows)`, two integer
#    index arrays that together cover every row once, such that **no patient has rows on both sides**
#    and about `test_fraction` of the *patients* are in validation.
# 2. `train_classifier(images, labels, seed=0)` builds a 2D classifier with `mk.build_model` (two
#    outputs) and trains it with `mk.Trainer(..., task="classification", seed=seed)`; it returns the
#    trained `mk.Trainer`. About 10 epochs of the small CNN (`"simplecnn"`) take a few seconds. Pass the
#    Trainer a function that builds the network (not the network): it seeds first, so every run starts from
#    the same weights and your grade does not depend on luck.
# 3. `predict_proba(trainer, images)` returns P(finding) per image, shape `(N,)`, using
#    `trainer.predict` (it handles the device and batching for you).
#
# The tests train once on your patient-level training rows and check that you beat chance on your own
# validation patients. The grader then scores the same model on **new patients you never see**:
# AUC ≥ 0.65 and ≥ 0.72 earn 2 points each. The pixel baseline printed below is at chance on new
# patients: it memorises anatomy.

# %% readonly id=ex5_setup
import torch  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402

torch.set_num_threads(1)  # the same numbers on any grading machine
_cohort_seed = mk.variant_seed("02_cnn_classification", salt="cohort") % 100_000
cohort = mk.synthetic.patient_images(360, seed=_cohort_seed, per_patient=6, signal=0.6, fingerprint=0.7)
_base_split = np.arange(len(cohort["labels"])) < 270  # first 45 patients: rows are grouped by patient
_pixels = cohort["images"].reshape(len(cohort["images"]), -1)
_pixel_model = LogisticRegression(max_iter=500, C=0.1).fit(_pixels[_base_split], cohort["labels"][_base_split])
pixel_baseline_auc = roc_auc_score(cohort["labels"][~_base_split], _pixel_model.predict_proba(_pixels[~_base_split])[:, 1])
print(f"{len(np.unique(cohort['patients']))} patients, {len(cohort['labels'])} images; pixel logistic "
      f"regression on the last 15 patients: AUC {pixel_baseline_auc:.3f}")

# %% solution id=ex5_answer exercise=train_end_to_end
def patient_split(patients, test_fraction=0.25, seed=0):
    """Return (train_rows, val_rows) with every patient on one side only."""
    ### BEGIN SOLUTION
    patients = np.asarray(patients)
    ids = np.unique(patients)
    rng_split = np.random.default_rng(seed)
    n_val = max(1, int(round(test_fraction * len(ids))))
    val_ids = rng_split.choice(ids, size=n_val, replace=False)
    in_val = np.isin(patients, val_ids)
    return np.flatnonzero(~in_val), np.flatnonzero(in_val)
    ### END SOLUTION


def train_classifier(images, labels, seed=0):
    """Build a small 2D CNN with mk.build_model and train it with mk.Trainer; return the trainer."""
    ### BEGIN SOLUTION
    def net():  # the Trainer seeds, then builds: the same initial weights on every run
        return mk.build_model("simplecnn", spatial_dims=2, in_channels=1, out_channels=2)

    trainer = mk.Trainer(net, task="classification", lr=3e-3, max_epochs=10, batch_size=32, seed=seed,
                         precision="fp32", progress=False)
    trainer.fit((images, labels))
    return trainer
    ### END SOLUTION


def predict_proba(trainer, images):
    """P(finding) for each image, as a numpy array of shape (N,)."""
    ### BEGIN SOLUTION
    logits = trainer.predict(images)
    return torch.softmax(logits.float(), dim=1)[:, 1].cpu().numpy()
    ### END SOLUTION

# %% tests id=ex5_tests points=2
trained = None


def test_split_keeps_patients_apart():
    """no patient on both sides, every row once. Hint: choose validation *patients*, then take their rows"""
    tr, va = patient_split(cohort["patients"], 0.25, seed=0)
    assert len(set(cohort["patients"][tr]) & set(cohort["patients"][va])) == 0
    assert sorted(np.concatenate([tr, va]).tolist()) == list(range(len(cohort["patients"])))
    assert 10 <= len(np.unique(cohort["patients"][va])) <= 20


def test_trains_and_beats_chance_on_own_validation_patients():
    """the trained model beats chance on your validation patients. Hint: mk.build_model + mk.Trainer.fit"""
    global trained
    tr, va = patient_split(cohort["patients"], 0.25, seed=0)
    trained = train_classifier(cohort["images"][tr], cohort["labels"][tr], seed=0)
    assert isinstance(trained, mk.Trainer)
    p = predict_proba(trained, cohort["images"][va])
    assert np.asarray(p).shape == (len(va),) and np.all((p >= 0) & (p <= 1))
    assert roc_auc_score(cohort["labels"][va], p) > 0.6


mk.check("train_end_to_end", test_split_keeps_patients_apart, test_trains_and_beats_chance_on_own_validation_patients,
         budget=120)
### BEGIN HIDDEN TESTS
def _split_other_cohort():
    pats = np.repeat(np.arange(40), 3)[np.random.default_rng(5).permutation(120)]
    tr, va = patient_split(pats, 0.5, seed=3)
    assert not set(pats[tr]) & set(pats[va]) and len(tr) + len(va) == 120
    assert 15 <= len(np.unique(pats[va])) <= 25


def _split_depends_on_seed():
    a = patient_split(cohort["patients"], 0.25, seed=1)[1]
    b = patient_split(cohort["patients"], 0.25, seed=2)[1]
    assert not np.array_equal(np.sort(a), np.sort(b))


mk.check("train_end_to_end", _split_other_cohort, _split_depends_on_seed, budget=10, hidden=True)
### END HIDDEN TESTS

# %% tests id=ex5_band1 points=2
def test_model_ready():
    """the model trained by the tests above exists. Hint: make Exercise 5's tests pass first"""
    assert trained is not None


mk.check("train_end_to_end", test_model_ready, budget=5)
### BEGIN HIDDEN TESTS
_held_seed = mk.variant_seed("02_cnn_classification", salt="held-out") % 100_000
_held = mk.synthetic.patient_images(240, seed=_held_seed, per_patient=6, signal=0.6, fingerprint=0.7)


def _held_band_065():
    assert roc_auc_score(_held["labels"], predict_proba(trained, _held["images"])) >= 0.65


mk.check("train_end_to_end", _held_band_065, budget=30, hidden=True)
### END HIDDEN TESTS

# %% tests id=ex5_band2 points=2
mk.check("train_end_to_end", test_model_ready, budget=5)
### BEGIN HIDDEN TESTS
def _held_band_072():
    assert roc_auc_score(_held["labels"], predict_proba(trained, _held["images"])) >= 0.72


mk.check("train_end_to_end", _held_band_072, budget=30, hidden=True)
### END HIDDEN TESTS

# %% [markdown] readonly id=q6_text
# ## Exercise 6 — "97 % accuracy" (written, 3 points)
#
# A press release says a CNN reads screening mammograms with **97 % accuracy**. In the screened
# population about 0.6 % of women have cancer. A model that calls every mammogram "normal" already scores
# 99.4 %. Suppose instead the CNN has sensitivity 0.90 and specificity 0.97.
#
# In a few sentences: (a) why accuracy is the wrong headline here, (b) what fraction of the women the CNN
# flags actually have cancer (the PPV, with your arithmetic for 100,000 women), and (c) two things you
# would check before comparing this figure with another paper's (think of how the test set was drawn).

# %% [markdown] manual id=q6_answer points=3
# ### BEGIN SOLUTION
# (a) At 0.6 % prevalence accuracy is dominated by the negatives: "always normal" scores 99.4 %, higher
# than the CNN, while finding no cancer at all (the accuracy paradox). Report sensitivity, specificity, PPV
# and NPV (or AUC) instead. (b) Of 100,000 women, 600 have cancer: 540 true positives; of 99,400 without,
# 3 % = 2,982 false positives. PPV = 540 / (540 + 2,982) ≈ 15 %: about 6 of 7 recalls are false alarms.
# (c) Whether the test set has the screening prevalence (enriched case-control sets inflate PPV and
# change accuracy), whether it was split by patient and came from another site/scanner than training,
# and whether the operating point was chosen on the test set.
# ### END SOLUTION

# %% [markdown] rubric id=q6_rubric for=q6_answer
# - 1: accuracy is dominated by the majority class at low prevalence; the all-normal model beats the CNN on accuracy (the accuracy paradox)
# - 1: PPV computed from prevalence, sensitivity and specificity (about 15 %, e.g. 540 / 3,522), with the arithmetic
# - 1: two valid checks on the comparison: test-set prevalence/enrichment, patient-level or external split, the operating point chosen on test data, the same population and reference standard
