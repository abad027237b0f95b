# Assignment 09 - Explaining image models: the pointing game, deletion curves and the randomisation check,
# saliency maps with mk.explain, occlusion in a box for a 3D classifier.
# Authoring source of assignments/source/09_explaining_image_models/09_explaining_image_models.ipynb
# (regenerate with `medimg grade build`; format: assignments/README.md).

# %% [markdown] readonly id=intro
# # Assignment 09 — Checking saliency maps
#
# Lesson 09 scored saliency maps with `medimg_kernel.explain.checks`. Here you implement the three core
# checks yourself, in numpy, on small synthetic lesion images whose true masks are known:
#
# * Exercises 1–3: use `numpy` (and `scipy.stats.rankdata` if you like); not `medimg_kernel.explain`.
#   Exercises 5–6 are the other way round: they ask you to use `mk.explain` on trained models.
# * Run each test cell to check your work; hidden tests use other data and edge cases.
#
# | Exercise | Points |
# |---|---|
# | 1. The pointing game and its chance level | 3 |
# | 2. A deletion curve and its AUC | 4 |
# | 3. Spearman rank correlation for the randomisation check | 3 |
# | 4. Written answer: Grad-CAM and its layer | 2 |
# | 5. Saliency maps with `mk.explain` | 3 |
# | 6. Occlusion in a box for a 3D classifier | 3 |

# %% readonly id=setup
import numpy as np
from scipy import ndimage
from scipy.stats import rankdata  # noqa: F401  (available for exercise 3)

import medimg_kernel as mk

# your own variant: the seeds come from your student id (mk.student_id()), so your images (lesion
# contrast, positions, radii, texture) differ from your neighbour's; solve the general problem and the
# tests pass for every variant
SIZE = 24
_variant = np.random.default_rng(mk.variant_seed("09_explaining_image_models", salt="geometry"))
CONTRAST = round(float(_variant.uniform(0.37, 0.43)), 3)
data = mk.synthetic.lesions2d(12, seed=mk.variant_seed("09_explaining_image_models"), size=SIZE,
                              prevalence=1.0, contrast=CONTRAST, radius=(0.1, 0.15))
images, masks = data["images"][:, 0], data["masks"][:, 0].astype(bool)  # (12, SIZE, SIZE) each

# a "good" saliency map: the image minus its blurred background (bright blobs stand out) ...

good_maps = np.stack([np.clip(im - ndimage.gaussian_filter(im, 4), 0, None) for im in images])
# ... and a poor one: smooth noise that knows nothing about the lesions
_noise = np.random.default_rng(mk.variant_seed("09_explaining_image_models", salt="noise"))
bad_maps = np.stack([ndimage.gaussian_filter(_noise.random((SIZE, SIZE)), 2) for _ in range(12)])


def lesion_probability(image, mask):
    """A toy model: the lesion probability grows with the mean brightness inside the true lesion."""
    return float(1 / (1 + np.exp(-20 * (image[mask].mean() - 0.45))))


print("variant of", mk.student_id(), "- images:", images.shape, "lesion contrast:", CONTRAST,
      "mask area fraction", masks.mean().round(3))

# %% [markdown] readonly id=ex1_text
# ## Exercise 1 — The pointing game (3 points)
#
# Implement `pointing_game(maps, masks)` for arrays of shape `(N, H, W)`: for every image whose mask is
# **not empty**, the map's maximum (use `np.argmax` on the flattened map; the first maximum wins ties) is a
# *hit* if it lies inside the mask. Return `(accuracy, chance)` as Python floats, where `accuracy` is
# hits / images counted and `chance` is the mean mask area fraction of those same images (the accuracy of a
# point drawn at random).

# %% solution id=ex1_answer exercise=pointing_game
def pointing_game(maps, masks):
    """Return (accuracy, chance) of the pointing game over images with a non-empty mask."""
    ### BEGIN SOLUTION
    maps = np.asarray(maps, dtype=float)
    masks = np.asarray(masks).astype(bool)
    keep = masks.reshape(len(masks), -1).any(1)
    m, k = maps[keep].reshape(keep.sum(), -1), masks[keep].reshape(keep.sum(), -1)
    hits = k[np.arange(len(k)), m.argmax(1)]
    return float(hits.mean()), float(k.mean(1).mean())
    ### END SOLUTION

# %% tests id=ex1_tests points=3
def test_tiny_example():
    """one hit and one miss. Hint: np.argmax on each flattened map, then look up the mask there"""
    mk_ = np.zeros((2, 3, 3), bool)
    mk_[:, 0, 0] = True
    mp = np.zeros((2, 3, 3))
    mp[0, 0, 0] = 1
    mp[1, 2, 2] = 1
    acc, chance = pointing_game(mp, mk_)
    assert np.isclose(acc, 0.5) and np.isclose(chance, 1 / 9)


def test_good_beats_bad_on_lesions():
    """the background-subtracted maps point at lesions far more often than noise. Hint: compare with chance"""
    acc_good, chance = pointing_game(good_maps, masks)
    acc_bad, _ = pointing_game(bad_maps, masks)
    assert acc_good >= 0.75 and acc_good > 5 * chance and acc_bad < acc_good


mk.check("pointing_game", test_tiny_example, test_good_beats_bad_on_lesions, budget=5)
### BEGIN HIDDEN TESTS
def _pg_skips_empty():
    mk_ = np.zeros((3, 4, 4), bool)
    mk_[0, 1:3, 1:3] = True
    mp = np.random.default_rng(5).random((3, 4, 4))
    mp[0, 2, 2] = 9
    acc, chance = pointing_game(mp, mk_)
    assert np.isclose(acc, 1.0) and np.isclose(chance, 4 / 16)


def _pg_float_types():
    acc, chance = pointing_game(good_maps[:5], masks[:5])
    assert isinstance(acc, float) and isinstance(chance, float)


mk.check("pointing_game", _pg_skips_empty, _pg_float_types, budget=5, hidden=True)
### END HIDDEN TESTS

# %% [markdown] readonly id=ex2_text
# ## Exercise 2 — Deletion curve and AUC (4 points)
#
# `deletion_curve(predict, image, saliency, steps, fill=0.0)`: order the pixels by saliency, most salient
# first (`np.argsort(-saliency.ravel(), kind="stable")`). For `k = 0, 1, ..., steps`, replace the first
# `round(k * n_pixels / steps)` pixels of that order by `fill` and record `predict(modified_image)`. Return
# the `steps + 1` probabilities as a float array (the first is the unmodified image).
#
# `curve_auc(curve)`: the trapezoid area over equally spaced points on [0, 1],
# $\text{AUC} = \big(\sum_k a_k - a_0/2 - a_n/2\big)/n$ for points $a_0 \dots a_n$.
#
# A faithful map makes the probability fall fast: a **low** deletion AUC.

# %% solution id=ex2_answer exercise=deletion
def deletion_curve(predict, image, saliency, steps, fill=0.0):
    """Probabilities while the most salient pixels are replaced by ``fill`` in ``steps`` equal steps."""
    ### BEGIN SOLUTION
    image = np.asarray(image, dtype=float)
    order = np.argsort(-np.asarray(saliency, dtype=float).ravel(), kind="stable")
    n = image.size
    out = []
    for k in range(steps + 1):
        x = image.ravel().copy()
        x[order[: int(round(k * n / steps))]] = fill
        out.append(predict(x.reshape(image.shape)))
    return np.asarray(out, dtype=float)
    ### END SOLUTION


def curve_auc(curve):
    """Trapezoid area under a curve sampled at equal steps on [0, 1]."""
    ### BEGIN SOLUTION
    c = np.asarray(curve, dtype=float)
    return float((c.sum() - c[0] / 2 - c[-1] / 2) / (len(c) - 1))
    ### END SOLUTION

# %% tests id=ex2_tests points=4
def test_auc_formula():
    """AUC of [1, 0.5, 0] is 0.5 and of a constant 1 is 1. Hint: trapezoids of width 1/n"""
    assert np.isclose(curve_auc([1.0, 0.5, 0.0]), 0.5) and np.isclose(curve_auc([1, 1, 1, 1]), 1.0)


def test_curve_shape_and_ends():
    """steps+1 points; first = unmodified image, last = everything filled. Hint: k runs from 0 to steps"""
    model = lambda im: float(im.mean())  # noqa: E731
    c = deletion_curve(model, images[0], good_maps[0], 8, fill=0.0)
    assert c.shape == (9,) and np.isclose(c[0], images[0].mean()) and np.isclose(c[-1], 0.0)


def test_good_map_deletes_faster_than_noise():
    """deleting by the good map lowers the lesion probability faster. Hint: most salient pixels first"""
    g = np.mean([curve_auc(deletion_curve(lambda im, m=m: lesion_probability(im, m), im, s, 10))
                 for im, m, s in zip(images, masks, good_maps)])
    b = np.mean([curve_auc(deletion_curve(lambda im, m=m: lesion_probability(im, m), im, s, 10))
                 for im, m, s in zip(images, masks, bad_maps)])
    assert g < b - 0.1


mk.check("deletion", test_auc_formula, test_curve_shape_and_ends, test_good_map_deletes_faster_than_noise,
         budget=10)
### BEGIN HIDDEN TESTS
def _del_order_and_counts():
    sal = np.arange(9, dtype=float).reshape(3, 3)
    c = deletion_curve(lambda im: float((im == 0).sum()), np.ones((3, 3)), sal, 3, fill=0.0)
    assert np.allclose(c, [0, 3, 6, 9])


def _del_most_salient_first():
    sal = np.zeros((2, 2))
    sal[1, 1] = 5
    c = deletion_curve(lambda im: float(im[1, 1]), np.full((2, 2), 7.0), sal, 4, fill=-1.0)
    assert np.allclose(c, [7, -1, -1, -1, -1])


def _del_auc_uneven():
    assert np.isclose(curve_auc([0, 1, 1, 1, 1]), 3.5 / 4)


mk.check("deletion", _del_order_and_counts, _del_most_salient_first, _del_auc_uneven, budget=10, hidden=True)
### END HIDDEN TESTS

# %% [markdown] readonly id=ex3_text
# ## Exercise 3 — The randomisation sanity check (3 points)
#
# Adebayo et al. compare a map from the trained model with a map from a randomised model using the
# **Spearman rank correlation** of the absolute values: the Pearson correlation of their ranks (ties get the
# average of the ranks they span — `scipy.stats.rankdata` does this). Implement `spearman(a, b)` (flattening
# both; return `0.0` if either is constant) and `passes_sanity_check(original, randomized, max_rho=0.5)`
# which returns `True` when the **mean** Spearman correlation over the `N` map pairs (arrays `(N, H, W)`,
# compare `|maps|`) is below `max_rho` — the map changed when the model was destroyed.

# %% solution id=ex3_answer exercise=randomization
def spearman(a, b):
    """Spearman rank correlation of two arrays (flattened); 0.0 if either is constant."""
    ### BEGIN SOLUTION
    a, b = np.asarray(a, dtype=float).ravel(), np.asarray(b, dtype=float).ravel()
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return 0.0
    return float(np.corrcoef(rankdata(a), rankdata(b))[0, 1])
    ### END SOLUTION


def passes_sanity_check(original, randomized, max_rho=0.5):
    """True if the mean Spearman correlation of |maps| over the pairs is below ``max_rho``."""
    ### BEGIN SOLUTION
    rhos = [spearman(np.abs(o), np.abs(r)) for o, r in zip(original, randomized)]
    return bool(np.mean(rhos) < max_rho)
    ### END SOLUTION

# %% tests id=ex3_tests points=3
def test_spearman_basics():
    """monotone transforms keep rho = 1, reversing gives -1. Hint: correlate the ranks, not the values"""
    x = np.array([0.1, 0.5, 0.2, 0.9])
    assert np.isclose(spearman(x, np.exp(x)), 1.0) and np.isclose(spearman(x, -x), -1.0)


def test_sanity_check_verdicts():
    """maps equal to the image fail; unrelated maps pass. Hint: compare |maps| pair by pair, then average"""
    assert not passes_sanity_check(good_maps, good_maps * 3)
    assert passes_sanity_check(good_maps, bad_maps)


mk.check("randomization", test_spearman_basics, test_sanity_check_verdicts, budget=5)
### BEGIN HIDDEN TESTS
def _sp_reference_ties():
    r = np.random.default_rng(8)
    a, b = np.round(r.random(40), 1), np.round(r.random(40) + 0.5 * np.arange(40) / 40, 1)
    ra, rb = rankdata(a), rankdata(b)
    ref = ((ra - ra.mean()) * (rb - rb.mean())).sum() / np.sqrt(((ra - ra.mean()) ** 2).sum() * ((rb - rb.mean()) ** 2).sum())
    assert np.isclose(spearman(a, b), ref)


def _sp_constant():
    assert spearman(np.ones(5), np.arange(5)) == 0.0


def _sp_threshold_and_abs():
    assert passes_sanity_check(good_maps, -good_maps, max_rho=0.5) is False
    assert passes_sanity_check(good_maps, bad_maps, max_rho=-0.9) is False


mk.check("randomization", _sp_reference_ties, _sp_constant, _sp_threshold_and_abs, budget=5, hidden=True)
### END HIDDEN TESTS

# %% [markdown] readonly id=q4_text
# ## Exercise 4 — Written answer (2 points, graded by your instructor)
#
# In lesson 09, Grad-CAM at the last convolution block gave a smooth but blocky map at ¼ of the image
# resolution, and the block before it a map at ½ resolution. In two or three sentences: what does Grad-CAM
# compute, why does its map depend on the layer you choose, and what do you trade when you move to an
# earlier layer?

# %% [markdown] manual id=q4_answer points=2
# ### BEGIN SOLUTION
# Grad-CAM takes the feature maps of one convolution layer, weights each by the average gradient of the
# target class score with respect to it, sums them, keeps the positive part and upsamples the result to the
# image, so the map has that layer's resolution and shows what that layer's features respond to. The last
# block is the most class-specific (its features are what the classifier head uses) but coarse, so a small
# lesion is smeared over a block; an earlier layer gives finer maps but its features are more generic (edges,
# texture) and less specific to the class, so the map gets noisier and may highlight structure the decision
# did not use. Name the layer with every map and re-run the pointing game and the randomisation check for it.
# ### END SOLUTION

# %% [markdown] rubric id=q4_rubric for=q4_answer
# - 1: Grad-CAM weights one layer's feature maps by the (averaged) gradients of the target score and upsamples them, so the map has that layer's resolution and content
# - 1: the trade-off: the last layer is class-specific but coarse; an earlier layer is finer but less class-specific (noisier), so the layer must be stated and checked

# %% [markdown] readonly id=ex5_text
# ## Exercise 5 — Saliency maps with `mk.explain` (3 points)
#
# Exercises 1–3 scored given maps. Now make them, from a trained classifier: `cnn2d` (from the helper file
# `lesion_models.py`, trained on images like yours) outputs the logits (no lesion, lesion). Here you **use**
# `mk.explain(model, images, method=..., target=...)`.
#
# Implement `saliency_maps(model, images, methods)`: for every method name in `methods`, the saliency map
# of the **lesion** class (class 1, whatever the model predicts) for every image, as a numpy array of shape
# `(N, H, W)`; return a dict `{method: maps}`. The test cell scores each method with the pointing game and
# shows one map per method.

# %% readonly id=ex5_setup
import torch  # noqa: E402
from lesion_models import lesion_data, load_model  # noqa: E402  (helper file shipped with this assignment)

cnn2d, cnn3d = load_model(2), load_model(3)
_exp = lesion_data(2, 10, seed=mk.variant_seed("09_explaining_image_models", salt="explain") % 100_000,
                   prevalence=1.0)
exp_images, exp_masks = _exp["images"][:, 0], _exp["masks"][:, 0].astype(bool)
METHODS = ["gradient", "smoothgrad", "integrated_gradients", "gradcam", "occlusion"]


def hit_rate(maps, masks):
    """The pointing game's accuracy, from the package (exercise 1 asked you to write it yourself)."""
    from medimg_kernel.explain.checks import pointing_game as package_pointing_game

    return package_pointing_game(maps, masks).accuracy


print("images", exp_images.shape, "| P(lesion):",
      torch.softmax(cnn2d(torch.from_numpy(exp_images[:, None])), 1)[:, 1].detach().numpy().round(2))

# %% solution id=ex5_answer exercise=explain_methods
def saliency_maps(model, images, methods):
    """{method: (N, H, W) saliency maps of class 1} computed with mk.explain."""
    ### BEGIN SOLUTION
    x = np.asarray(images, dtype=np.float32)[:, None]  # (N, 1, H, W): one channel
    return {m: np.asarray(mk.explain(model, x, method=m, target=1)) for m in methods}
    ### END SOLUTION

# %% tests id=ex5_tests points=3
def test_every_method_points_at_the_lesions():
    """one (N, H, W) map per method; gradient and occlusion peak in the lesion. Hint: mk.explain(model, x, method=m, target=1)"""
    import matplotlib.pyplot as plt

    maps = saliency_maps(cnn2d, exp_images, METHODS)
    assert sorted(maps) == sorted(METHODS)
    for m in METHODS:
        assert np.asarray(maps[m]).shape == exp_images.shape, m
    rates = {m: hit_rate(maps[m], exp_masks) for m in METHODS}
    print("pointing-game hits:", rates, "| chance about", round(float(exp_masks.mean()), 3))
    assert rates["gradient"] >= 0.8 and rates["occlusion"] >= 0.8
    fig, axes = plt.subplots(1, len(METHODS) + 1, figsize=(2.2 * (len(METHODS) + 1), 2.4))
    axes[0].imshow(exp_images[0], cmap="gray")
    axes[0].contour(exp_masks[0], colors="r", linewidths=0.8)
    for ax, m in zip(axes[1:], METHODS):
        ax.imshow(maps[m][0], cmap="magma")
        ax.set_title(m[:12], fontsize=8)
    for ax in axes:
        ax.axis("off")
    plt.show()


mk.check("explain_methods", test_every_method_points_at_the_lesions, budget=60)
### BEGIN HIDDEN TESTS
def _explain_class_one_even_when_predicted_zero():
    clean = lesion_data(2, 4, seed=77, prevalence=0.0)["images"][:, 0]
    ours = saliency_maps(cnn2d, clean, ["gradient", "integrated_gradients", "gradcam"])
    for m in ours:
        ref = mk.explain(cnn2d, clean[:, None], method=m, target=1)
        assert np.allclose(ours[m], ref, atol=1e-5), m


def _explain_one_method_subset():
    one = saliency_maps(cnn2d, exp_images[:3], ["occlusion"])
    assert list(one) == ["occlusion"] and np.asarray(one["occlusion"]).shape == (3,) + exp_images.shape[1:]


mk.check("explain_methods", _explain_class_one_even_when_predicted_zero, _explain_one_method_subset, budget=60,
         hidden=True)
### END HIDDEN TESTS

# %% [markdown] readonly id=ex6_text
# ## Exercise 6 — Occlusion in a box for a 3D classifier (3 points)
#
# Occlusion slides a patch over the image and records how much the lesion logit drops. In 3D that costs a
# forward pass per patch position, so you restrict it to a **box** around the region of interest.
# `cnn3d` classifies `(1, 16, 16, 16)` volumes. Implement `occlusion_in_box(model, volume, box, mask_size=4)`:
# `volume` has shape `(16, 16, 16)` and `box = (z0, z1, y0, y1, x0, x1)` in voxels (end exclusive); return
# `mk.explain`'s occlusion map of class 1 for that box (option `b_box=`, see `help(mk.explain)`), shape
# `(16, 16, 16)`. Nothing outside the box is computed, so the map is 0 there.

# %% readonly id=ex6_setup
_vol = lesion_data(3, 1, seed=mk.variant_seed("09_explaining_image_models", salt="3d") % 100_000, prevalence=1.0)
volume3d, mask3d = _vol["images"][0, 0], _vol["masks"][0, 0].astype(bool)
_c = np.array(np.nonzero(mask3d)).mean(1).round().astype(int)
box3d = tuple(int(v) for a in _c for v in (max(a - 4, 0), min(a + 4, 16)))
print("volume", volume3d.shape, "| lesion voxels", int(mask3d.sum()), "| box", box3d)

# %% solution id=ex6_answer exercise=occlusion_3d
def occlusion_in_box(model, volume, box, mask_size=4):
    """Occlusion map (D, H, W) of class 1 computed only inside box = (z0, z1, y0, y1, x0, x1)."""
    ### BEGIN SOLUTION
    x = np.asarray(volume, dtype=np.float32)[None]  # (1, D, H, W): one channel
    return np.asarray(mk.explain(model, x, method="occlusion", target=1, b_box=list(box), mask_size=mask_size))
    ### END SOLUTION

# %% tests id=ex6_tests points=3
def test_box_map_zero_outside_and_peaks_in_the_lesion():
    """zero outside the box, largest inside the lesion. Hint: mk.explain(..., method="occlusion", b_box=list(box))"""
    om = occlusion_in_box(cnn3d, volume3d, box3d)
    assert np.asarray(om).shape == volume3d.shape
    z0, z1, y0, y1, x0, x1 = box3d
    inside = np.zeros(volume3d.shape, bool)
    inside[z0:z1, y0:y1, x0:x1] = True
    assert np.allclose(np.asarray(om)[~inside], 0.0) and np.asarray(om)[inside].max() > 0
    assert mask3d[np.unravel_index(np.argmax(om), om.shape)]


mk.check("occlusion_3d", test_box_map_zero_outside_and_peaks_in_the_lesion, budget=60)
### BEGIN HIDDEN TESTS
def _occ_other_box_and_size():
    box = (0, 8, 8, 16, 2, 10)
    om = np.asarray(occlusion_in_box(cnn3d, volume3d, box, mask_size=2))
    ref = mk.explain(cnn3d, volume3d[None], method="occlusion", target=1, b_box=list(box), mask_size=2)
    assert om.shape == volume3d.shape and np.allclose(om, ref, atol=1e-5)


mk.check("occlusion_3d", _occ_other_box_and_size, budget=60, hidden=True)
### END HIDDEN TESTS

# %% [markdown] readonly id=selfcheck
# ## Self-check
#
# Before you submit: **Kernel → Restart & Run All**, then press **Validate** (or run
# `nbgrader validate 09_explaining_image_models.ipynb`). Every visible test line should start with ✓.
# Hidden tests use other inputs: make sure your functions work for any `N`, image size and number of steps,
# and that they skip empty masks and constant maps as described.
