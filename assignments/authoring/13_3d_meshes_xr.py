# Assignment 13 - Meshes from segmentations: volume and area, placing a mesh with its affine, decimation under a bound,
# volume rendering by compositing, where AR/VR helps.
# Authoring source of assignments/source/13_3d_meshes_xr/13_3d_meshes_xr.ipynb
# (regenerate with `medimg grade build`; format: assignments/README.md).

# %% [markdown] readonly id=intro
# # Assignment 13 — Meshes you can trust
#
# Lesson 13 turned label maps into meshes with `mk.meshes`. Here you check and repair meshes yourself,
# with numpy and scipy, on a small label map whose voxels are not cubes:
#
# * Exercise 1 may not call trimesh or `mk.meshes` measurements (`.volume`, `.area`); exercise 3 may use
#   `mk.meshes.decimate`.
# * Run each test cell to check your work; hidden tests use other shapes and edge cases.
#
# | Exercise | Points |
# |---|---|
# | 1. Mesh volume and surface area vs the voxel count | 3 |
# | 2. Fix a mesh left in voxel coordinates | 3 |
# | 3. Decimate to a budget under a Hausdorff bound | 4 |
# | 4. Written answer: surface distances | 2 |
# | 5. Volume rendering by compositing | 3 |
# | 6. Written answer: where AR/VR helps | 2 |

# %% readonly id=setup
import numpy as np
from scipy.spatial import cKDTree  # noqa: F401  (useful in exercise 3)
from skimage.measure import marching_cubes

import medimg_kernel as mk

# your own variant: the seed comes from your student id (mk.student_id()), so your organ, grid and voxel size
# differ from your neighbour's; solve the general problem and the tests pass for every variant
rng = np.random.default_rng(mk.variant_seed("13_3d_meshes_xr"))
radii = rng.uniform([8.0, 8.0, 6.0], [10.0, 10.0, 7.5])  # semi-axes of the ellipsoid "organ", in voxels
shape = tuple(int(s) for s in np.ceil(2 * radii) + rng.integers(4, 8, 3))
centre = (np.array(shape) - 1) / 2 + rng.uniform(-1, 1, 3)
x, y, z = np.ogrid[:shape[0], :shape[1], :shape[2]]
labels = np.zeros(shape, np.uint8)
labels[((x - centre[0]) / radii[0]) ** 2 + ((y - centre[1]) / radii[1]) ** 2 + ((z - centre[2]) / radii[2]) ** 2 < 1] = 1
in_plane, thickness = round(float(rng.uniform(0.7, 0.9)), 2), round(float(rng.uniform(1.25, 2.0)), 2)
spacing = (in_plane, in_plane, thickness)  # mm: voxels are not cubes
origin = rng.uniform(-120, 120, 3).round(1)
affine = np.array([[-in_plane, 0, 0, origin[0]], [0, in_plane, 0, origin[1]], [0, 0, thickness, origin[2]],
                   [0, 0, 0, 1]])  # LPS-like: x mirrored

# a mesh straight out of marching cubes: vertices in VOXEL indices, as many tools leave them
verts_vox, faces_vox, _, _ = marching_cubes(np.pad(labels, 1), 0.5, method="lorensen")
verts_vox = verts_vox - 1.0
faces_vox = np.ascontiguousarray(faces_vox[:, ::-1])  # scikit-image winds these inwards: now outwards in voxels
print("variant of", mk.student_id(), "-", labels.shape, "spacing", spacing, "voxels:", int(labels.sum()), "| mesh:",
      len(verts_vox), "vertices,", len(faces_vox), "faces")

# %% [markdown] readonly id=ex1_text
# ## Exercise 1 — Volume and area (3 points)
#
# Implement `mesh_volume_area(vertices, faces)` for a closed triangle mesh (`vertices` `(V, 3)` float,
# `faces` `(F, 3)` int). Use the divergence theorem for the **signed** volume: each triangle $(a, b, c)$
# adds $\frac{1}{6}\, a \cdot (b \times c)$ (positive when the faces are wound counter-clockwise seen from
# outside). The area is the sum of $\frac{1}{2}\lVert (b - a) \times (c - a) \rVert$. Return two floats.
#
# Then `voxel_volume(mask, spacing)`: the number of voxels in `mask` times the volume of one voxel.

# %% solution id=ex1_answer exercise=volume_area
def mesh_volume_area(vertices, faces):
    """Signed volume and surface area of a closed triangle mesh."""
    ### BEGIN SOLUTION
    v = np.asarray(vertices, dtype=float)
    f = np.asarray(faces, dtype=np.int64)
    a, b, c = v[f[:, 0]], v[f[:, 1]], v[f[:, 2]]
    volume = float(np.einsum("ij,ij->i", a, np.cross(b, c)).sum() / 6.0)
    area = float(0.5 * np.linalg.norm(np.cross(b - a, c - a), axis=1).sum())
    return volume, area
    ### END SOLUTION


def voxel_volume(mask, spacing):
    """Voxel count times the volume of one voxel (product of the spacing)."""
    ### BEGIN SOLUTION
    return float(np.count_nonzero(mask) * np.prod(np.asarray(spacing, dtype=float)))
    ### END SOLUTION

# %% tests id=ex1_tests points=3
def test_unit_tetrahedron():
    """the corner tetrahedron of the unit cube: volume 1/6, area (3 + sqrt 3)/2. Hint: a . (b x c) / 6"""
    v = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], float)
    f = np.array([[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]])
    vol, area = mesh_volume_area(v, f)
    assert np.isclose(vol, 1 / 6) and np.isclose(area, (3 + np.sqrt(3)) / 2)


def test_mesh_matches_voxels():
    """the marching-cubes mesh in mm encloses the voxel volume to 3 %. Hint: scale vertices by spacing first"""
    vol, _ = mesh_volume_area(verts_vox * np.asarray(spacing), faces_vox)
    assert abs(abs(vol) / voxel_volume(labels, spacing) - 1) < 0.03


mk.check("volume_area", test_unit_tetrahedron, test_mesh_matches_voxels, budget=5)
### BEGIN HIDDEN TESTS
def _va_inverted_sign():
    v = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], float) * 2
    f = np.array([[0, 1, 2], [0, 3, 1], [0, 2, 3], [1, 3, 2]])
    vol, area = mesh_volume_area(v, f)
    assert np.isclose(vol, -8 / 6) and np.isclose(area, 4 * (3 + np.sqrt(3)) / 2)


def _va_against_trimesh():
    import trimesh

    box = trimesh.creation.box((3.0, 4.0, 5.0))
    vol, area = mesh_volume_area(box.vertices, box.faces)
    assert np.isclose(vol, 60.0) and np.isclose(area, 94.0)


def _va_voxels():
    m = np.zeros((4, 4, 4), bool)
    m[:2, :3, :1] = True
    assert np.isclose(voxel_volume(m, (0.5, 2.0, 3.0)), 6 * 3.0) and isinstance(voxel_volume(m, (1, 1, 1)), float)


mk.check("volume_area", _va_inverted_sign, _va_against_trimesh, _va_voxels, budget=5, hidden=True)
### END HIDDEN TESTS

# %% [markdown] readonly id=ex2_text
# ## Exercise 2 — Put the mesh on the scan (3 points)
#
# `verts_vox` are voxel indices, so the mesh sits at the wrong place and size in any viewer that shows the
# scan in millimetres. Implement `place_mesh(vertices, faces, affine)`: map every vertex through the 4×4
# `affine` (world = `affine[:3, :3] @ v + affine[:3, 3]`) and return `(world_vertices, faces)`. An affine that
# mirrors an axis (negative determinant of `affine[:3, :3]`, like this one) turns the mesh inside out: in that
# case reverse the order of each face's vertices so the faces still point outwards (positive volume).

# %% solution id=ex2_answer exercise=place_mesh
def place_mesh(vertices, faces, affine):
    """Vertices mapped to world mm by ``affine``; faces reversed when the affine mirrors."""
    ### BEGIN SOLUTION
    a = np.asarray(affine, dtype=float)
    world = np.asarray(vertices, dtype=float) @ a[:3, :3].T + a[:3, 3]
    f = np.asarray(faces)
    if np.linalg.det(a[:3, :3]) < 0:
        f = f[:, ::-1]
    return world, f.copy()
    ### END SOLUTION

# %% tests id=ex2_tests points=3
def test_lands_on_the_label():
    """the mesh's box matches the label's world box within one voxel. Hint: v @ A[:3, :3].T + A[:3, 3]"""
    w, _ = place_mesh(verts_vox, faces_vox, affine)
    centres = np.argwhere(labels) @ affine[:3, :3].T + affine[:3, 3]
    assert np.all(np.abs(w.min(0) - centres.min(0)) <= 1.5) and np.all(np.abs(w.max(0) - centres.max(0)) <= 1.5)


def test_outward_after_mirroring():
    """the placed mesh has a positive volume equal to the voxel volume. Hint: reverse faces if det < 0"""
    import trimesh

    w, f = place_mesh(verts_vox, faces_vox, affine)
    vol = trimesh.Trimesh(w, f, process=False).volume
    assert vol > 0 and abs(vol / voxel_volume(labels, spacing) - 1) < 0.03


mk.check("place_mesh", test_lands_on_the_label, test_outward_after_mirroring, budget=10)
### BEGIN HIDDEN TESTS
def _pm_no_mirror_keeps_faces():
    a = np.diag([2.0, 3.0, 4.0, 1.0])
    a[:3, 3] = (1, 2, 3)
    w, f = place_mesh(np.array([[0, 0, 0], [1, 1, 1]], float), np.array([[0, 1, 1]]), a)
    assert np.allclose(w, [[1, 2, 3], [3, 5, 7]]) and np.array_equal(f, [[0, 1, 1]])


def _pm_rotation():
    th = np.deg2rad(30)
    a = np.eye(4)
    a[:2, :2] = [[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]]
    w, _ = place_mesh(np.array([[1.0, 0, 0]]), np.array([[0, 0, 0]]), a)
    assert np.allclose(w, [[np.cos(th), np.sin(th), 0]])


def _pm_mirror_flips():
    w, f = place_mesh(verts_vox, faces_vox, np.diag([-1.0, 1, 1, 1]))
    assert np.array_equal(f, faces_vox[:, ::-1]) and np.allclose(w[:, 0], -verts_vox[:, 0])


mk.check("place_mesh", _pm_no_mirror_keeps_faces, _pm_rotation, _pm_mirror_flips, budget=10, hidden=True)
### END HIDDEN TESTS

# %% [markdown] readonly id=ex3_text
# ## Exercise 3 — A face budget under a Hausdorff bound (4 points)
#
# `hausdorff(a, b)`: the symmetric Hausdorff distance between two point sets `(N, 3)` and `(M, 3)` — the
# largest distance from any point of one set to the nearest point of the other (use `cKDTree(...).query`).
#
# `pick_budget(mesh, budgets, bound)`: `mesh` is a `mk.meshes.LabelMesh`. Return the **smallest** budget in
# `budgets` for which `mk.meshes.decimate(mesh, budget)` stays within `bound` mm of the original, measured as
# `hausdorff` between the two meshes' `.vertices`; `None` if no budget does.

# %% solution id=ex3_answer exercise=budget
def hausdorff(a, b):
    """Symmetric Hausdorff distance between two point sets."""
    ### BEGIN SOLUTION
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(max(cKDTree(b).query(a)[0].max(), cKDTree(a).query(b)[0].max()))
    ### END SOLUTION


def pick_budget(mesh, budgets, bound):
    """Smallest face budget whose decimated mesh stays within ``bound`` (Hausdorff of vertices)."""
    ### BEGIN SOLUTION
    for budget in sorted(budgets):
        if hausdorff(mk.meshes.decimate(mesh, budget).vertices, mesh.vertices) <= bound:
            return budget
    return None
    ### END SOLUTION

# %% tests id=ex3_tests points=4
organ = mk.meshes.label_mesh(labels, 1, affine, name="organ")


def test_hausdorff_small():
    """two points vs one point. Hint: the max over both directions of the nearest-neighbour distance"""
    assert np.isclose(hausdorff([[0, 0, 0], [3, 0, 0]], [[0, 0, 0]]), 3.0)
    assert np.isclose(hausdorff([[0, 0, 0]], [[0, 4, 0], [0, 0, 1]]), 4.0)


def test_budget_respects_the_bound():
    """the chosen budget is under the bound and the next smaller one is not. Hint: try budgets small to large"""
    budgets = [50, 200, 800, organ.n_faces]  # keeping every face is always within the bound
    b = pick_budget(organ, budgets, 1.0)
    assert b in budgets
    assert hausdorff(mk.meshes.decimate(organ, b).vertices, organ.vertices) <= 1.0
    smaller = [x for x in budgets if x < b]
    assert not smaller or hausdorff(mk.meshes.decimate(organ, smaller[-1]).vertices, organ.vertices) > 1.0


mk.check("budget", test_hausdorff_small, test_budget_respects_the_bound, budget=20)
### BEGIN HIDDEN TESTS
def _bu_none_when_impossible():
    assert pick_budget(organ, [8, 12], 0.01) is None


def _bu_unsorted_input():
    full = organ.n_faces
    assert pick_budget(organ, [full, 50, 800, 200], 1.0) == pick_budget(organ, [50, 200, 800, full], 1.0)


def _bu_hausdorff_symmetric():
    rng = np.random.default_rng(3)
    a, b = rng.random((40, 3)), rng.random((30, 3)) + 0.5
    assert np.isclose(hausdorff(a, b), hausdorff(b, a)) and hausdorff(a, a) == 0.0


mk.check("budget", _bu_none_when_impossible, _bu_unsorted_input, _bu_hausdorff_symmetric, budget=20, hidden=True)
### END HIDDEN TESTS

# %% [markdown] readonly id=q4_text
# ## Exercise 4 — Written answer (2 points, graded by your instructor)
#
# A predicted white-matter surface has a Dice of 0.90 with the truth, a mean surface distance of 0.7 mm,
# an HD95 of 2 mm and a Hausdorff distance of 19 mm. In two or three sentences: what does each distance say
# about the prediction, why can Dice and the mean distance look good while the Hausdorff distance is large,
# and what would you report to a surgeon who plans a resection from this mesh?

# %% [markdown] manual id=q4_answer points=2
# ### BEGIN SOLUTION
# The mean distance and HD95 say that the predicted boundary lies within about 1–2 mm of the true one almost
# everywhere; the Hausdorff distance says that at one place it is 19 mm off (a stray island, a leak into a
# neighbour, a spur). Dice and the mean average over the whole structure or surface, and HD95 ignores the
# worst 5 % of points, so a small badly wrong region hardly moves them, while the Hausdorff distance is that
# worst point. For surgical planning the worst case matters: report HD95 *and* the Hausdorff distance, show
# where the largest errors are on the mesh, and check that region against the source images before use.
# ### END SOLUTION

# %% [markdown] rubric id=q4_rubric for=q4_answer
# - 1: mean distance (and Dice) average over the surface and HD95 drops the worst 5 %, so a small badly wrong region barely changes them, while the Hausdorff distance is the single worst point (a stray island, leak or spur)
# - 1: for a surgeon reports the worst case (Hausdorff or where the largest errors are) next to the mean/HD95, and checks that region against the images

# %% [markdown] readonly id=ex5_text
# ## Exercise 5 — Volume rendering by compositing (3 points)
#
# NiiVue's 3D view is a **volume renderer**: for every pixel it walks a ray through the volume, turns each
# sample into a colour and an opacity with a *transfer function*, and composites them front to back,
#
# $$ C \leftarrow C + (1 - A)\,\alpha_i c_i, \qquad A \leftarrow A + (1 - A)\,\alpha_i , $$
#
# starting from $C = A = 0$. Write it for rays along one array axis, with numpy:
#
# * `composite(volume, alpha, axis=0)`: `volume` is a 3D array of grey values $c_i$ in [0, 1] and `alpha`
#   an array of the same shape of opacities $\alpha_i$ in [0, 1]; rays run along `axis` from index 0
#   (front) to the last index (back). Return the 2D image $C$.
# * `mip(volume, axis=0)`: the maximum-intensity projection, the renderer with no opacity at all.
#
# Below, `ct_like` is your organ as a CT-like volume in [0, 1] with a bright "contrast" blob inside it.

# %% readonly id=ex5_setup
ct_like = 0.3 * labels.astype(np.float32)
_blob = tuple(int(c) for c in np.round(centre))
ct_like[_blob[0] - 2:_blob[0] + 2, _blob[1] - 2:_blob[1] + 2, _blob[2] - 2:_blob[2] + 2] = 1.0
print("ct_like", ct_like.shape, "blob at", _blob)

# %% solution id=ex5_answer exercise=render
def composite(volume, alpha, axis=0):
    """Front-to-back alpha compositing of grey values along one axis; returns the 2D image."""
    ### BEGIN SOLUTION
    c = np.moveaxis(np.asarray(volume, dtype=float), axis, 0)
    a = np.moveaxis(np.asarray(alpha, dtype=float), axis, 0)
    out, acc = np.zeros(c.shape[1:]), np.zeros(c.shape[1:])
    for ci, ai in zip(c, a):
        out += (1 - acc) * ai * ci
        acc += (1 - acc) * ai
    return out
    ### END SOLUTION


def mip(volume, axis=0):
    """Maximum-intensity projection along one axis."""
    ### BEGIN SOLUTION
    return np.asarray(volume).max(axis=axis)
    ### END SOLUTION

# %% tests id=ex5_tests points=3
def test_composite_by_hand():
    """one ray of three samples. Hint: the front sample hides what lies behind it by (1 - A)"""
    v = np.array([1.0, 0.5, 1.0]).reshape(3, 1, 1)
    a = np.array([0.5, 0.5, 1.0]).reshape(3, 1, 1)
    assert np.allclose(composite(v, a, axis=0), [[0.5 + 0.25 * 0.5 + 0.25 * 1.0]])


def test_opaque_front_hides_the_rest_and_mip_finds_the_blob():
    """an opaque first slice is all you see; the MIP shows the blob. Hint: np.max along the axis"""
    a = np.full(ct_like.shape, 0.1)
    a[:, :, 0] = 1.0
    assert np.allclose(composite(ct_like, a, axis=2), ct_like[:, :, 0])
    m = mip(ct_like, axis=2)
    assert m.shape == ct_like.shape[:2] and m[_blob[0], _blob[1]] == 1.0


mk.check("render", test_composite_by_hand, test_opaque_front_hides_the_rest_and_mip_finds_the_blob, budget=10)
### BEGIN HIDDEN TESTS
def _render_against_recursion():
    r = np.random.default_rng(11)
    v, a = r.random((5, 3, 4)), r.random((5, 3, 4)) * 0.6
    for axis in (0, 1, 2):
        vm, am = np.moveaxis(v, axis, -1), np.moveaxis(a, axis, -1)
        ref = np.zeros(vm.shape[:-1])
        for idx in np.ndindex(ref.shape):
            col, acc = 0.0, 0.0
            for ci, ai in zip(vm[idx], am[idx]):
                col, acc = col + (1 - acc) * ai * ci, acc + (1 - acc) * ai
            ref[idx] = col
        assert np.allclose(composite(v, a, axis=axis), ref)


def _render_transparent_is_black_and_order_matters():
    v = np.array([0.2, 0.9]).reshape(2, 1, 1)
    assert np.allclose(composite(v, np.zeros_like(v)), 0.0)
    half = np.full_like(v, 0.5)
    assert not np.allclose(composite(v, half), composite(v[::-1], half))
    assert np.allclose(mip(v[::-1]), mip(v)) and mip(v).shape == (1, 1)


mk.check("render", _render_against_recursion, _render_transparent_is_black_and_order_matters, budget=10,
         hidden=True)
### END HIDDEN TESTS

# %% [markdown] readonly id=q6_text
# ## Exercise 6 — Written answer: where does AR/VR help? (2 points, graded by your instructor)
#
# Your hospital asks whether to buy headsets so that surgeons can view patient meshes in virtual or
# augmented reality. In three or four sentences: name one clinical task where seeing the anatomy in 3D
# (stereo, with head motion) helps more than scrolling slices, one where it does not, and what must be
# true of the mesh and its registration before it is used in the operating room.

# %% [markdown] manual id=q6_answer points=2
# ### BEGIN SOLUTION
# 3D viewing helps where spatial relations decide the plan: the course of vessels around a tumour before a
# liver or kidney resection, or explaining a congenital heart defect to the team or the family, where a
# stereo view with head motion shows depth that slices leave to the imagination. It does not help reading
# subtle density (a small nodule, a fracture line, ischaemia), which needs the original slices, windows and
# full resolution. Before the operating room the mesh must come from a checked segmentation (surface
# distances reported, worst errors reviewed), carry the scanner's affine into world millimetres, and for AR be
# registered to the patient with a measured target registration error small enough for the task.
# ### END SOLUTION

# %% [markdown] rubric id=q6_rubric for=q6_answer
# - 1: names a task where 3D spatial relations matter (vessel/tumour relations for resection planning, complex congenital anatomy, team or patient communication) and one where slices are better (subtle density findings, full-resolution reading)
# - 1: requires a validated segmentation/mesh in world coordinates and, for AR, a registration to the patient with a measured error before use
