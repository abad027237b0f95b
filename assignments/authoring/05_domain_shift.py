# Assignment 05 - Transfer learning and domain shift: intensity standardisation, histogram matching,
# test-time batch-norm adaptation, a step-budgeted fine-tune, the measured shift and a frozen-backbone fine-tune.
# Authoring source of assignments/source/05_domain_shift/05_domain_shift.ipynb
# (regenerate with `medimg grade build`; format: assignments/README.md).

# %% [markdown] readonly id=intro
# # Assignment 05 — When the scanner changes
#
# A classifier trained on images from scanner A sees images from scanner B: same anatomy, different
# intensity gain and offset. Its accuracy drops to chance. Lesson 05 compared remedies; here you
# implement four of them and measure each one on held-out target images.
#
# | Exercise | Points |
# |---|---|
# | 1. Intensity standardisation (z-score in a mask) | 2 |
# | 2. Histogram matching | 3 |
# | 3. Test-time batch-norm adaptation | 3 |
# | 4. Fine-tuning with a step budget | 3 |
# | 5. Written answer | 2 |
# | 6. Measure the shift | 2 |
# | 7. Fine-tune the head only | 3 |

# %% readonly id=setup
import copy

import numpy as np
import torch
from torch import nn

import medimg_kernel as mk

# your own variant: the seed comes from your student id (mk.student_id()), so your numbers differ from
# your neighbour's; solve the general problem and the tests pass for every variant
_seed = mk.variant_seed("05_domain_shift") % 100_000
_rng = np.random.default_rng(_seed)
gain_b = round(float(_rng.uniform(2.0, 3.0)), 2)  # scanner B's intensity gain and offset
offset_b = round(float(_rng.uniform(0.6, 1.0)), 2)
torch.manual_seed(_seed)
torch.set_num_threads(1)


def make_domain(n, seed, gain=1.0, offset=0.0, noise=0.08):
    """n 8x8 'images' with labels: class 1 has a brighter centre; the scanner applies gain and offset."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    x = rng.normal(0.3, noise, (n, 1, 8, 8))
    x[:, :, 2:6, 2:6] += 0.2 * y[:, None, None, None]
    x = x * gain + offset
    return torch.tensor(x, dtype=torch.float32), torch.tensor(y)


class SmallNet(nn.Module):
    """conv -> batch norm -> ReLU -> pooling -> linear head."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                                      nn.AdaptiveAvgPool2d(2), nn.Flatten())
        self.head = nn.Linear(32, 2)

    def forward(self, x):
        return self.head(self.features(x))


def accuracy(model, x, y):
    model.eval()
    with torch.no_grad():
        return (model(x).argmax(1) == y).float().mean().item()


x_src, y_src = make_domain(256, seed=_seed)  # scanner A (training)
# scanner B: 256 unlabelled images for testing, and 32 labelled ones
x_tgt, y_tgt = make_domain(256, seed=_seed + 1, gain=gain_b, offset=offset_b)
x_few, y_few = make_domain(32, seed=_seed + 2, gain=gain_b, offset=offset_b)

pretrained = SmallNet()
_opt = torch.optim.Adam(pretrained.parameters(), lr=0.01)
pretrained.train()
for _ in range(150):
    _opt.zero_grad()
    nn.functional.cross_entropy(pretrained(x_src), y_src).backward()
    _opt.step()
print(f"variant of {mk.student_id()} - scanner B: gain {gain_b}, offset {offset_b}; "
      f"accuracy on scanner A: {accuracy(pretrained, x_src, y_src):.2f}, "
      f"on scanner B: {accuracy(pretrained, x_tgt, y_tgt):.2f}")

# %% [markdown] readonly id=ex1_text
# ## Exercise 1 — Standardisation (2 points)
#
# `standardise(x, mask=None, eps=1e-8)`: subtract the mean and divide by the standard deviation, both
# computed over the voxels where `mask` is true (all voxels if `mask` is None), and apply the result to
# the **whole** array. If the standard deviation is below `eps`, return the array minus its mean (no
# division). Return a float numpy array of the input's shape.

# %% solution id=ex1_answer exercise=standardise
def standardise(x, mask=None, eps=1e-8):
    """Z-score ``x`` with statistics from the voxels in ``mask`` (all voxels if None)."""
    ### BEGIN SOLUTION
    x = np.asarray(x, dtype=float)
    values = x if mask is None else x[np.asarray(mask, dtype=bool)]
    mean, std = values.mean(), values.std()
    if std < eps:
        return x - mean
    return (x - mean) / std
    ### END SOLUTION

# %% tests id=ex1_tests points=2
def test_zero_mean_unit_std():
    """the result has mean 0 and std 1. Hint: (x - x.mean()) / x.std()"""
    z = standardise(x_tgt.numpy())
    assert abs(z.mean()) < 1e-6 and abs(z.std() - 1) < 1e-6 and z.shape == x_tgt.shape


def test_removes_the_scanner():
    """after standardising, both scanners look alike. Hint: gain and offset cancel out"""
    a, b = standardise(x_src.numpy()), standardise(x_tgt.numpy())
    assert abs(a.mean() - b.mean()) < 1e-6 and abs(a.std() - b.std()) < 1e-6


mk.check("standardise", test_zero_mean_unit_std, test_removes_the_scanner, budget=5)
### BEGIN HIDDEN TESTS
def _st_mask():
    x = np.arange(10.0)
    m = np.zeros(10, bool)
    m[:5] = True
    z = standardise(x, m)
    assert np.allclose(z[:5].mean(), 0) and np.isclose(z[5], (5 - 2) / np.std(np.arange(5.0)))


def _st_constant():
    z = standardise(np.full((3, 3), 7.0))
    assert np.all(np.isfinite(z)) and np.allclose(z, 0)


mk.check("standardise", _st_mask, _st_constant, budget=5, hidden=True)
### END HIDDEN TESTS

# %% [markdown] readonly id=ex2_text
# ## Exercise 2 — Histogram matching (3 points)
#
# `histogram_match(source, reference, n_quantiles=101)`: compute `n_quantiles` evenly spaced quantiles
# (0 % … 100 %) of `source` and of `reference`, then map every source value by piecewise-linear
# interpolation from source quantiles to reference quantiles (`np.quantile`, `np.interp`). Return an
# array of the source's shape.

# %% solution id=ex2_answer exercise=histogram_match
def histogram_match(source, reference, n_quantiles=101):
    """Map ``source`` intensities so their quantiles match ``reference``'s."""
    ### BEGIN SOLUTION
    source = np.asarray(source, dtype=float)
    q = np.linspace(0, 1, n_quantiles)
    src_q = np.quantile(source, q)
    ref_q = np.quantile(np.asarray(reference, dtype=float), q)
    return np.interp(source.ravel(), src_q, ref_q).reshape(source.shape)
    ### END SOLUTION

# %% tests id=ex2_tests points=3
def test_quantiles_match():
    """the output's deciles equal the reference's. Hint: np.interp(source, src_quantiles, ref_quantiles)"""
    out = histogram_match(x_tgt.numpy(), x_src.numpy())
    q = np.linspace(0, 1, 11)
    assert out.shape == x_tgt.shape
    assert np.allclose(np.quantile(out, q), np.quantile(x_src.numpy(), q), atol=0.02)


def test_restores_accuracy():
    """the pretrained model works on matched scanner-B images. Hint: match B to A, not A to B"""
    matched = torch.tensor(histogram_match(x_tgt.numpy(), x_src.numpy()), dtype=torch.float32)
    assert accuracy(pretrained, matched, y_tgt) >= 0.9


mk.check("histogram_match", test_quantiles_match, test_restores_accuracy, budget=10)
### BEGIN HIDDEN TESTS
def _hm_order_preserved():
    rng = np.random.default_rng(5)
    s = rng.exponential(1.0, 500)
    out = histogram_match(s, rng.normal(0, 1, 800))
    order = np.argsort(s)
    assert np.all(np.diff(out[order]) >= -1e-12)


def _hm_uniform_target():
    rng = np.random.default_rng(6)
    out = histogram_match(rng.normal(3, 2, (40, 40)), rng.uniform(0, 1, 5000), n_quantiles=51)
    assert out.shape == (40, 40) and abs(out.min()) < 0.02 and abs(out.max() - 1) < 0.02
    assert abs(np.median(out) - 0.5) < 0.05


def _hm_other_scanner():
    xo, yo = make_domain(256, seed=7, gain=0.5, offset=-0.5)
    matched = torch.tensor(histogram_match(xo.numpy(), x_src.numpy()), dtype=torch.float32)
    assert accuracy(pretrained, matched, yo) >= 0.9


mk.check("histogram_match", _hm_order_preserved, _hm_uniform_target, _hm_other_scanner, budget=10,
         hidden=True)
### END HIDDEN TESTS

# %% [markdown] readonly id=ex3_text
# ## Exercise 3 — Test-time batch-norm adaptation (3 points)
#
# Batch norm stores the mean and variance of its inputs **seen in training** (scanner A). Re-estimating
# them on unlabelled scanner-B images often undoes the shift without any labels.
#
# `adapt_batchnorm(model, batches)`: for every batch-norm layer, reset its running statistics and set
# `momentum = None` (a cumulative average); run the model in **train mode without gradients** over the
# given batches; return the **same** model in **eval** mode. No weight may change.

# %% solution id=ex3_answer exercise=adapt_bn
def adapt_batchnorm(model, batches):
    """Re-estimate batch-norm statistics on ``batches`` (no labels, no weight updates); return model.eval()."""
    ### BEGIN SOLUTION
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.reset_running_stats()
            m.momentum = None
    model.train()
    with torch.no_grad():
        for b in batches:
            model(b)
    return model.eval()
    ### END SOLUTION

# %% tests id=ex3_tests points=3
def test_accuracy_recovers():
    """scanner-B accuracy goes from chance to >= 0.9. Hint: reset_running_stats(), then forward in train()"""
    model = adapt_batchnorm(copy.deepcopy(pretrained), x_tgt.split(64))
    assert accuracy(model, x_tgt, y_tgt) >= 0.9


def test_weights_unchanged_and_eval_mode():
    """only batch-norm statistics change, and the model is in eval mode. Hint: torch.no_grad()"""
    model = adapt_batchnorm(copy.deepcopy(pretrained), x_tgt.split(64))
    same = all(torch.equal(a, b) for a, b in zip(model.parameters(), pretrained.parameters()))
    bn = model.features[1]
    assert same and not model.training and not torch.allclose(bn.running_mean, pretrained.features[1].running_mean)


mk.check("adapt_bn", test_accuracy_recovers, test_weights_unchanged_and_eval_mode, budget=10)
### BEGIN HIDDEN TESTS
def _bn_other_scanner():
    xo, yo = make_domain(256, seed=mk.variant_seed("05_domain_shift", salt="held-out-bn") % 100_000,
                         gain=3.0, offset=1.0)
    model = adapt_batchnorm(copy.deepcopy(pretrained), xo.split(32))
    assert accuracy(model, xo, yo) >= 0.9


def _bn_cumulative_stats():
    model = adapt_batchnorm(copy.deepcopy(pretrained), [x_tgt[:128], x_tgt[128:]])
    ref = pretrained.features[0](x_tgt).detach()
    assert torch.allclose(model.features[1].running_mean, ref.mean(dim=(0, 2, 3)), atol=1e-4)


mk.check("adapt_bn", _bn_other_scanner, _bn_cumulative_stats, budget=10, hidden=True)
### END HIDDEN TESTS

# %% [markdown] readonly id=ex4_text
# ## Exercise 4 — Fine-tuning with a step budget (3 points)
#
# With 32 labelled scanner-B images, fine-tune **all** parameters. `finetune(model, x, y, steps, lr=0.01,
# seed=0)`: call `torch.manual_seed(seed)`, put the model in **train** mode, create `torch.optim.Adam`
# over all parameters with learning rate `lr`, then do exactly `steps` full-batch steps (one forward pass
# of all of `x`, cross-entropy, backward, optimiser step — no other forward passes). Return the same
# model in eval mode. The budget matters: grading machines have no GPU.

# %% solution id=ex4_answer exercise=finetune
def finetune(model, x, y, steps, lr=0.01, seed=0):
    """Fine-tune every parameter for exactly ``steps`` full-batch Adam steps; return model.eval()."""
    ### BEGIN SOLUTION
    torch.manual_seed(seed)
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
    return model.eval()
    ### END SOLUTION

# %% tests id=ex4_tests points=3
def _count_forward(model):
    calls = []
    model.register_forward_hook(lambda *a: calls.append(1))
    return calls


def test_budget_is_respected():
    """exactly `steps` forward passes. Hint: one model(x) per step, no evaluation inside"""
    model = copy.deepcopy(pretrained)
    calls = _count_forward(model)
    finetune(model, x_few, y_few, steps=7)
    assert len(calls) == 7 and not model.training


def test_sixty_steps_adapt():
    """60 steps on 32 labelled images reach >= 0.85 on scanner B. Hint: train mode, Adam over all parameters"""
    model = finetune(copy.deepcopy(pretrained), x_few, y_few, steps=60)
    assert accuracy(model, x_tgt, y_tgt) >= 0.85


mk.check("finetune", test_budget_is_respected, test_sixty_steps_adapt, budget=20)
### BEGIN HIDDEN TESTS
def _ft_zero_steps():
    model = finetune(copy.deepcopy(pretrained), x_few, y_few, steps=0)
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), pretrained.parameters()))


def _ft_held_out_images():
    held_seed = mk.variant_seed("05_domain_shift", salt="held-out") % 100_000
    xh, yh = make_domain(200, seed=held_seed, gain=gain_b, offset=offset_b)  # the student's scanner B
    model = finetune(copy.deepcopy(pretrained), x_few, y_few, steps=60)
    assert accuracy(model, xh, yh) >= 0.85


mk.check("finetune", _ft_zero_steps, _ft_held_out_images, budget=20, hidden=True)
### END HIDDEN TESTS

# %% [markdown] readonly id=q5_text
# ## Exercise 5 — Written answer (2 points, graded by your instructor)
#
# Test-time batch-norm adaptation needed no labels but re-estimates statistics from the *test batch*.
# Name one situation in a hospital where that would go wrong, and say which of the other remedies you
# would use there and why (two or three sentences).

# %% [markdown] manual id=q5_answer points=2
# ### BEGIN SOLUTION
# Batches that are small or not representative: one patient at a time, or a batch of mostly healthy
# scans, gives statistics that differ from the training set's for reasons other than the scanner, so
# predictions then depend on which other images were in the batch. Per-image standardisation or
# histogram matching to a fixed reference is computed from the image alone, and a short fine-tune on a
# few labelled local scans fixes the shift once for all later patients.
# ### END SOLUTION

# %% [markdown] rubric id=q5_rubric for=q5_answer
# - 1: names a realistic case where the test batch is small or unrepresentative (one patient, mostly healthy scans)
# - 1: picks a remedy that does not depend on the batch (per-image standardisation, histogram matching or a short fine-tune) and says why

# %% [markdown] readonly id=ex6_text
# ## Exercise 6 — Measure the shift (2 points)
#
# Before choosing a remedy, measure the problem. Implement `eval_loss(model, x, y)`: the mean
# cross-entropy of `model` on `(x, y)` as a Python float, computed in **eval** mode (batch norm uses its
# running statistics) and without building a graph (`torch.no_grad()`); afterwards the model must be back
# in the mode it was in. Then `shift_report(model, source, target)` takes two `(x, y)` pairs and returns
# `{"source_loss", "target_loss", "source_acc", "target_acc"}` (accuracies from `accuracy` in the setup).

# %% solution id=ex6_answer exercise=shift_loss
def eval_loss(model, x, y):
    """Mean cross-entropy in eval mode, without gradients; the model's train/eval mode is restored."""
    ### BEGIN SOLUTION
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            return float(nn.functional.cross_entropy(model(x), y))
    finally:
        model.train(was_training)
    ### END SOLUTION


def shift_report(model, source, target):
    """Losses and accuracies of model on the source and the target domain."""
    ### BEGIN SOLUTION
    was_training = model.training
    out = {"source_loss": eval_loss(model, *source), "target_loss": eval_loss(model, *target),
           "source_acc": accuracy(model, *source), "target_acc": accuracy(model, *target)}
    model.train(was_training)
    return out
    ### END SOLUTION

# %% tests id=ex6_tests points=2
def test_loss_in_eval_mode_and_mode_restored():
    """the eval-mode loss, and the model stays in train mode. Hint: remember model.training, then model.train(it)"""
    model = copy.deepcopy(pretrained).train()
    value = eval_loss(model, x_src, y_src)
    assert model.training and isinstance(value, float)
    ref = copy.deepcopy(pretrained).eval()
    with torch.no_grad():
        assert np.isclose(value, nn.functional.cross_entropy(ref(x_src), y_src).item(), rtol=1e-5)


def test_report_shows_the_shift():
    """the target loss is far above the source loss. Hint: eval_loss on each (x, y) pair"""
    rep = shift_report(pretrained, (x_src, y_src), (x_tgt, y_tgt))
    assert set(rep) == {"source_loss", "target_loss", "source_acc", "target_acc"}
    print({k: round(v, 3) for k, v in rep.items()})
    assert rep["target_loss"] > 10 * rep["source_loss"] and rep["source_acc"] > rep["target_acc"]


mk.check("shift_loss", test_loss_in_eval_mode_and_mode_restored, test_report_shows_the_shift, budget=10)
### BEGIN HIDDEN TESTS
def _loss_running_stats_untouched_and_no_graph():
    model = copy.deepcopy(pretrained).train()
    before = copy.deepcopy(model.state_dict())
    eval_loss(model, x_tgt, y_tgt)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert all(p.grad is None for p in model.parameters())
    assert model.training is True


def _loss_eval_model_stays_eval():
    model = copy.deepcopy(pretrained).eval()
    eval_loss(model, x_few, y_few)
    assert not model.training


mk.check("shift_loss", _loss_running_stats_untouched_and_no_graph, _loss_eval_model_stays_eval, budget=10,
         hidden=True)
### END HIDDEN TESTS

# %% [markdown] readonly id=ex7_text
# ## Exercise 7 — Fine-tune the head only, with a frozen backbone (3 points)
#
# With few target labels, a common choice is to keep the pretrained features and retrain only the head.
# Implement `finetune_head(model, x, y, steps=100, lr=0.01, seed=0)`: call `torch.manual_seed(seed)`, work
# on a **copy** of `model` (`copy.deepcopy`), freeze `copy.features` so that **nothing in it changes** — its
# weights *and* its batch-norm running statistics, which still update in train mode even when
# `requires_grad` is off — then train `copy.head` with Adam for `steps` full-batch steps and return the
# copy in eval mode. The test cell compares it with the full fine-tune of exercise 4.

# %% solution id=ex7_answer exercise=frozen_finetune
def finetune_head(model, x, y, steps=100, lr=0.01, seed=0):
    """A copy of model with frozen features (weights and BN statistics) and a head trained on (x, y)."""
    ### BEGIN SOLUTION
    torch.manual_seed(seed)
    m = copy.deepcopy(model)
    for p in m.features.parameters():
        p.requires_grad_(False)
    m.train()
    m.features.eval()  # batch norm keeps its source running statistics
    opt = torch.optim.Adam(m.head.parameters(), lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        nn.functional.cross_entropy(m(x), y).backward()
        opt.step()
    return m.eval()
    ### END SOLUTION

# %% tests id=ex7_tests points=3
def test_backbone_frozen_head_trained():
    """features (weights and BN statistics) unchanged, head changed, input model untouched. Hint: model.features.eval()"""
    original = copy.deepcopy(pretrained.state_dict())
    tuned = finetune_head(pretrained, x_few, y_few, steps=30)
    assert tuned is not pretrained and not tuned.training
    assert all(torch.equal(v, pretrained.features.state_dict()[k]) for k, v in tuned.features.state_dict().items())
    assert not torch.equal(tuned.head.weight, pretrained.head.weight)
    assert all(torch.equal(v, original[k]) for k, v in pretrained.state_dict().items())


def test_head_only_vs_full_finetune():
    """a frozen backbone adapts less than a full fine-tune when low-level intensities shift. Hint: train mode for the head only"""
    tuned = finetune_head(pretrained, x_few, y_few)
    head_acc = accuracy(tuned, x_tgt, y_tgt)
    print(f"scanner B accuracy: unadapted {accuracy(pretrained, x_tgt, y_tgt):.2f}, head only {head_acc:.2f}")
    assert head_acc >= accuracy(pretrained, x_tgt, y_tgt)


mk.check("frozen_finetune", test_backbone_frozen_head_trained, test_head_only_vs_full_finetune, budget=20)
### BEGIN HIDDEN TESTS
def _head_steps_and_seed():
    calls = []
    probe = copy.deepcopy(pretrained)
    probe.head.register_forward_hook(lambda *a: calls.append(1))
    a = finetune_head(probe, x_few, y_few, steps=5, seed=1)
    b = finetune_head(pretrained, x_few, y_few, steps=5, seed=1)
    assert len(calls) == 5 and torch.allclose(a.head.weight, b.head.weight)
    zero = finetune_head(pretrained, x_few, y_few, steps=0)
    assert torch.equal(zero.head.weight, pretrained.head.weight)


mk.check("frozen_finetune", _head_steps_and_seed, budget=20, hidden=True)
### END HIDDEN TESTS
