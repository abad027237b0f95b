# Assignment 06 - Sequence and generative models: a GRU over per-slice features with a step budget,
# and the GAN discriminator / generator losses.
# Authoring source of assignments/source/06_sequence_gan/06_sequence_gan.ipynb
# (regenerate with `medimg grade build`; format: assignments/README.md).

# %% [markdown] readonly id=intro
# # Assignment 06 — A GRU over slices, and GAN losses
#
# Lesson 06 classified 3D volumes by running a recurrent network over features of their 2D slices, and
# trained a small GAN. Here the slice features are given (as if from a 2D CNN): in each volume a lesion
# lights up feature 0 in **two** slices; the volume is positive when those slices are **adjacent**. A
# model that averages the slices cannot tell (both classes have the same mean); a GRU, which reads the
# slices in order, can. Then you write the two GAN losses from logits, score generated images with the
# Fréchet distance, and judge in words whether synthetic images helped a classifier.
#
# | Exercise | Points |
# |---|---|
# | 1. `SliceGRU` module | 2 |
# | 2. Training with a step budget | 3 |
# | 3. Discriminator loss | 2 |
# | 4. Generator loss (non-saturating) | 2 |
# | 5. Fréchet distance between real and generated features | 3 |
# | 6. Did the synthetic images help? (written, rubric) | 2 |

# %% readonly id=setup
import numpy as np
import torch
from torch import nn

import medimg_kernel as mk

torch.set_num_threads(1)

# your own variant: the seeds come from your student id (mk.student_id()), so your volumes (number of
# slices, lesion strength, noise) differ from your neighbour's; solve the general problem and the tests
# pass for every variant
_variant = np.random.default_rng(mk.variant_seed("06_sequence_gan", salt="geometry"))
N_SLICES = int(_variant.integers(8, 13))  # slices per volume
LESION = round(float(_variant.uniform(1.4, 1.7)), 2)  # how much a lesion adds to feature 0 of its slices


def make_volumes(n, seed, n_slices=N_SLICES, n_features=6, lesion=LESION):
    """(n, n_slices, n_features) slice features and labels: 1 if the two lesion slices are adjacent."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 0.3, (n, n_slices, n_features))
    y = rng.integers(0, 2, n)
    for i in range(n):
        if y[i]:
            s = rng.integers(0, n_slices - 1)
            idx = [s, s + 1]
        else:
            while True:
                idx = sorted(rng.choice(n_slices, 2, replace=False))
                if idx[1] - idx[0] > 1:
                    break
        x[i, idx, 0] += lesion
    return torch.tensor(x, dtype=torch.float32), torch.tensor(y)


x_train, y_train = make_volumes(256, seed=mk.variant_seed("06_sequence_gan", salt="train"))
x_test, y_test = make_volumes(256, seed=mk.variant_seed("06_sequence_gan", salt="test"))
print("variant of", mk.student_id(), "- slices per volume:", N_SLICES, "lesion strength:", LESION,
      "train", tuple(x_train.shape), "positives", int(y_train.sum()))

# %% [markdown] readonly id=ex1_text
# ## Exercise 1 — `SliceGRU` (2 points)
#
# Write an `nn.Module` `SliceGRU(n_features, hidden, n_classes)` with one attribute `gru`, a single-layer
# `nn.GRU(n_features, hidden, batch_first=True)`, and one attribute `head`, an `nn.Linear(hidden,
# n_classes)`. `forward(x)` takes `(B, S, n_features)` and returns logits `(B, n_classes)` computed from
# the GRU's **final hidden state**.

# %% solution id=ex1_answer exercise=slice_gru
class SliceGRU(nn.Module):
    """A GRU over the slice axis; the last hidden state feeds a linear classifier."""

    def __init__(self, n_features, hidden, n_classes):
        super().__init__()
        ### BEGIN SOLUTION
        self.gru = nn.GRU(n_features, hidden, batch_first=True)
        self.head = nn.Linear(hidden, n_classes)
        ### END SOLUTION

    def forward(self, x):
        ### BEGIN SOLUTION
        _, h = self.gru(x)
        return self.head(h[-1])
        ### END SOLUTION

# %% tests id=ex1_tests points=2
def test_output_shape():
    """logits are (batch, classes) for any number of slices. Hint: use the GRU's returned hidden state"""
    model = SliceGRU(6, 8, 3)
    assert model(torch.zeros(4, 10, 6)).shape == (4, 3) and model(torch.zeros(2, 3, 6)).shape == (2, 3)


def test_structure():
    """one single-layer GRU and one linear head. Hint: nn.GRU(n_features, hidden, batch_first=True)"""
    model = SliceGRU(6, 8, 3)
    assert isinstance(model.gru, nn.GRU) and model.gru.num_layers == 1 and model.gru.batch_first
    assert isinstance(model.head, nn.Linear) and model.head.in_features == 8


mk.check("slice_gru", test_output_shape, test_structure, budget=10)
### BEGIN HIDDEN TESTS
def _sg_order_matters():
    torch.manual_seed(3)
    model = SliceGRU(6, 8, 2)
    x = torch.randn(1, 5, 6)
    assert not torch.allclose(model(x), model(x.flip(1)))


def _sg_uses_last_state():
    torch.manual_seed(4)
    model = SliceGRU(6, 8, 2)
    x = torch.randn(3, 7, 6)
    out, _ = model.gru(x)
    assert torch.allclose(model(x), model.head(out[:, -1]), atol=1e-6)


mk.check("slice_gru", _sg_order_matters, _sg_uses_last_state, budget=10, hidden=True)
### END HIDDEN TESTS

# %% [markdown] readonly id=ex2_text
# ## Exercise 2 — Training with a step budget (3 points)
#
# `train_classifier(model, x, y, steps, lr=0.01, seed=0)`: `torch.manual_seed(seed)`, train mode,
# `torch.optim.Adam(model.parameters(), lr=lr)`, exactly `steps` full-batch steps (one forward pass of all
# of `x`, cross-entropy, backward, step; no other forward passes). Return the same model in eval mode.

# %% solution id=ex2_answer exercise=train
def train_classifier(model, x, y, steps, lr=0.01, seed=0):
    """Exactly ``steps`` full-batch Adam steps with cross-entropy; returns model.eval()."""
    ### BEGIN SOLUTION
    torch.manual_seed(seed)
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    return model.eval()
    ### END SOLUTION

# %% tests id=ex2_tests points=3 requires=slice_gru
def _accuracy(model, x, y):
    with torch.no_grad():
        return (model.eval()(x).argmax(1) == y).float().mean().item()


def test_step_budget():
    """exactly `steps` forward passes, eval mode at the end. Hint: no evaluation inside the loop"""
    torch.manual_seed(0)
    model = SliceGRU(6, 16, 2)
    calls = []
    model.register_forward_hook(lambda *a: calls.append(1))
    train_classifier(model, x_train, y_train, steps=5)
    assert len(calls) == 5 and not model.training


def test_gru_learns_adjacency():
    """100 steps reach >= 0.8 test accuracy (averaging slices gets 0.5). Hint: Adam, lr=0.01, full batch"""
    torch.manual_seed(0)
    model = train_classifier(SliceGRU(6, 16, 2), x_train, y_train, steps=100)
    assert _accuracy(model, x_test, y_test) >= 0.8


mk.check("train", test_step_budget, test_gru_learns_adjacency, budget=30)
### BEGIN HIDDEN TESTS
def _tr_held_out_volumes():
    torch.manual_seed(1)
    xh, yh = make_volumes(200, seed=mk.variant_seed("06_sequence_gan", salt="held-out"))
    model = train_classifier(SliceGRU(6, 16, 2), x_train, y_train, steps=100, seed=1)
    assert _accuracy(model, xh, yh) >= 0.8


def _tr_zero_steps():
    torch.manual_seed(2)
    model = SliceGRU(6, 16, 2)
    before = [p.detach().clone() for p in model.parameters()]
    train_classifier(model, x_train, y_train, steps=0)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))


mk.check("train", _tr_held_out_volumes, _tr_zero_steps, budget=30, hidden=True)
### END HIDDEN TESTS

# %% [markdown] readonly id=ex3_text
# ## Exercise 3 — Discriminator loss (2 points)
#
# The discriminator outputs a logit (real vs fake). Its loss is the binary cross-entropy of real samples
# against label 1 plus that of fake samples against label 0, each averaged over its batch:
# $L_D = \text{mean}(\text{softplus}(-r)) + \text{mean}(\text{softplus}(f))$ for logits $r$, $f$.
# Implement `discriminator_loss(real_logits, fake_logits)` **from logits** so that huge logits stay
# finite, returning a scalar tensor.

# %% solution id=ex3_answer exercise=d_loss
def discriminator_loss(real_logits, fake_logits):
    """BCE(real, 1) + BCE(fake, 0), from logits."""
    ### BEGIN SOLUTION
    return nn.functional.softplus(-real_logits).mean() + nn.functional.softplus(fake_logits).mean()
    ### END SOLUTION

# %% tests id=ex3_tests points=2
def test_d_at_zero():
    """logits 0 (a coin flip) give 2 log 2. Hint: BCE(0, label) = log 2"""
    assert abs(discriminator_loss(torch.zeros(4), torch.zeros(4)).item() - 2 * np.log(2)) < 1e-5


def test_d_confident_and_right():
    """confidently right logits give about 0. Hint: softplus(-large) -> 0"""
    assert discriminator_loss(torch.full((3,), 30.0), torch.full((3,), -30.0)).item() < 1e-6


mk.check("d_loss", test_d_at_zero, test_d_confident_and_right, budget=5)
### BEGIN HIDDEN TESTS
def _dl_reference():
    g = torch.Generator().manual_seed(5)
    r, f = torch.randn(7, generator=g) * 3, torch.randn(5, generator=g) * 3
    bce = nn.functional.binary_cross_entropy_with_logits
    ref = bce(r, torch.ones_like(r)) + bce(f, torch.zeros_like(f))
    assert torch.allclose(discriminator_loss(r, f), ref, atol=1e-5)


def _dl_huge_logits_finite():
    loss = discriminator_loss(torch.tensor([-500.0]), torch.tensor([500.0]))
    assert torch.isfinite(loss) and loss.item() > 900


mk.check("d_loss", _dl_reference, _dl_huge_logits_finite, budget=5, hidden=True)
### END HIDDEN TESTS

# %% [markdown] readonly id=ex4_text
# ## Exercise 4 — Generator loss (2 points)
#
# The **non-saturating** generator loss asks the discriminator to call fakes real:
# $L_G = \text{mean}(\text{softplus}(-f))$ (BCE of fake logits against label 1). Unlike minimising
# $\log(1 - D(G(z)))$ it still has a strong gradient when the discriminator confidently rejects the
# fakes. Implement `generator_loss(fake_logits)` from logits.

# %% solution id=ex4_answer exercise=g_loss
def generator_loss(fake_logits):
    """Non-saturating generator loss: BCE(fake, 1) from logits."""
    ### BEGIN SOLUTION
    return nn.functional.softplus(-fake_logits).mean()
    ### END SOLUTION

# %% tests id=ex4_tests points=2
def test_g_at_zero():
    """logit 0 gives log 2. Hint: BCE against label 1"""
    assert abs(generator_loss(torch.zeros(6)).item() - np.log(2)) < 1e-5


def test_g_strong_gradient_when_rejected():
    """a confidently rejected fake (logit -10) still gets a gradient near -1. Hint: d softplus(-f)/df"""
    f = torch.tensor([-10.0], requires_grad=True)
    generator_loss(f).backward()
    assert f.grad.item() < -0.99


mk.check("g_loss", test_g_at_zero, test_g_strong_gradient_when_rejected, budget=5)
### BEGIN HIDDEN TESTS
def _gl_reference():
    f = torch.randn(9, generator=torch.Generator().manual_seed(6)) * 4
    ref = nn.functional.binary_cross_entropy_with_logits(f, torch.ones_like(f))
    assert torch.allclose(generator_loss(f), ref, atol=1e-5)


def _gl_huge_logits_finite():
    loss = generator_loss(torch.tensor([-800.0, 800.0]))
    assert torch.isfinite(loss) and abs(loss.item() - 400.0) < 1e-3


mk.check("g_loss", _gl_reference, _gl_huge_logits_finite, budget=5, hidden=True)
### END HIDDEN TESTS

# %% [markdown] readonly id=ex5_text
# ## Exercise 5 — Fréchet distance (3 points)
#
# The Fréchet distance compares two sets of feature vectors (e.g. a classifier's penultimate layer on
# real and on generated images) as Gaussians with means $\mu_r, \mu_g$ and covariances $\Sigma_r, \Sigma_g$:
#
# $$d^2 = \|\mu_r - \mu_g\|^2 + \operatorname{tr}\big(\Sigma_r + \Sigma_g - 2(\Sigma_r\Sigma_g)^{1/2}\big)$$
#
# Implement `frechet_distance(feats_real, feats_gen)` for two `(N, D)` arrays, returning $d^2$ as a
# float. Use `np.cov(..., rowvar=False)` and `scipy.linalg.sqrtm`; keep only the real part of the square
# root (rounding makes tiny imaginary parts).
#
# `real_feats` below are features of real images; `mode_collapsed` comes from a generator that produces
# only one kind of image (right mean, far too little variety).

# %% readonly id=ex5_setup
_fid_rng = np.random.default_rng(mk.variant_seed("06_sequence_gan", salt="fid"))
_mix = _fid_rng.normal(0, 1, (8, 8)) / 3
real_feats = _fid_rng.normal(0, 1, (400, 8)) @ _mix + 1.0
mode_collapsed = 1.0 + 0.05 * _fid_rng.normal(0, 1, (400, 8)) @ _mix

# %% solution id=ex5_answer exercise=frechet
def frechet_distance(feats_real, feats_gen):
    """Squared Fréchet distance between Gaussians fitted to two (N, D) feature sets."""
    ### BEGIN SOLUTION
    import scipy.linalg

    a, b = np.asarray(feats_real, dtype=float), np.asarray(feats_gen, dtype=float)
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    cov_a, cov_b = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))
    root = scipy.linalg.sqrtm(cov_a @ cov_b).real
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a + cov_b - 2 * root))
    ### END SOLUTION

# %% tests id=ex5_tests points=3
def test_same_set_is_zero():
    """a set against itself scores 0. Hint: the two covariances are equal, so the trace term vanishes"""
    assert abs(frechet_distance(real_feats, real_feats)) < 1e-6


def test_mode_collapse_is_caught():
    """a generator with the right mean but no variety is far from the real set. Hint: the trace term"""
    same_mean = abs(real_feats.mean(0) - mode_collapsed.mean(0)).max() < 0.2
    assert same_mean and frechet_distance(real_feats, mode_collapsed) > 0.5


mk.check("frechet", test_same_set_is_zero, test_mode_collapse_is_caught, budget=10)
### BEGIN HIDDEN TESTS
def _fd_means_only():
    r = np.random.default_rng(2)
    a = r.normal(0, 1, (5000, 3))
    assert np.isclose(frechet_distance(a, a + np.array([3.0, 0, 4.0])), 25.0, rtol=1e-6)


def _fd_diagonal_reference():
    r = np.random.default_rng(3)
    a, b = r.normal(0, 1, (3000, 2)) * [1.0, 2.0], r.normal(0, 1, (3000, 2)) * [3.0, 0.5]
    va, vb = np.var(a, axis=0, ddof=1), np.var(b, axis=0, ddof=1)
    ref = ((a.mean(0) - b.mean(0)) ** 2).sum() + (va + vb - 2 * np.sqrt(va * vb)).sum()
    assert np.isclose(frechet_distance(a, b), ref, atol=0.05)


def _fd_symmetric_and_real_float():
    d1, d2 = frechet_distance(real_feats, mode_collapsed), frechet_distance(mode_collapsed, real_feats)
    assert isinstance(d1, float) and np.isclose(d1, d2, rtol=1e-4)


mk.check("frechet", _fd_means_only, _fd_diagonal_reference, _fd_symmetric_and_real_float, budget=10, hidden=True)
### END HIDDEN TESTS

# %% [markdown] readonly id=q6_text
# ## Exercise 6 — Did the synthetic images help? (written, 2 points)
#
# Lesson 06 trained a classifier on a few real images per class, then again with GAN images added, and
# compared both on the same real test set. Suppose the second is 3 points more accurate. In a few
# sentences: what must the comparison hold fixed for that to mean the GAN helped, what else could explain
# the gain, and why can a good Fréchet distance and a useless augmentation go together?

# %% [markdown] manual id=q6_answer points=2
# ### BEGIN SOLUTION
# Hold fixed the real images, the test set (real, held-out, never seen by the GAN), the model, the number
# of training steps and the seeds; repeat over seeds and report an interval, and compare with a plain
# augmentation baseline (flips, noise) that adds the same number of images. A 3-point gain on a small test
# set can be noise, or come from the extra steps/regularisation rather than new information. The Fréchet
# distance compares feature statistics: a GAN can match them (or memorise the few real images) and still
# add no new, label-correct variety, so the classifier learns nothing it did not already see.
# ### END SOLUTION

# %% [markdown] rubric id=q6_rubric for=q6_answer
# - 1: a fair comparison: same real images, held-out real test set the GAN never saw, same model/steps/seeds, repeated with an interval or beside a simple augmentation baseline
# - 1: why FID and usefulness can disagree: matching feature statistics or memorising the few real images adds no new label-correct variety; the gain may be noise or extra regularisation
