# Assignment 01 - Medical images 101: Hounsfield units, windowing, orientation.
# Authoring source of assignments/source/01_medical_images/01_medical_images.ipynb
# (regenerate with `medimg grade build`; format: assignments/README.md).

# %% [markdown] readonly id=intro
# # Assignment 01 — Medical images 101
#
# Lesson 01 showed how a CT scanner stores numbers, how a radiologist *windows* them for display, and
# how an affine matrix ties voxel indices to the patient. Here you implement those three pieces
# yourself.
#
# * Write your code where it says `YOUR CODE HERE` (delete the `raise NotImplementedError()` line).
# * Run the test cell below each exercise: it prints one line per check, with a hint when one fails.
#   The grader also runs **hidden tests** (other inputs, edge cases), so solve the general problem.
# * Everything runs on a CPU in seconds. Use `numpy` only.
#
# | Exercise | Points |
# |---|---|
# | 1. Stored values → Hounsfield units | 3 |
# | 2. Window / level | 3 |
# | 3. Orientation codes from an affine | 3 |
# | 4. Written answer | 2 |
# | 5. Resample to a target spacing with MONAI, normalise the foreground | 3 |
# | 6. Checking an overlay in the viewer (written) | 2 |

# %% readonly id=setup
import numpy as np
from ct_phantom import make_ct_slice  # helper file shipped with this assignment

import medimg_kernel as mk

# your own variant: the seed comes from your student id (mk.student_id()), so your numbers differ from
# your neighbour's; solve the general problem and the tests pass for every variant
phantom = make_ct_slice(seed=mk.variant_seed("01_medical_images"))
print("variant of", mk.student_id(), "- stored dtype:", phantom["stored"].dtype, "shape:", phantom["stored"].shape,
      "slope:", phantom["slope"], "intercept:", phantom["intercept"],
      "mean stored value:", round(float(phantom["stored"].mean()), 3))

# %% [markdown] readonly id=ex1_text
# ## Exercise 1 — Hounsfield units (3 points)
#
# CT pixel data are stored as unsigned or signed integers. The DICOM tags *Rescale Slope* and
# *Rescale Intercept* convert them to Hounsfield units: $HU = stored \times slope + intercept$.
#
# Implement `to_hounsfield(stored, slope, intercept)` returning a **float32** array of the same shape.
# Beware: multiplying a `uint16` array keeps the integer type and can wrap around.

# %% solution id=ex1_answer exercise=to_hounsfield
def to_hounsfield(stored, slope, intercept):
    """Convert stored CT values to Hounsfield units (float32, same shape)."""
    ### BEGIN SOLUTION
    return (np.asarray(stored, dtype=np.float64) * float(slope) + float(intercept)).astype(np.float32)
    ### END SOLUTION

# %% tests id=ex1_tests points=3
def test_air_and_water():
    """air (-1000 HU) and water (0 HU) for slope 1, intercept -1024. Hint: HU = stored * slope + intercept"""
    hu = to_hounsfield(np.array([24, 1024], dtype=np.uint16), 1.0, -1024.0)
    assert np.allclose(hu, [-1000.0, 0.0])


def test_float32_same_shape():
    """returns float32 with the input's shape. Hint: convert with .astype(np.float32) at the end"""
    hu = to_hounsfield(phantom["stored"], phantom["slope"], phantom["intercept"])
    assert hu.dtype == np.float32 and hu.shape == phantom["stored"].shape


def test_phantom_range():
    """the phantom's body is between -1024 and 3071 HU. Hint: use the slope and intercept you are given"""
    hu = to_hounsfield(phantom["stored"], phantom["slope"], phantom["intercept"])
    assert -1100 < hu.min() < -900 and 900 < hu.max() < 3100


mk.check("to_hounsfield", test_air_and_water, test_float32_same_shape, test_phantom_range, budget=5)
### BEGIN HIDDEN TESTS
def _hu_slope_half():
    hu = to_hounsfield(np.array([[0, 4000]], dtype=np.int16), 0.5, -1000)
    assert hu.shape == (1, 2) and np.allclose(hu, [[-1000.0, 1000.0]])


def _hu_no_wraparound():
    big = np.array([60000], dtype=np.uint16)
    assert np.allclose(to_hounsfield(big, 2, -1024), [118976.0])


def _hu_held_out_phantom():
    other = make_ct_slice(seed=mk.variant_seed("01_medical_images", salt="held-out"))
    ref = other["stored"].astype(np.float64) * other["slope"] + other["intercept"]
    assert np.allclose(to_hounsfield(other["stored"], other["slope"], other["intercept"]), ref, atol=1e-3)


mk.check("to_hounsfield", _hu_slope_half, _hu_no_wraparound, _hu_held_out_phantom, budget=5, hidden=True)
### END HIDDEN TESTS

# %% [markdown] readonly id=ex2_text
# ## Exercise 2 — Window / level (3 points)
#
# A display window with centre `level` and `width` maps `level - width/2` to 0 and `level + width/2`
# to 1, linearly in between, and clips outside. Implement `window(hu, level, width)` returning float
# values in $[0, 1]$ with the input's shape. Typical presets: soft tissue (40, 400), lung (-600, 1500),
# bone (400, 1800).

# %% solution id=ex2_answer exercise=window
def window(hu, level, width):
    """Map Hounsfield units to [0, 1] for display with the given window level and width."""
    ### BEGIN SOLUTION
    hu = np.asarray(hu, dtype=np.float64)
    low = level - width / 2.0
    return np.clip((hu - low) / float(width), 0.0, 1.0)
    ### END SOLUTION

# %% tests id=ex2_tests points=3
def test_centre_is_half():
    """the window centre maps to 0.5. Hint: subtract the lower edge (level - width/2), divide by width"""
    assert np.isclose(np.asarray(window(np.array([40.0]), 40, 400))[0], 0.5)


def test_clipping():
    """values below the window give 0, above give 1. Hint: np.clip(..., 0, 1)"""
    out = np.asarray(window(np.array([-1000.0, 3000.0]), 40, 400))
    assert np.allclose(out, [0.0, 1.0])


def test_shape_and_monotonic():
    """keeps the shape and never decreases. Hint: a linear map with a positive slope, then clipping"""
    hu = np.linspace(-1200, 1200, 60).reshape(3, 4, 5)
    out = np.asarray(window(hu, -600, 1500))
    assert out.shape == hu.shape and np.all(np.diff(out.ravel()) >= 0)


mk.check("window", test_centre_is_half, test_clipping, test_shape_and_monotonic, budget=5)
### BEGIN HIDDEN TESTS
def _win_edges_bone():
    out = np.asarray(window(np.array([-500.0, 400.0, 1300.0, 2000.0]), 400, 1800))
    assert np.allclose(out, [0.0, 0.5, 1.0, 1.0])


def _win_held_out():
    rng = np.random.default_rng(5)
    hu = rng.uniform(-1100, 2000, size=(8, 8))
    ref = np.clip((hu - (-160 - 350 / 2)) / 350, 0, 1)
    assert np.allclose(np.asarray(window(hu, -160, 350)), ref, atol=1e-6)


def _win_integer_input():
    out = np.asarray(window(np.array([0, 100], dtype=np.int16), 50, 100))
    assert np.allclose(out, [0.0, 1.0])


mk.check("window", _win_edges_bone, _win_held_out, _win_integer_input, budget=5, hidden=True)
### END HIDDEN TESTS

# %% [markdown] readonly id=ex3_text
# ## Exercise 3 — Orientation codes (3 points)
#
# The 4×4 affine of a NIfTI image maps voxel indices $(i, j, k)$ to world coordinates in RAS+
# (x → Right, y → Anterior, z → Superior). Each voxel axis points mostly along one world axis, with a
# sign. Implement `orientation_codes(affine)` returning a 3-letter string: for each voxel axis the
# world direction it points to, one of `R/L`, `A/P`, `S/I` (e.g. `"RAS"`, `"LPS"`, `"PSR"`).
# Use only the 3×3 part; the axis is the one with the largest absolute component.

# %% solution id=ex3_answer exercise=orientation
def orientation_codes(affine):
    """Return the orientation code (e.g. 'RAS', 'LPS') of a 4x4 voxel-to-world affine."""
    ### BEGIN SOLUTION
    m = np.asarray(affine, dtype=float)[:3, :3]
    letters = (("R", "L"), ("A", "P"), ("S", "I"))
    codes = []
    for col in range(3):
        axis = int(np.argmax(np.abs(m[:, col])))
        codes.append(letters[axis][0] if m[axis, col] > 0 else letters[axis][1])
    return "".join(codes)
    ### END SOLUTION

# %% tests id=ex3_tests points=3
def test_identity_is_ras():
    """the identity affine is 'RAS'. Hint: column j of affine[:3, :3] is where voxel axis j points"""
    assert orientation_codes(np.eye(4)) == "RAS"


def test_dicom_lps():
    """flipping x and y gives 'LPS' (DICOM's patient convention). Hint: a negative component flips the letter"""
    assert orientation_codes(np.diag([-1.0, -1.0, 1.0, 1.0])) == "LPS"


def test_spacing_does_not_matter():
    """voxel spacing (0.7 x 0.7 x 3 mm) does not change the code. Hint: compare directions, not lengths"""
    assert orientation_codes(np.diag([0.7, 0.7, 3.0, 1.0])) == "RAS"


mk.check("orientation", test_identity_is_ras, test_dicom_lps, test_spacing_does_not_matter, budget=5)
### BEGIN HIDDEN TESTS
def _ori_permuted():
    aff = np.array([[0, 0, -2.0, 10], [1.5, 0, 0, -3], [0, -1.0, 0, 7], [0, 0, 0, 1]])
    assert orientation_codes(aff) == "AIL"


def _ori_oblique():
    theta = np.deg2rad(20)
    rot = np.array([[np.cos(theta), -np.sin(theta), 0], [np.sin(theta), np.cos(theta), 0], [0, 0, 1]])
    aff = np.eye(4)
    aff[:3, :3] = rot @ np.diag([1.0, -1.0, -1.0])
    assert orientation_codes(aff) == "RPI"


def _ori_returns_str():
    out = orientation_codes(np.diag([1.0, 1.0, -1.0, 1.0]))
    assert isinstance(out, str) and out == "RAI"


mk.check("orientation", _ori_permuted, _ori_oblique, _ori_returns_str, budget=5, hidden=True)
### END HIDDEN TESTS

# %% [markdown] readonly id=q4_text
# ## Exercise 4 — Written answer (2 points, graded by your instructor)
#
# A lung nodule of about 30 HU sits next to lung tissue (about −850 HU). Explain in two or three
# sentences which of the presets *soft tissue (40, 400)* and *lung (−600, 1500)* shows the nodule's
# **margin against the lung** better and why, in terms of how many HU one grey level spans.

# %% [markdown] manual id=q4_answer points=2
# ### BEGIN SOLUTION
# The lung window: it covers both −850 HU (grey ≈ 0.17) and 30 HU (≈ 0.75), so the margin is a visible
# step between two grey levels. In the soft-tissue window everything below −160 HU is clipped to black,
# so lung and air look identical and only the nodule's bright side is seen; its narrow width (400 HU)
# is meant for small contrasts *inside* soft tissue.
# ### END SOLUTION

# %% [markdown] rubric id=q4_rubric for=q4_answer
# - 1: chooses the lung window and says it keeps both −850 HU and ~30 HU inside the displayed range
# - 1: explains that the soft-tissue window clips everything below −160 HU to black (or: HU per grey level), so lung and air look the same

# %% [markdown] readonly id=ex5_text
# ## Exercise 5 — Resample and normalise (3 points)
#
# Scans come with different voxel sizes; a network wants one. `volume` below is an MR-like volume of your
# variant with an anisotropic affine (thick slices along the third axis).
#
# 1. `resample_to(volume, affine, pixdim)` resamples to the voxel size `pixdim` (mm, one per axis) with
#    MONAI's `monai.transforms.Spacing` (bilinear) and returns `(array, new_affine)` as numpy arrays. Give
#    MONAI a channel-first `monai.data.MetaTensor` that carries the affine, and take the new affine from
#    the result's `.affine`.
# 2. `normalise_foreground(volume, threshold)` z-scores only the voxels **above** `threshold` (the head,
#    not the air around it) and leaves every other voxel at 0, as MONAI's `NormalizeIntensity(nonzero=True)`
#    does for a zero background.

# %% readonly id=ex5_setup
_vol_rng = np.random.default_rng(mk.variant_seed("01_medical_images", salt="volume"))
slice_mm = round(float(_vol_rng.uniform(2.5, 4.0)), 2)
affine = np.diag([1.0, 1.0, slice_mm, 1.0])
_zz, _yy, _xx = np.meshgrid(np.linspace(-1, 1, 32), np.linspace(-1, 1, 32), np.linspace(-1, 1, 10), indexing="ij")
volume = np.where(_zz**2 + _yy**2 + _xx**2 < 0.8, 300 + 40 * _vol_rng.normal(size=_zz.shape), 0.0).astype(np.float32)
print("volume", volume.shape, "voxel size (mm):", np.abs(np.diag(affine)[:3]))

# %% solution id=ex5_answer exercise=resample
def resample_to(volume, affine, pixdim):
    """Resample a 3D volume to voxel size `pixdim` with MONAI's Spacing; return (array, new_affine)."""
    ### BEGIN SOLUTION
    from monai.data import MetaTensor
    from monai.transforms import Spacing

    img = MetaTensor(np.asarray(volume, dtype=np.float32)[None], affine=np.asarray(affine, dtype=np.float64))
    out = Spacing(pixdim=tuple(pixdim), mode="bilinear")(img)
    return np.asarray(out[0]), np.asarray(out.affine, dtype=float)
    ### END SOLUTION


def normalise_foreground(volume, threshold):
    """Z-score the voxels above `threshold`; every other voxel becomes 0."""
    ### BEGIN SOLUTION
    v = np.asarray(volume, dtype=np.float32)
    fg = v > threshold
    out = np.zeros_like(v)
    if fg.any():
        vals = v[fg]
        out[fg] = (vals - vals.mean()) / (vals.std() if vals.std() > 0 else 1.0)
    return out
    ### END SOLUTION

# %% tests id=ex5_tests points=3
def test_isotropic_spacing_and_same_extent():
    """2 mm voxels and (about) the same field of view in mm. Hint: monai.transforms.Spacing(pixdim=...)"""
    arr, aff = resample_to(volume, affine, (2.0, 2.0, 2.0))
    assert np.allclose(np.linalg.norm(aff[:3, :3], axis=0), 2.0)
    extent_in = np.array(volume.shape) * np.abs(np.diag(affine)[:3])
    assert np.all(np.abs(np.array(arr.shape) * 2.0 - extent_in) <= 2.0 + 1e-6)


def test_foreground_zscore():
    """mean 0 and SD 1 inside the head, 0 outside. Hint: a boolean mask of volume > threshold"""
    out = normalise_foreground(volume, 1.0)
    fg = volume > 1.0
    assert abs(out[fg].mean()) < 1e-4 and abs(out[fg].std() - 1) < 1e-3 and np.all(out[~fg] == 0)


mk.check("resample", test_isotropic_spacing_and_same_extent, test_foreground_zscore, budget=30)
### BEGIN HIDDEN TESTS
def _rs_keeps_intensity_scale():
    arr, _ = resample_to(volume, affine, (1.0, 1.0, 1.0))
    mid = arr.shape[2] // 2
    assert abs(arr.shape[2] - ((volume.shape[2] - 1) * slice_mm + 1)) <= 1.5
    assert 270 < arr[12:20, 12:20, mid - 2:mid + 3].mean() < 330  # bilinear keeps the intensity scale


def _rs_other_affine():
    v = np.ones((12, 8, 6), dtype=np.float32)
    arr, aff = resample_to(v, np.diag([0.5, 2.0, 3.0, 1.0]), (1.0, 1.0, 1.0))
    assert np.allclose(np.linalg.norm(aff[:3, :3], axis=0), 1.0)
    assert abs(arr.shape[0] - 6.5) <= 1 and abs(arr.shape[1] - 15) <= 1 and abs(arr.shape[2] - 16) <= 1


def _nf_constant_foreground_and_threshold():
    v = np.array([[0.0, 5.0], [5.0, 9.0]], dtype=np.float32)
    out = normalise_foreground(v, 4.0)
    assert out[0, 0] == 0 and np.isclose(out[1, 1], (9 - 19 / 3) / np.std([5, 5, 9]))
    assert np.all(np.isfinite(normalise_foreground(np.full((3, 3), 7.0), 1.0)))


mk.check("resample", _rs_keeps_intensity_scale, _rs_other_affine, _nf_constant_foreground_and_threshold,
         budget=30, hidden=True)
### END HIDDEN TESTS

# %% [markdown] readonly id=q6_text
# ## Exercise 6 — Checking an overlay in the viewer (written, 2 points)
#
# You open a CT with its tumour mask in `mk.view(ct, labels=mask)`. The mask looks plausible in the axial
# view, but in the coronal view it sits a few centimetres from the tumour, mirrored head-to-foot. In a few
# sentences: what has most likely gone wrong between the two files, how would you confirm it from the
# headers (no guessing by eye), and how would you fix it?

# %% [markdown] manual id=q6_answer points=2
# ### BEGIN SOLUTION
# The mask was written with another affine than the CT (or as a bare array without one), so one axis — the
# slice axis here — is flipped or offset: the viewer places each volume by its own affine. Confirm by
# comparing the two headers: shapes, `nib.aff2axcodes` (e.g. LPS vs LPI), the voxel sizes and the origins;
# map one voxel of each to world mm. Fix by resampling/reorienting the mask onto the CT's grid with its affine
# (nearest-neighbour for labels, e.g. MONAI `Orientation` + `ResampleToMatch`), or by writing it again with
# the CT's affine, then check the overlay again in all three planes.
# ### END SOLUTION

# %% [markdown] rubric id=q6_rubric for=q6_answer
# - 1: the two files disagree on their affine / orientation (a flipped or offset slice axis), confirmed from the headers (orientation codes, spacing, origin, a voxel mapped to world mm)
# - 1: the fix: reorient/resample the mask onto the CT grid with nearest-neighbour (or save it with the CT's affine) and re-check in all three planes
