# Assignment 03 - Segmentation: hard and soft Dice (with empty masks), a DiceCE loss, sliding-window inference,
# a 3D U-Net trained end to end and graded on held-out volumes.
# Authoring source of assignments/source/03_segmentation/03_segmentation.ipynb
# (regenerate with `medimg grade build`; format: assignments/README.md).

# %% [markdown] readonly id=intro
# # Assignment 03 — Dice, soft Dice and DiceCE
#
# Lesson 03 trained a U-Net with MONAI's `DiceCELoss` and reported the Dice score. Here you write both
# yourself: the **hard Dice** used to evaluate binary masks (including the awkward empty-mask cases),
# the differentiable **soft Dice loss** used for training, and their combination with cross-entropy.
#
# * Use `numpy` for exercise 1 and `torch` for exercises 2–3 (no MONAI in your answers: the point is
#   to see what its `DiceLoss` and `DiceCELoss(sigmoid=True)` compute; your results should match them).
#
# | Exercise | Points |
# |---|---|
# | 1. Hard Dice with empty masks | 3 |
# | 2. Soft Dice loss | 3 |
# | 3. DiceCE loss | 2 |
# | 4. Written answer | 2 |
# | 5. Sliding-window inference with MONAI | 3 |
# | 6. Train a 3D U-Net end to end (graded on new volumes) | 6 |

# %% readonly id=setup
import numpy as np
import torch

import medimg_kernel as mk

torch.manual_seed(0)
# your own variant: the seed comes from your student id (mk.student_id()), so your numbers differ from
# your neighbour's; solve the general problem and the tests pass for every variant
rng = np.random.default_rng(mk.variant_seed("03_segmentation"))
radius = int(rng.integers(6, 9))  # 6 to 8 pixels: the disc is at most 15 pixels wide
centre = rng.integers(radius + 1, 32 - radius - 1, size=2)
shift, shift_axis = int(rng.integers(2, 5)), int(rng.integers(0, 2))
yy, xx = np.mgrid[:32, :32]
truth = ((yy - centre[0]) ** 2 + (xx - centre[1]) ** 2 < radius**2).astype(np.uint8)  # a disc
shifted = np.roll(truth, shift, axis=shift_axis)  # the same disc moved a few pixels: a typical near miss
print("variant of", mk.student_id(), "- disc centre", tuple(int(c) for c in centre), "radius", radius,
      "shifted", shift, "px along axis", shift_axis, "| foreground pixels:", int(truth.sum()),
      "overlap with shifted:", int((truth & shifted).sum()))

# %% [markdown] readonly id=ex1_text
# ## Exercise 1 — Hard Dice (3 points)
#
# $\text{Dice}(A, B) = \dfrac{2|A \cap B|}{|A| + |B|}$ for binary masks of any shape (treat non-zero as
# foreground). When **both** masks are empty the formula is $0/0$: return `empty_value` (default 1.0,
# "nothing to find and nothing found"). Return a Python `float`.

# %% solution id=ex1_answer exercise=dice_hard
def dice_hard(pred, target, empty_value=1.0):
    """Dice overlap of two binary masks; ``empty_value`` when both are empty."""
    ### BEGIN SOLUTION
    a = np.asarray(pred) != 0
    b = np.asarray(target) != 0
    denom = a.sum() + b.sum()
    if denom == 0:
        return float(empty_value)
    return float(2.0 * np.logical_and(a, b).sum() / denom)
    ### END SOLUTION

# %% tests id=ex1_tests points=3
def test_identical_and_disjoint():
    """identical masks give 1, disjoint masks give 0. Hint: 2 * overlap / (size A + size B)"""
    assert dice_hard(truth, truth) == 1.0
    assert dice_hard(truth, np.roll(truth, 16, axis=1)) == 0.0


def test_near_miss():
    """the disc shifted by a few pixels. Hint: count overlap pixels with a logical and"""
    overlap = (truth & shifted).sum()
    assert np.isclose(dice_hard(shifted, truth), 2 * overlap / (2 * truth.sum()))


def test_both_empty():
    """two empty masks give empty_value. Hint: check the denominator before dividing"""
    empty = np.zeros((4, 4))
    assert dice_hard(empty, empty) == 1.0 and dice_hard(empty, empty, empty_value=0.0) == 0.0


mk.check("dice_hard", test_identical_and_disjoint, test_near_miss, test_both_empty, budget=5)
### BEGIN HIDDEN TESTS
def _dh_one_empty():
    assert dice_hard(np.zeros((8, 8)), truth[:8, :8] * 0 + np.eye(8)) == 0.0


def _dh_non_binary_values_3d():
    rng = np.random.default_rng(4)
    a = rng.integers(0, 3, (5, 6, 7))
    b = rng.integers(0, 2, (5, 6, 7)) * 7
    ref = 2 * ((a > 0) & (b > 0)).sum() / ((a > 0).sum() + (b > 0).sum())
    assert np.isclose(dice_hard(a, b), ref)


def _dh_bool_input():
    assert isinstance(dice_hard(truth.astype(bool), shifted.astype(bool)), float)


mk.check("dice_hard", _dh_one_empty, _dh_non_binary_values_3d, _dh_bool_input, budget=5, hidden=True)
### END HIDDEN TESTS

# %% [markdown] readonly id=ex2_text
# ## Exercise 2 — Soft Dice loss (3 points)
#
# For probabilities `probs` and a binary `target`, both shaped `(B, 1, H, W)` (or `(B, 1, D, H, W)`),
# compute per sample $d_b = \dfrac{2\sum p t + s}{\sum p + \sum t + s}$ over all non-batch dimensions,
# and return the **loss** $1 - \text{mean}_b\, d_b$ as a scalar tensor that gradients flow through.
# `s = smooth` (default `1e-5`) makes an empty prediction of an empty target a perfect score.

# %% solution id=ex2_answer exercise=soft_dice
def soft_dice_loss(probs, target, smooth=1e-5):
    """1 - mean over the batch of the soft Dice of each sample (differentiable)."""
    ### BEGIN SOLUTION
    dims = tuple(range(1, probs.ndim))
    inter = (probs * target).sum(dim=dims)
    denom = probs.sum(dim=dims) + target.sum(dim=dims)
    return 1.0 - ((2.0 * inter + smooth) / (denom + smooth)).mean()
    ### END SOLUTION

# %% tests id=ex2_tests points=3
t_truth = torch.from_numpy(truth).float()[None, None]


def test_perfect_is_zero():
    """probs equal to the target give a loss of about 0. Hint: sum over every dim except the batch"""
    assert soft_dice_loss(t_truth, t_truth).item() < 1e-4


def test_half_probability():
    """probability 0.5 on the disc and 0 elsewhere gives 1 - 1/1.5. Hint: 2*sum(p*t) / (sum p + sum t)"""
    loss = soft_dice_loss(0.5 * t_truth, t_truth).item()
    assert abs(loss - (1 - 1 / 1.5)) < 1e-4


def test_gradient_flows():
    """the loss is a scalar tensor with a gradient. Hint: use torch operations only, no .numpy()"""
    p = torch.full_like(t_truth, 0.3, requires_grad=True)
    loss = soft_dice_loss(p, t_truth)
    loss.backward()
    assert loss.ndim == 0 and p.grad is not None and torch.isfinite(p.grad).all()


mk.check("soft_dice", test_perfect_is_zero, test_half_probability, test_gradient_flows, budget=10)
### BEGIN HIDDEN TESTS
def _sd_matches_reference():
    g = torch.Generator().manual_seed(7)
    p = torch.rand(3, 1, 6, 7, 5, generator=g)
    t = (torch.rand(3, 1, 6, 7, 5, generator=g) > 0.6).float()
    num = 2 * (p * t).flatten(1).sum(1) + 1e-5
    ref = 1 - (num / (p.flatten(1).sum(1) + t.flatten(1).sum(1) + 1e-5)).mean()
    assert torch.allclose(soft_dice_loss(p, t), ref, atol=1e-5)


def _sd_empty_pair_is_perfect():
    z = torch.zeros(2, 1, 4, 4)
    assert soft_dice_loss(z, z).item() < 1e-4


def _sd_per_sample_mean():
    a = torch.stack([t_truth[0], torch.zeros_like(t_truth[0])])
    t = torch.stack([t_truth[0], t_truth[0]])
    assert abs(soft_dice_loss(a, t).item() - 0.5) < 1e-3


def _sd_variant_near_miss():
    p = 0.8 * torch.from_numpy(shifted).float()[None, None] + 0.1
    ref = 1 - (2 * (p * t_truth).sum() + 1e-5) / (p.sum() + t_truth.sum() + 1e-5)
    assert torch.allclose(soft_dice_loss(p, t_truth), ref, atol=1e-5)


mk.check("soft_dice", _sd_matches_reference, _sd_empty_pair_is_perfect, _sd_per_sample_mean,
         _sd_variant_near_miss, budget=10, hidden=True)
### END HIDDEN TESTS

# %% [markdown] readonly id=ex3_text
# ## Exercise 3 — DiceCE (2 points)
#
# Segmentation networks output **logits**. `dice_ce_loss(logits, target, lambda_dice=1.0, lambda_ce=1.0)`
# returns `lambda_dice * soft_dice_loss(sigmoid(logits), target) + lambda_ce * BCE(logits, target)`,
# where BCE is the mean binary cross-entropy **computed from logits** (numerically stable; see
# `torch.nn.functional.binary_cross_entropy_with_logits`). You may call your `soft_dice_loss`.

# %% solution id=ex3_answer exercise=dice_ce
def dice_ce_loss(logits, target, lambda_dice=1.0, lambda_ce=1.0):
    """Soft Dice loss of sigmoid(logits) plus binary cross-entropy from logits, weighted."""
    ### BEGIN SOLUTION
    import torch.nn.functional as F

    dice = soft_dice_loss(torch.sigmoid(logits), target)
    ce = F.binary_cross_entropy_with_logits(logits, target)
    return lambda_dice * dice + lambda_ce * ce
    ### END SOLUTION

# %% tests id=ex3_tests points=2 requires=soft_dice
def test_confident_right_is_small():
    """large logits of the right sign give a loss near 0. Hint: dice of sigmoid(logits) + BCE"""
    logits = (t_truth * 2 - 1) * 20
    assert dice_ce_loss(logits, t_truth).item() < 1e-3


def test_weights_apply():
    """lambda_ce=0 leaves only the Dice part. Hint: multiply each part by its lambda"""
    logits = torch.zeros_like(t_truth)
    only_dice = dice_ce_loss(logits, t_truth, lambda_ce=0.0).item()
    assert abs(only_dice - soft_dice_loss(torch.sigmoid(logits), t_truth).item()) < 1e-5


mk.check("dice_ce", test_confident_right_is_small, test_weights_apply, budget=10)
### BEGIN HIDDEN TESTS
def _dce_matches_reference():
    g = torch.Generator().manual_seed(11)
    x = torch.randn(2, 1, 8, 8, generator=g) * 3
    t = (torch.rand(2, 1, 8, 8, generator=g) > 0.5).float()
    p = torch.sigmoid(x)
    dice = 1 - ((2 * (p * t).flatten(1).sum(1) + 1e-5) / (p.flatten(1).sum(1) + t.flatten(1).sum(1) + 1e-5)).mean()
    bce = -(t * torch.log(p) + (1 - t) * torch.log(1 - p)).mean()
    ref = 0.5 * dice + 2.0 * bce
    assert torch.allclose(dice_ce_loss(x, t, lambda_dice=0.5, lambda_ce=2.0), ref, atol=1e-4)
    ref = dice + bce
    assert torch.allclose(dice_ce_loss(x, t), ref, atol=1e-5)


def _dce_stable_for_huge_logits():
    x = torch.full((1, 1, 4, 4), 500.0)
    loss = dice_ce_loss(x, torch.zeros(1, 1, 4, 4))
    assert torch.isfinite(loss) and loss.item() > 100


mk.check("dice_ce", _dce_matches_reference, _dce_stable_for_huge_logits, budget=10, hidden=True)
### END HIDDEN TESTS

# %% [markdown] readonly id=q4_text
# ## Exercise 4 — Written answer (2 points, graded by your instructor)
#
# A 3D scan has a 500-voxel tumour among 2 million voxels. Explain in two or three sentences why a model
# that predicts "background everywhere" has a pixel accuracy above 99.9 % but a Dice of 0, and why the
# Dice part of DiceCE helps training on such data while the cross-entropy part still matters.

# %% [markdown] manual id=q4_answer points=2
# ### BEGIN SOLUTION
# Accuracy counts the huge number of correct background voxels, so missing the 500 tumour voxels changes
# it by only 0.025 %; Dice only looks at the foreground overlap (2·0 / (0 + 500) = 0). The Dice loss is
# normalised by the foreground size, so the rare class drives the gradient; cross-entropy gives smooth,
# per-voxel gradients (also where the prediction is empty or confident), which stabilises early training.
# ### END SOLUTION

# %% [markdown] rubric id=q4_rubric for=q4_answer
# - 1: accuracy is dominated by the many correct background voxels, while Dice only counts the foreground overlap (0 here)
# - 1: Dice is normalised by the foreground size so the rare class drives the gradient; cross-entropy adds smooth per-voxel gradients that stabilise training

# %% [markdown] readonly id=ex5_text
# ## Exercise 5 — Sliding-window inference (3 points)
#
# A 3D U-Net is trained on patches, and a whole scan does not fit it (or the GPU) in one piece. MONAI's
# `monai.inferers.sliding_window_inference` runs the model on overlapping windows of size `roi` and blends
# the logits back into one volume.
#
# Write `sliding_segment(model, volume, roi)`: `volume` is a numpy array `(D, H, W)`; give MONAI a float
# tensor of shape `(1, 1, D, H, W)`, windows of size `roi`, `sw_batch_size=4` and `overlap=0.25`, and return
# the label map `(D, H, W)` as an integer numpy array (the arg-max over the class channel). MONAI is the
# tool here (exercises 2–3 asked you not to use it).
#
# `PatchOnlyModel` below stands in for a trained network: it **refuses any input whose spatial shape is not
# `roi`**, and labels a voxel 1 where its intensity is above 0.5. Your volume is not a multiple of `roi`.

# %% readonly id=ex5_setup
class PatchOnlyModel(torch.nn.Module):
    """Two-class logits (background, foreground = intensity > 0.5) for inputs of exactly `roi`."""

    def __init__(self, roi):
        super().__init__()
        self.roi, self.calls = tuple(roi), 0

    def forward(self, x):
        if tuple(x.shape[2:]) != self.roi:
            raise RuntimeError(f"this model takes {self.roi} patches, got {tuple(x.shape[2:])}")
        self.calls += 1
        return torch.cat([-(x - 0.5), x - 0.5], dim=1) * 10


_sw_rng = np.random.default_rng(mk.variant_seed("03_segmentation", salt="sliding"))
roi = tuple(int(r) for r in _sw_rng.choice([8, 12], size=3))
scan = _sw_rng.uniform(0, 1, size=tuple(int(s) for s in _sw_rng.integers(17, 30, size=3))).astype(np.float32)
print("scan", scan.shape, "roi", roi)

# %% solution id=ex5_answer exercise=sliding_window
def sliding_segment(model, volume, roi):
    """Label map (D, H, W) of a whole volume from a patch model, with MONAI's sliding-window inference."""
    ### BEGIN SOLUTION
    from monai.inferers import sliding_window_inference

    x = torch.as_tensor(np.asarray(volume, dtype=np.float32))[None, None]
    with torch.no_grad():
        logits = sliding_window_inference(x, tuple(roi), sw_batch_size=4, predictor=model, overlap=0.25)
    return logits.argmax(dim=1)[0].cpu().numpy().astype(np.int64)
    ### END SOLUTION

# %% tests id=ex5_tests points=3
def test_whole_scan_labelled():
    """every voxel labelled, as the model would label it. Hint: sliding_window_inference(x, roi, 4, model)"""
    labels = sliding_segment(PatchOnlyModel(roi), scan, roi)
    assert labels.shape == scan.shape and np.issubdtype(labels.dtype, np.integer)
    assert np.array_equal(labels, (scan > 0.5).astype(labels.dtype))


def test_uses_windows():
    """the model sees several roi-sized windows. Hint: the model must never get the whole scan"""
    m = PatchOnlyModel(roi)
    sliding_segment(m, scan, roi)
    assert m.calls >= 2


mk.check("sliding_window", test_whole_scan_labelled, test_uses_windows, budget=30)
### BEGIN HIDDEN TESTS
def _sw_other_roi_and_shape():
    v = np.random.default_rng(7).uniform(0, 1, size=(13, 21, 9)).astype(np.float32)
    labels = sliding_segment(PatchOnlyModel((6, 10, 4)), v, (6, 10, 4))
    assert labels.shape == v.shape and np.array_equal(labels, (v > 0.5).astype(labels.dtype))


def _sw_smaller_than_roi():
    v = np.random.default_rng(8).uniform(0, 1, size=(5, 7, 6)).astype(np.float32)
    labels = sliding_segment(PatchOnlyModel((8, 8, 8)), v, (8, 8, 8))
    assert labels.shape == v.shape and np.array_equal(labels, (v > 0.5).astype(labels.dtype))


class _LowThreshold(PatchOnlyModel):
    def forward(self, x):
        return super().forward(x + 0.2)


def _sw_follows_the_model():
    labels = sliding_segment(_LowThreshold(roi), scan, roi)
    expected = ((torch.from_numpy(scan) + 0.2) - 0.5 > 0).numpy()  # the model's own float32 rule
    assert np.array_equal(labels, expected.astype(labels.dtype))


def _sw_batches_windows():
    m = PatchOnlyModel((8, 8, 8))
    sliding_segment(m, np.zeros((24, 24, 24), np.float32), (8, 8, 8))
    assert 1 < m.calls <= 27


mk.check("sliding_window", _sw_other_roi_and_shape, _sw_follows_the_model, _sw_smaller_than_roi,
         _sw_batches_windows, budget=30, hidden=True)
### END HIDDEN TESTS

# %% [markdown] readonly id=ex6_text
# ## Exercise 6 — Train a 3D U-Net end to end (6 points)
#
# `lesion_vols` below holds 16 small textured organ volumes `(N, 1, 24, 24, 24)`, each with one bright
# spherical lesion, and `lesion_masks`, its voxel mask `(N, 1, 24, 24, 24)` (1 inside the lesion). The
# texture makes a global intensity threshold fail: Otsu's threshold per volume is printed as the baseline.
#
# 1. `train_unet(images, masks, seed=0)` builds a 3D U-Net with `mk.build_model("tinyunet", ...)` (one input
#    channel, **two** output classes: background and lesion) and trains it with
#    `mk.Trainer(..., task="segmentation", seed=seed)`; it returns the trained `mk.Trainer`. About 20 epochs
#    with `lr=1e-2`, `batch_size=4` and `precision="fp32"` take a few seconds. As in assignment 02, pass the
#    Trainer a *function* that builds the network, so every run starts from the same weights.
# 2. `segment(trainer, images)` returns the label map `(N, D, H, W)` as integers: the arg-max over the class
#    channel of `trainer.predict(images)` (it handles the device and batching).
#
# The tests train on the first 12 volumes and check the Dice of the lesion on the last 4. The grader then
# scores the same model on **new volumes you never see**: lesion Dice ≥ 0.5 and ≥ 0.65 earn 2 points each.

# %% readonly id=ex6_setup
from skimage.filters import threshold_otsu  # noqa: E402

torch.set_num_threads(1)  # the same numbers on any grading machine
_les_seed = mk.variant_seed("03_segmentation", salt="lesions") % 100_000
LESION_OPTIONS = {"size": 24, "prevalence": 1.0, "contrast": 0.6, "radius": (0.15, 0.25)}
_les = mk.synthetic.lesions3d(16, seed=_les_seed, **LESION_OPTIONS)
lesion_vols, lesion_masks = _les["images"], _les["masks"]


def lesion_dice(pred, truth):
    """Dice of the lesion (label 1) over all volumes together."""
    p, t = np.asarray(pred).astype(bool), np.asarray(truth).astype(bool)
    return float(2 * (p & t).sum() / max(p.sum() + t.sum(), 1))


otsu_dice = lesion_dice(np.stack([v[0] > threshold_otsu(v[0]) for v in lesion_vols[12:]]), lesion_masks[12:, 0])
print("volumes", lesion_vols.shape, "| lesion voxels per volume:", lesion_masks.reshape(16, -1).sum(1).tolist())
print(f"baseline: Otsu's threshold per volume, lesion Dice on the last 4 volumes {otsu_dice:.3f}")

# %% solution id=ex6_answer exercise=train_unet
def train_unet(images, masks, seed=0):
    """Build a two-class 3D tiny U-Net with mk.build_model and train it with mk.Trainer; return the trainer."""
    ### BEGIN SOLUTION
    def net():  # the Trainer seeds, then builds: the same initial weights on every run
        return mk.build_model("tinyunet", spatial_dims=3, in_channels=1, out_channels=2)

    trainer = mk.Trainer(net, task="segmentation", lr=1e-2, max_epochs=20, batch_size=4, seed=seed,
                         precision="fp32", progress=False)
    trainer.fit((images, masks))
    return trainer
    ### END SOLUTION


def segment(trainer, images):
    """Integer label map (N, D, H, W): the arg-max over classes of the trainer's predictions."""
    ### BEGIN SOLUTION
    return trainer.predict(images).argmax(dim=1).cpu().numpy().astype(np.int64)
    ### END SOLUTION

# %% tests id=ex6_tests points=2
unet = None


def test_unet_trains_and_segments_own_volumes():
    """a trained Trainer whose label maps beat Otsu on the last 4 volumes. Hint: mk.build_model + mk.Trainer.fit"""
    global unet
    unet = train_unet(lesion_vols[:12], lesion_masks[:12], seed=0)
    assert isinstance(unet, mk.Trainer)
    labels = segment(unet, lesion_vols[12:])
    assert labels.shape == lesion_masks[12:, 0].shape and np.issubdtype(labels.dtype, np.integer)
    assert set(np.unique(labels).tolist()) <= {0, 1}
    assert lesion_dice(labels, lesion_masks[12:, 0]) > max(0.4, otsu_dice)


mk.check("train_unet", test_unet_trains_and_segments_own_volumes, budget=120)
### BEGIN HIDDEN TESTS
def _unet_segment_follows_the_trainer():
    x = lesion_vols[12:14]
    expected = unet.predict(x).argmax(dim=1).cpu().numpy()
    assert np.array_equal(np.asarray(segment(unet, x)), expected)


def _unet_has_two_classes():
    assert tuple(unet.predict(lesion_vols[:1]).shape) == (1, 2, 24, 24, 24)


mk.check("train_unet", _unet_segment_follows_the_trainer, _unet_has_two_classes, budget=30, hidden=True)
### END HIDDEN TESTS

# %% tests id=ex6_band1 points=2
def test_unet_ready():
    """the U-Net trained by the tests above exists. Hint: make Exercise 6's tests pass first"""
    assert unet is not None


mk.check("train_unet", test_unet_ready, budget=5)
### BEGIN HIDDEN TESTS
_held_seed = mk.variant_seed("03_segmentation", salt="held-out") % 100_000
_held_les = mk.synthetic.lesions3d(12, seed=_held_seed, **LESION_OPTIONS)


def _unet_band_050():
    assert lesion_dice(segment(unet, _held_les["images"]), _held_les["masks"][:, 0]) >= 0.5


mk.check("train_unet", _unet_band_050, budget=30, hidden=True)
### END HIDDEN TESTS

# %% tests id=ex6_band2 points=2
mk.check("train_unet", test_unet_ready, budget=5)
### BEGIN HIDDEN TESTS
def _unet_band_065():
    assert lesion_dice(segment(unet, _held_les["images"]), _held_les["masks"][:, 0]) >= 0.65


mk.check("train_unet", _unet_band_065, budget=30, hidden=True)
### END HIDDEN TESTS
