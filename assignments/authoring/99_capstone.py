# Assignment 99 - Capstone: train, evaluate, explain and document a lesion classifier end to end.
# Authoring source of assignments/source/99_capstone/99_capstone.ipynb
# (regenerate with `medimg grade build`; format: assignments/README.md).

# %% [markdown] readonly id=intro
# # Capstone — a lesion classifier from data to model card
#
# This assignment puts the course together on one task: does a 32×32 image patch contain a lesion?
# You **train** a model, **evaluate** it honestly, **explain** what it looks at, and **document** it in
# a model card. The grader scores your trained model on a **hidden held-out set** you never see (drawn
# from the same population), in performance bands, and an instructor marks the model card with the
# rubric shown under it.
#
# * Your data are your own variant (seeded by your student id); the tests work for every variant.
# * Everything runs on a CPU in well under a minute. Use `numpy`, `torch`, `scikit-learn` and `mk`.
# * The simple baseline to beat is logistic regression on the raw pixels (printed below).
#
# | Exercise | Points |
# |---|---|
# | 1. Train a model (graded on hidden held-out data: AUC bands 0.75 / 0.85 / 0.88) | 8 |
# | 2. Evaluate at an operating point | 3 |
# | 3. Explain: saliency that points at the lesion | 3 |
# | 4. Model card (written, rubric) | 4 |

# %% readonly id=setup
import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

import medimg_kernel as mk

torch.set_num_threads(1)  # the same numbers on any grading machine


def make_patches(n, seed):
    """n 32x32 patches, half with a faint blob lesion: (images float32 (n, 1, 32, 32), labels (n,), masks)."""
    d = mk.synthetic.lesions2d(n, seed=seed, size=32, prevalence=0.5, contrast=0.32, noise=0.08,
                               radius=(0.07, 0.12))
    return d["images"].astype(np.float32), d["labels"].astype(np.int64), d["masks"][:, 0].astype(bool)


_seed = mk.variant_seed("99_capstone") % 100_000
x_train, y_train, _ = make_patches(240, _seed)
x_val, y_val, m_val = make_patches(80, _seed + 1)
baseline = LogisticRegression(max_iter=500).fit(x_train.reshape(len(x_train), -1), y_train)
baseline_auc = roc_auc_score(y_val, baseline.predict_proba(x_val.reshape(len(x_val), -1))[:, 1])
print(f"variant of {mk.student_id()}: {len(x_train)} training and {len(x_val)} validation patches; "
      f"pixel logistic regression, validation AUC {baseline_auc:.3f}")

# %% [markdown] readonly id=ex1_text
# ## Exercise 1 — Train a model (8 points)
#
# Implement `train_model(x, y, steps=250, seed=0)` returning a trained `torch.nn.Module` that maps a
# batch `(B, 1, 32, 32)` to two logits, and `predict_proba(model, x)` returning P(lesion) per image as
# a numpy array of shape `(B,)`. Call `torch.manual_seed(seed)` first so training is reproducible.
#
# A lesion can sit anywhere, so the pixel baseline struggles: a small CNN whose features are pooled
# with a **global max** finds a bright blob wherever it is. Train with Adam on random mini-batches.
# The tests train your model once, check it beats the baseline on the validation set, and the grader
# then scores it on held-out patches: AUC ≥ 0.75, ≥ 0.85 and ≥ 0.88 earn 2 points each.

# %% solution id=ex1_answer exercise=train
def train_model(x, y, steps=250, seed=0):
    """Train a small CNN on (x, y) for `steps` mini-batch steps; return it in eval mode."""
    ### BEGIN SOLUTION
    torch.manual_seed(seed)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.ReLU(),
        torch.nn.Conv2d(8, 16, 3, padding=1), torch.nn.ReLU(),
        torch.nn.AdaptiveMaxPool2d(1), torch.nn.Flatten(), torch.nn.Linear(16, 2),
    )
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    xt, yt = torch.as_tensor(x), torch.as_tensor(y)
    g = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        idx = torch.randint(0, len(xt), (32,), generator=g)
        loss = torch.nn.functional.cross_entropy(model(xt[idx]), yt[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()
    ### END SOLUTION


def predict_proba(model, x):
    """P(lesion) for each image of x, as a numpy array of shape (B,)."""
    ### BEGIN SOLUTION
    with torch.no_grad():
        return torch.softmax(model(torch.as_tensor(x, dtype=torch.float32)), 1)[:, 1].numpy()
    ### END SOLUTION

# %% tests id=ex1_tests points=2
model = None


def test_trains_and_predicts():
    """train_model returns a model; predict_proba gives one probability per image. Hint: softmax over 2 logits"""
    global model
    model = train_model(x_train, y_train, steps=250, seed=0)
    p = predict_proba(model, x_val)
    assert isinstance(model, torch.nn.Module)
    assert np.asarray(p).shape == (len(x_val),) and np.all((p >= 0) & (p <= 1))


def test_beats_baseline():
    """validation AUC above the pixel baseline's. Hint: pool CNN features with a global max"""
    assert roc_auc_score(y_val, predict_proba(model, x_val)) > baseline_auc


mk.check("train", test_trains_and_predicts, test_beats_baseline, budget=120)

# %% tests id=ex1_band1 points=2
def test_model_ready():
    """the model trained by the tests above exists. Hint: make Exercise 1's tests pass first"""
    assert model is not None


mk.check("train", test_model_ready, budget=5)
### BEGIN HIDDEN TESTS
_held_x, _held_y, _held_m = make_patches(200, mk.variant_seed("99_capstone", salt="held-out") % 100_000)


def _band_075():
    assert roc_auc_score(_held_y, predict_proba(model, _held_x)) >= 0.75


mk.check("train", _band_075, budget=30, hidden=True)
### END HIDDEN TESTS

# %% tests id=ex1_band2 points=2
mk.check("train", test_model_ready, budget=5)
### BEGIN HIDDEN TESTS
def _band_085():
    assert roc_auc_score(_held_y, predict_proba(model, _held_x)) >= 0.85


mk.check("train", _band_085, budget=30, hidden=True)
### END HIDDEN TESTS

# %% tests id=ex1_band3 points=2
mk.check("train", test_model_ready, budget=5)
### BEGIN HIDDEN TESTS
def _band_088():
    assert roc_auc_score(_held_y, predict_proba(model, _held_x)) >= 0.88


mk.check("train", _band_088, budget=30, hidden=True)
### END HIDDEN TESTS

# %% [markdown] readonly id=ex2_text
# ## Exercise 2 — Evaluate at an operating point (3 points)
#
# A screening tool flags a patch when P(lesion) ≥ a threshold. Implement
# `operating_point(y, p, threshold)` returning a dict with `"sensitivity"`, `"specificity"` and `"ppv"`
# (positive predictive value: the fraction of flagged patches that really hold a lesion; `nan` when
# nothing is flagged). Why PPV? At a low prevalence, a test with good sensitivity and specificity can
# still be wrong about most patients it flags.

# %% solution id=ex2_answer exercise=operating_point
def operating_point(y, p, threshold):
    """Sensitivity, specificity and PPV of the rule p >= threshold."""
    ### BEGIN SOLUTION
    y = np.asarray(y).astype(bool)
    flag = np.asarray(p) >= threshold
    tp, fp = np.sum(flag & y), np.sum(flag & ~y)
    fn, tn = np.sum(~flag & y), np.sum(~flag & ~y)
    return {
        "sensitivity": tp / (tp + fn) if tp + fn else float("nan"),
        "specificity": tn / (tn + fp) if tn + fp else float("nan"),
        "ppv": tp / (tp + fp) if tp + fp else float("nan"),
    }
    ### END SOLUTION

# %% tests id=ex2_tests points=3
def test_small_case():
    """2 of 3 lesions flagged, 1 of 3 healthy flagged. Hint: sensitivity = TP / (TP + FN)"""
    r = operating_point([1, 1, 1, 0, 0, 0], [0.9, 0.8, 0.1, 0.7, 0.2, 0.1], 0.5)
    assert np.isclose(r["sensitivity"], 2 / 3) and np.isclose(r["specificity"], 2 / 3)
    assert np.isclose(r["ppv"], 2 / 3)


def test_nothing_flagged():
    """a threshold above every score flags nothing: PPV is undefined (nan). Hint: guard the division"""
    r = operating_point([1, 0], [0.2, 0.1], 0.9)
    assert np.isnan(r["ppv"]) and r["sensitivity"] == 0 and r["specificity"] == 1


mk.check("operating_point", test_small_case, test_nothing_flagged, budget=5)
### BEGIN HIDDEN TESTS
def _op_matches_sklearn():
    from sklearn.metrics import confusion_matrix

    rng = np.random.default_rng(mk.variant_seed("99_capstone", salt="op"))
    y = rng.integers(0, 2, 300)
    p = np.clip(y * 0.3 + rng.random(300) * 0.7, 0, 1)
    tn, fp, fn, tp = confusion_matrix(y, p >= 0.5).ravel()
    r = operating_point(y, p, 0.5)
    assert np.isclose(r["sensitivity"], tp / (tp + fn)) and np.isclose(r["specificity"], tn / (tn + fp))
    assert np.isclose(r["ppv"], tp / (tp + fp))


mk.check("operating_point", _op_matches_sklearn, budget=5, hidden=True)
### END HIDDEN TESTS

# %% [markdown] readonly id=ex3_text
# ## Exercise 3 — Explain: does the model look at the lesion? (3 points)
#
# Implement `saliency(model, image)` returning a 2D map `(32, 32)` of how much each pixel drives the
# lesion logit (class 1). `mk.explain(model, image, method="gradient", target=1)` does it in one call.
# The tests check the **pointing game**: on patches with a lesion, the map's maximum should fall on
# (or next to) the lesion far more often than chance (about 4 % of the patch).

# %% solution id=ex3_answer exercise=saliency
def saliency(model, image):
    """A (32, 32) map of how strongly each pixel drives the lesion logit."""
    ### BEGIN SOLUTION
    sal = mk.explain(model, image, method="gradient", target=1)
    return np.asarray(sal).reshape(image.shape[-2:])
    ### END SOLUTION

# %% tests id=ex3_tests points=3 requires=train
def _points(maps, masks):
    hits = 0
    for sal, m in zip(maps, masks):
        r, c = np.unravel_index(np.argmax(sal), sal.shape)
        hits += bool(m[max(r - 1, 0): r + 2, max(c - 1, 0): c + 2].any())
    return hits / len(maps)


def test_map_shape():
    """one value per pixel. Hint: reshape mk.explain's output to the image's (32, 32)"""
    assert np.asarray(saliency(model, x_val[0])).shape == (32, 32)


def test_pointing_game():
    """the map's peak hits the lesion in at least 60 % of positive validation patches. Hint: target=1"""
    pos = np.where(y_val == 1)[0][:20]
    assert _points([saliency(model, x_val[i]) for i in pos], m_val[pos]) >= 0.6


mk.check("saliency", test_map_shape, test_pointing_game, budget=60)

# %% [markdown] readonly id=ex4_text
# ## Exercise 4 — Model card (4 points, graded by your instructor)
#
# Write a short model card for your classifier (Mitchell et al., 2019, https://doi.org/10.1145/3287560.3287596):
# its **intended use** and who must not rely on it, the **data** it was trained and validated on, its
# **performance** next to the pixel baseline (with the numbers from your run), and its **limitations**
# (synthetic patches, one lesion type, no patient-level or site-level validation).

# %% [markdown] manual id=ex4_answer points=4
# ### BEGIN SOLUTION
# **Intended use.** A teaching model that flags 32×32 patches with a bright blob lesion; not for any
# clinical decision. **Data.** 240 synthetic training patches and 80 validation patches (half with a
# lesion) from the course generator, my own variant. **Performance.** Validation AUC ≈ 0.95 against
# 0.6–0.7 for logistic regression on pixels; at threshold 0.5 sensitivity and specificity are both
# about 0.9, but the PPV would drop sharply at a screening prevalence of 1 %. Its saliency peaks on the
# lesion in most positive patches. **Limitations.** Synthetic images of one lesion type and size, no
# real anatomy, no patient- or site-level split, no calibration check; it must be re-validated on real
# data from each site before any use.
# ### END SOLUTION

# %% [markdown] rubric id=ex4_rubric for=ex4_answer
# - 1: intended use stated, including that it is not for clinical decisions
# - 1: the training and validation data described (size, source, prevalence)
# - 1: performance reported with numbers next to the pixel baseline
# - 1: at least two real limitations named (synthetic data, no patient/site split, calibration, prevalence)
