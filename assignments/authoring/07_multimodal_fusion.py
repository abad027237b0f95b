# Assignment 07 - Multimodal image fusion: channel stacking with a geometry check, resampling, feature fusion,
# a PET overlay on MRI in the viewer, single-sequence vs early-fusion networks trained and compared per region.
# Authoring source of assignments/source/07_multimodal_fusion/07_multimodal_fusion.ipynb
# (regenerate with `medimg grade build`; format: assignments/README.md).

# %% [markdown] readonly id=intro
# # Assignment 07 — Multimodal image fusion
#
# Lesson 07 stacked co-registered MRI sequences as channels (early fusion), resampled a PET onto the
# MRI grid, and fused per-sequence feature maps (feature fusion). Here you build those three pieces
# yourself, with `numpy`, `scipy` and `torch` (not `medimg_kernel.fusion`, which solves them for you).
#
# * Write your code where it says `YOUR CODE HERE` (delete the `raise NotImplementedError()` line).
# * Run the test cell below each exercise: it prints one line per check, with a hint when one fails.
#   The grader also runs **hidden tests** (other inputs, edge cases), so solve the general problem.
# * Everything runs on a CPU in seconds.
#
# | Exercise | Points |
# |---|---|
# | 1. Early fusion: stack channels, but only on one grid | 3 |
# | 2. Resample a PET onto the MRI grid | 3 |
# | 3. Feature fusion module | 3 |
# | 4. Written answer | 2 |
# | 5. PET over MRI in the viewer | 3 |
# | 6. Train single-sequence and early-fusion networks | 4 |

# %% readonly id=setup
import numpy as np
import torch
from fusion_data import make_patient  # helper file shipped with this assignment
from scipy import ndimage
from torch import nn

import medimg_kernel as mk

# your own variant: the seed comes from your student id (mk.student_id()), so your patient (grid size,
# tumour, intensities) differs from your neighbour's; solve the general problem and the tests pass for
# every variant
SIZE = (16, 20, 24)[mk.variant_seed("07_multimodal_fusion", salt="size") % 3]
patient = make_patient(seed=mk.variant_seed("07_multimodal_fusion"), size=SIZE)
print("variant of", mk.student_id(), "- MRI grid:", patient["t1"].shape, "PET grid:",
      patient["pet_lowres"].shape, "tumour voxels:", int((patient["seg"] > 0).sum()),
      "mean T1:", round(float(patient["t1"].mean()), 4))
print({k: v.shape for k, v in patient.items()})

# %% [markdown] readonly id=ex1_text
# ## Exercise 1 — Early fusion needs one grid (3 points)
#
# Implement `stack_channels(images, affines, order)`:
#
# * `images` maps a modality name to a 3D array, `affines` maps the same names to 4×4 voxel-to-world
#   matrices, `order` lists the names in channel order;
# * return a **float32** array of shape `(len(order), X, Y, Z)`;
# * if a modality's shape differs from the first one's, or its affine differs (`np.allclose` with
#   `atol=1e-3`), raise a `ValueError` whose message contains **both** modality names — never stack
#   images that are not on one grid.

# %% solution id=ex1_answer exercise=stack_channels
def stack_channels(images, affines, order):
    """Stack 3D modalities as channels (C, X, Y, Z) float32 after checking they share one voxel grid."""
    ### BEGIN SOLUTION
    ref = order[0]
    ref_shape, ref_aff = np.shape(images[ref]), np.asarray(affines[ref], dtype=float)
    for name in order[1:]:
        if np.shape(images[name]) != ref_shape:
            raise ValueError(f"{name!r} has shape {np.shape(images[name])}, {ref!r} has {ref_shape}")
        if not np.allclose(np.asarray(affines[name], dtype=float), ref_aff, atol=1e-3):
            raise ValueError(f"{name!r} and {ref!r} have different affines (voxel grids)")
    return np.stack([np.asarray(images[n], dtype=np.float32) for n in order])
    ### END SOLUTION

# %% tests id=ex1_tests points=3
def test_stack_shape_dtype():
    """four MRI sequences on one grid stack to (4, X, Y, Z) float32. Hint: np.stack(..., axis=0)"""
    names = ["t1", "t1c", "t2", "flair"]
    out = stack_channels({n: patient[n] for n in names}, {n: patient["affine"] for n in names}, names)
    assert out.shape == (4, *patient["t1"].shape) and out.dtype == np.float32


def test_stack_order():
    """channels follow `order`. Hint: loop over order, not over the dict"""
    out = stack_channels({"a": np.zeros((2, 2, 2)), "b": np.ones((2, 2, 2))}, {"a": np.eye(4), "b": np.eye(4)},
                         ["b", "a"])
    assert out[0].min() == 1 and out[1].max() == 0


def test_stack_refuses_other_grid():
    """the low-resolution PET is refused with a ValueError naming 'pet' and 't1'. Hint: compare shapes"""
    try:
        stack_channels({"t1": patient["t1"], "pet": patient["pet_lowres"]},
                       {"t1": patient["affine"], "pet": patient["pet_lowres_affine"]}, ["t1", "pet"])
    except ValueError as err:
        assert "pet" in str(err) and "t1" in str(err)
    else:
        raise AssertionError("no ValueError for a PET on another grid")


mk.check("stack_channels", test_stack_shape_dtype, test_stack_order, test_stack_refuses_other_grid, budget=10)
### BEGIN HIDDEN TESTS
def _stack_same_shape_shifted_origin():
    shifted = np.eye(4)
    shifted[:3, 3] = [2.0, 0.0, 0.0]
    try:
        stack_channels({"ct": np.zeros((3, 3, 3)), "pet": np.zeros((3, 3, 3))}, {"ct": np.eye(4), "pet": shifted},
                       ["ct", "pet"])
    except ValueError as err:
        assert "ct" in str(err) and "pet" in str(err)
    else:
        raise AssertionError("same shape, other origin accepted")


def _stack_flipped_axis():
    flipped = np.diag([-1.0, 1.0, 1.0, 1.0])
    try:
        stack_channels({"x": np.zeros((3, 3, 3)), "y": np.zeros((3, 3, 3))}, {"x": np.eye(4), "y": flipped},
                       ["x", "y"])
    except ValueError:
        return
    raise AssertionError("flipped orientation accepted")


def _stack_int_input_values():
    a = np.arange(8, dtype=np.int16).reshape(2, 2, 2)
    out = stack_channels({"a": a, "b": a * 2}, {"a": np.eye(4), "b": np.eye(4) + 1e-5}, ["a", "b"])
    assert out.dtype == np.float32 and np.allclose(out[1], a * 2)


mk.check("stack_channels", _stack_same_shape_shifted_origin, _stack_flipped_axis, _stack_int_input_values,
         budget=10, hidden=True)
### END HIDDEN TESTS

# %% [markdown] readonly id=ex2_text
# ## Exercise 2 — Resample a PET onto the MRI grid (3 points)
#
# Implement `resample_to_grid(image, source_affine, target_shape, target_affine, order=1)` with
# `scipy.ndimage.affine_transform`. For every voxel of the target grid, go to world coordinates with
# `target_affine`, then into the source image's voxels with the inverse of `source_affine`: the 4×4
# matrix `M = inv(source_affine) @ target_affine` maps target voxels to source voxels. Pass its 3×3 part
# as the matrix and its last column (first three rows) as the `offset`, with
# `output_shape=target_shape`, the given `order` and `mode="constant"`, `cval=0` (`ndimage` is imported
# in the setup cell). Return float32
# (for `order=0` keep the input's values exactly).

# %% solution id=ex2_answer exercise=resample_to_grid
def resample_to_grid(image, source_affine, target_shape, target_affine, order=1):
    """Resample a 3D image from its grid (source_affine) onto a target grid (shape, affine)."""
    ### BEGIN SOLUTION
    m = np.linalg.inv(np.asarray(source_affine, float)) @ np.asarray(target_affine, float)
    out = ndimage.affine_transform(np.asarray(image, dtype=np.float32), m[:3, :3], offset=m[:3, 3],
                                   output_shape=tuple(target_shape), order=order, mode="constant", cval=0.0)
    return out.astype(np.float32)
    ### END SOLUTION

# %% tests id=ex2_tests points=3
def test_identity():
    """the same grid gives back the image. Hint: M is the identity when both affines are equal"""
    out = resample_to_grid(patient["t1"], patient["affine"], patient["t1"].shape, patient["affine"])
    assert np.allclose(out, patient["t1"], atol=1e-5)


def test_pet_onto_mri_grid():
    """the low-res PET lands on the MRI grid and matches the true PET. Hint: M = inv(source) @ target"""
    out = resample_to_grid(patient["pet_lowres"], patient["pet_lowres_affine"], patient["t1"].shape,
                           patient["affine"])
    assert out.shape == patient["t1"].shape and out.dtype == np.float32
    assert np.corrcoef(out.ravel(), patient["pet"].ravel())[0, 1] > 0.9


def test_shift_by_one_voxel():
    """a grid shifted by one voxel moves the content by one voxel. Hint: use the offset, not only the matrix"""
    img = np.zeros((6, 6, 6), np.float32)
    img[2, 3, 3] = 1.0
    target = np.eye(4)
    target[0, 3] = 1.0  # target voxel i sits at source voxel i + 1
    out = resample_to_grid(img, np.eye(4), (6, 6, 6), target, order=0)
    assert out[1, 3, 3] == 1.0 and out.sum() == 1.0


mk.check("resample_to_grid", test_identity, test_pet_onto_mri_grid, test_shift_by_one_voxel, budget=15)
### BEGIN HIDDEN TESTS
def _res_coarse_ramp():
    ramp = np.broadcast_to(np.arange(8, dtype=np.float32)[:, None, None], (8, 8, 8)).copy()
    src = np.diag([4.0, 4.0, 4.0, 1.0])
    src[:3, 3] = 1.0
    tgt = np.diag([2.0, 2.0, 2.0, 1.0])
    out = resample_to_grid(ramp, src, (16, 16, 16), tgt)
    world = np.arange(16) * 2.0
    expected = (world - 1.0) / 4.0
    inside = (expected >= 0) & (expected <= 7)
    assert np.allclose(out[inside, 4, 4], expected[inside], atol=1e-4)


def _res_labels_nearest():
    lab = np.zeros((16, 16, 16), np.uint8)
    lab[4:10, 5:11, 6:12] = 2
    lab[5:9, 6:10, 7:11] = 3
    lab[6:8, 7:9, 8:10] = 1
    up = np.diag([0.5, 0.5, 0.5, 1.0])
    big = resample_to_grid(lab, np.eye(4), (32, 32, 32), up, order=0)
    assert set(np.unique(big)) <= set(np.unique(lab)) and np.isclose((big == 3).sum() / 8, (lab == 3).sum(), rtol=0.35)


def _res_other_patient():
    other = make_patient(seed=mk.variant_seed("07_multimodal_fusion", salt="held-out"), size=SIZE)
    out = resample_to_grid(other["pet_lowres"], other["pet_lowres_affine"], other["t1"].shape, other["affine"])
    assert np.corrcoef(out.ravel(), other["pet"].ravel())[0, 1] > 0.9


mk.check("resample_to_grid", _res_coarse_ramp, _res_labels_nearest, _res_other_patient, budget=15, hidden=True)
### END HIDDEN TESTS

# %% [markdown] readonly id=ex3_text
# ## Exercise 3 — Feature fusion (3 points)
#
# Complete `FeatureFusion`: one encoder per modality (an `nn.ModuleDict`), their outputs concatenated
# along the channel axis (dim 1) in the order of `self.order`, then the `head`. If the input dict lacks
# a modality, raise a `KeyError` whose message names it (feature fusion cannot run without it).

# %% solution id=ex3_answer exercise=feature_fusion
class FeatureFusion(nn.Module):
    """Per-modality encoders -> concatenation along channels -> head."""

    def __init__(self, encoders, head):
        super().__init__()
        self.encoders = nn.ModuleDict(encoders)
        self.order = list(encoders)
        self.head = head

    def forward(self, x):
        ### BEGIN SOLUTION
        missing = [m for m in self.order if m not in x]
        if missing:
            raise KeyError(f"missing modalities: {missing}")
        return self.head(torch.cat([self.encoders[m](x[m]) for m in self.order], dim=1))
        ### END SOLUTION

# %% tests id=ex3_tests points=3
def _toy():
    torch.manual_seed(0)
    enc = {"t1": nn.Conv3d(1, 2, 3, padding=1), "flair": nn.Conv3d(1, 3, 3, padding=1)}
    return FeatureFusion(enc, nn.Conv3d(5, 4, 1)), {m: torch.randn(2, 1, 8, 8, 8) for m in ("flair", "t1")}


def test_output_shape():
    """two streams (2 + 3 feature maps) give a (2, 4, 8, 8, 8) output. Hint: torch.cat(..., dim=1)"""
    model, x = _toy()
    assert model(x).shape == (2, 4, 8, 8, 8)


def test_order_and_values():
    """features are concatenated in self.order. Hint: loop over self.order, not over x"""
    model, x = _toy()
    expected = model.head(torch.cat([model.encoders["t1"](x["t1"]), model.encoders["flair"](x["flair"])], 1))
    assert torch.allclose(model(x), expected, atol=1e-6)


def test_missing_modality():
    """a missing modality raises KeyError naming it. Hint: check the keys before encoding"""
    model, x = _toy()
    try:
        model({"t1": x["t1"]})
    except KeyError as err:
        assert "flair" in str(err)
    else:
        raise AssertionError("no KeyError without 'flair'")


mk.check("feature_fusion", test_output_shape, test_order_and_values, test_missing_modality, budget=10)
### BEGIN HIDDEN TESTS
def _ff_gradients_reach_all_encoders():
    model, x = _toy()
    model(x).sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.encoders.parameters() if p.dim() > 1)


def _ff_tabular_streams():
    model = FeatureFusion({"clin": nn.Linear(3, 4), "gen": nn.Linear(5, 2), "img": nn.Linear(7, 1)}, nn.Linear(7, 1))
    x = {"img": torch.randn(6, 7), "gen": torch.randn(6, 5), "clin": torch.randn(6, 3)}
    ref = model.head(torch.cat([model.encoders["clin"](x["clin"]), model.encoders["gen"](x["gen"]),
                                model.encoders["img"](x["img"])], 1))
    assert torch.allclose(model(x), ref, atol=1e-6)


def _ff_extra_keys_ignored():
    model, x = _toy()
    x["pet"] = torch.randn(2, 1, 8, 8, 8)
    assert model(x).shape == (2, 4, 8, 8, 8)


mk.check("feature_fusion", _ff_gradients_reach_all_encoders, _ff_tabular_streams, _ff_extra_keys_ignored,
         budget=10, hidden=True)
### END HIDDEN TESTS

# %% [markdown] readonly id=q4_text
# ## Exercise 4 — Written answer (2 points, graded by your instructor)
#
# A hospital wants to deploy your 4-channel (early fusion) tumour segmentation model, but 15% of its
# patients have no contrast-enhanced T1 (kidney disease). In three or four sentences: what happens if
# those patients are run with a zero T1c channel, and which two strategies from lessons 07–08 would
# make the model usable for them?

# %% [markdown] manual id=q4_answer points=2
# ### BEGIN SOLUTION
# A zeroed channel is an input the network never saw in training: its Dice drops, most for the
# enhancing rim that only T1c shows, and the model gives no warning. Either train with modality dropout
# (randomly zero/mask T1c during training so the network learns to work without it), or use late fusion:
# separate per-sequence models whose decisions are averaged over the sequences that exist. A third
# option is a dedicated non-contrast model chosen by a rule when T1c is absent.
# ### END SOLUTION

# %% [markdown] rubric id=q4_rubric for=q4_answer
# - 1: a zero T1c channel is an input never seen in training: accuracy drops (most for the enhancing rim) without warning
# - 1: names two working strategies, e.g. modality dropout in training, late fusion over the sequences present, or a dedicated non-contrast model

# %% [markdown] readonly id=ex5_text
# ## Exercise 5 — PET over MRI in the viewer (3 points)
#
# A reader checks a fusion by looking at it: the PET in colour over the T1, hot only where the uptake is
# high. `mk.view(image, overlay=..., overlay_threshold=...)` first prepares a **scene** (every layer resampled
# onto the image's grid, windowed and thresholded) and then draws it. `prepare_scene` (imported below) takes
# the same arguments and returns that scene without drawing it, which is what the grader can check.
#
# Implement `pet_scene(patient, fraction=0.5)` returning the scene of the patient's T1 with the
# **low-resolution** PET (`pet_lowres`, on its own grid `pet_lowres_affine`) as its `overlay`, drawn only where
# the PET is at least `fraction` × its maximum (`overlay_threshold=`).
#
# The two images are on different grids: give both geometries (for example as
# `nibabel.Nifti1Image(array, affine)`) and the scene resamples the PET onto the T1 grid for you. A bare PET
# array is refused, because nothing says where its voxels are. To look at it, call `mk.view` with the same
# arguments in a cell of your own.

# %% readonly id=ex5_setup
from medimg_kernel.viz.scene import prepare_scene  # noqa: E402  (what mk.view draws)


# %% solution id=ex5_answer exercise=pet_overlay
def pet_scene(patient, fraction=0.5):
    """The viewer's scene of the T1 with the low-resolution PET overlaid (resampled) above a threshold."""
    ### BEGIN SOLUTION
    import nibabel as nib

    t1 = nib.Nifti1Image(np.asarray(patient["t1"], np.float32), patient["affine"])
    pet = nib.Nifti1Image(np.asarray(patient["pet_lowres"], np.float32), patient["pet_lowres_affine"])
    return prepare_scene(t1, overlay=pet, overlay_threshold=fraction * float(np.max(patient["pet_lowres"])))
    ### END SOLUTION

# %% tests id=ex5_tests points=3
def test_pet_resampled_onto_the_t1_and_thresholded():
    """the overlay lies on the T1 grid, thresholded, hot in the tumour. Hint: nibabel.Nifti1Image(pet_lowres, pet_lowres_affine)"""
    scene = pet_scene(patient, 0.5)
    heat = scene.heat
    assert heat is not None and heat.data.shape == patient["t1"].shape
    assert np.allclose(scene.affine, patient["affine"])
    assert np.isclose(heat.threshold, 0.5 * patient["pet_lowres"].max(), rtol=1e-3)
    tumour = patient["seg"] > 0
    hot = np.asarray(heat.data, float)
    assert hot[tumour].mean() > 2 * hot[~tumour].mean()  # the uptake is where the tumour is


mk.check("pet_overlay", test_pet_resampled_onto_the_t1_and_thresholded, budget=60)
### BEGIN HIDDEN TESTS
def _pet_other_fraction_and_patient():
    other = make_patient(seed=4242, size=16)
    sc = pet_scene(other, 0.8)
    assert sc.heat.data.shape == other["t1"].shape
    assert np.isclose(sc.heat.threshold, 0.8 * other["pet_lowres"].max(), rtol=1e-3)
    heat_other, in_tumour = np.asarray(sc.heat.data, float), other["seg"] > 0
    assert heat_other[in_tumour].mean() > 2 * heat_other[~in_tumour].mean()
    assert np.corrcoef(np.asarray(sc.image.data, float).ravel(), other["t1"].ravel())[0, 1] > 0.99


mk.check("pet_overlay", _pet_other_fraction_and_patient, budget=60, hidden=True)
### END HIDDEN TESTS

# %% [markdown] readonly id=ex6_text
# ## Exercise 6 — Train single-sequence and early-fusion networks, compare Dice per region (4 points)
#
# `cohort_x` holds 24 small patients `(24, 4, 16, 16, 16)` with the channels `SEQUENCES` (T1, T1c, T2,
# FLAIR) and `cohort_seg` their labels `(24, 1, 16, 16, 16)`: 1 core, 2 oedema, 3 enhancing rim.
#
# 1. `train_segmenter(images, seg, seed=0)` builds a 3D `"tinyunet"` with `mk.build_model` (as many input
#    channels as `images` has, **four** output classes) and trains it with `mk.Trainer(...,
#    task="segmentation", seed=seed)`: about 40 epochs, `lr=1e-2`, `batch_size=4`, `precision="fp32"`, and a
#    builder *function* as in exercise 5 of assignment 02. Return the trained `mk.Trainer`.
# 2. `dice_per_region(pred, seg)` takes two integer label maps of the same shape and returns
#    `{"core": ..., "oedema": ..., "enhancing": ...}`, the Dice of labels 1, 2 and 3 over all voxels together
#    (NaN for a label that is in neither map).
#
# The tests train on the first 16 patients twice, once on FLAIR alone and once on all four sequences
# (early fusion), and compare them on the last 8. The grader then scores the fused network on **new patients**:
# an oedema Dice of at least 0.4 earns 2 points. (The enhancing rim shows only in T1c, by construction of these
# synthetic patients, which is why FLAIR alone cannot find it.)

# %% readonly id=ex6_setup
from medimg_kernel.data.synthetic import generate  # noqa: E402

torch.set_num_threads(1)  # the same numbers on any grading machine
SEQUENCES = ["t1", "t1c", "t2", "flair"]
_coh = generate("multimodal_cohort", 24, seed=mk.variant_seed("07_multimodal_fusion", salt="cohort") % 100_000, size=16)
cohort_x = np.stack([np.asarray(_coh[m]) for m in SEQUENCES], axis=1).astype(np.float32)
cohort_seg = np.asarray(_coh["seg"])[:, None].astype(np.int64)
print("cohort", cohort_x.shape, "| voxels per label:", np.bincount(cohort_seg.ravel(), minlength=4).tolist())

# %% solution id=ex6_answer exercise=train_fusion
def train_segmenter(images, seg, seed=0):
    """Train a four-class 3D tiny U-Net on (images, seg) with mk.Trainer; return the trainer."""
    ### BEGIN SOLUTION
    channels = int(np.shape(images)[1])

    def net():  # the Trainer seeds, then builds: the same initial weights on every run
        return mk.build_model("tinyunet", spatial_dims=3, in_channels=channels, out_channels=4)

    trainer = mk.Trainer(net, task="segmentation", lr=1e-2, max_epochs=40, batch_size=4, seed=seed,
                         precision="fp32", progress=False)
    trainer.fit((images, seg))
    return trainer
    ### END SOLUTION


def dice_per_region(pred, seg):
    """Dice of core (1), oedema (2) and enhancing rim (3) between two label maps."""
    ### BEGIN SOLUTION
    pred, seg = np.asarray(pred), np.asarray(seg)
    out = {}
    for name, k in (("core", 1), ("oedema", 2), ("enhancing", 3)):
        p, t = pred == k, seg == k
        denom = p.sum() + t.sum()
        out[name] = float(2 * (p & t).sum() / denom) if denom else float("nan")
    return out
    ### END SOLUTION

# %% tests id=ex6_tests points=2
fused_trainer = None


def test_dice_per_region_by_hand():
    """Dice per label, NaN when a label is in neither map. Hint: 2 |P & T| / (|P| + |T|) for each label"""
    pred = np.array([[0, 2, 2, 3], [0, 0, 3, 3]])
    seg = np.array([[0, 2, 0, 3], [0, 2, 3, 0]])
    d = dice_per_region(pred, seg)
    assert set(d) == {"core", "oedema", "enhancing"} and np.isnan(d["core"])
    assert np.isclose(d["oedema"], 2 * 1 / (2 + 2)) and np.isclose(d["enhancing"], 2 * 2 / (3 + 2))


def test_early_fusion_beats_flair_alone():
    """all four sequences segment oedema and rim better than FLAIR alone. Hint: in_channels from images.shape[1]"""
    global fused_trainer
    tr_x, te_x, tr_y, te_y = cohort_x[:16], cohort_x[16:], cohort_seg[:16], cohort_seg[16:, 0]
    flair = train_segmenter(tr_x[:, 3:4], tr_y, seed=0)
    fused_trainer = train_segmenter(tr_x, tr_y, seed=0)
    assert isinstance(flair, mk.Trainer) and isinstance(fused_trainer, mk.Trainer)
    d_flair = dice_per_region(flair.predict(te_x[:, 3:4]).argmax(1).numpy(), te_y)
    d_fused = dice_per_region(fused_trainer.predict(te_x).argmax(1).numpy(), te_y)
    print("FLAIR only  :", {k: round(v, 3) for k, v in d_flair.items()})
    print("early fusion:", {k: round(v, 3) for k, v in d_fused.items()})
    assert d_fused["oedema"] + d_fused["enhancing"] > d_flair["oedema"] + d_flair["enhancing"]


mk.check("train_fusion", test_dice_per_region_by_hand, test_early_fusion_beats_flair_alone, budget=180)
### BEGIN HIDDEN TESTS
def _region_dice_other_labels():
    d = dice_per_region(np.ones((3, 3), int), np.ones((3, 3), int))
    assert d["core"] == 1.0 and np.isnan(d["oedema"]) and np.isnan(d["enhancing"])


mk.check("train_fusion", _region_dice_other_labels, budget=10, hidden=True)
### END HIDDEN TESTS

# %% tests id=ex6_band points=2
def test_fused_model_ready():
    """the fused network trained by the tests above exists. Hint: make Exercise 6's tests pass first"""
    assert fused_trainer is not None


mk.check("train_fusion", test_fused_model_ready, budget=5)
### BEGIN HIDDEN TESTS
_new = generate("multimodal_cohort", 8, seed=mk.variant_seed("07_multimodal_fusion", salt="held-out") % 100_000, size=16)
_new_x = np.stack([np.asarray(_new[m]) for m in SEQUENCES], axis=1).astype(np.float32)


def _fused_oedema_on_new_patients():
    d = dice_per_region(fused_trainer.predict(_new_x).argmax(1).numpy(), np.asarray(_new["seg"]))
    assert d["oedema"] >= 0.4


mk.check("train_fusion", _fused_oedema_on_new_patients, budget=30, hidden=True)
### END HIDDEN TESTS
