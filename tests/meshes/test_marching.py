"""Label map → mesh: world placement, outward winding, watertightness, volume, bad input."""

from __future__ import annotations

import numpy as np
import pytest

import medimg_kernel.meshes as mm
from medimg_kernel.errors import MeshError, ShapeMismatchError


def _world_bbox(lab, value, aff):
    """World bounding box of the label's voxel centres."""
    w = np.argwhere(lab == value) @ aff[:3, :3].T + aff[:3, 3]
    return w.min(0), w.max(0)


def test_meshes_are_closed_outward_and_match_the_voxel_volume(two_balls):
    lab, aff = two_balls
    meshes = mm.label_meshes(lab, aff, names={1: "ball", 2: "box"})
    assert [m.name for m in meshes] == ["ball", "box"]
    assert meshes[0].color != meshes[1].color
    vox = abs(np.linalg.det(aff[:3, :3]))
    for m in meshes:
        assert m.is_watertight and m.mesh.is_winding_consistent
        assert m.volume_mm3 > 0  # faces wound outwards
        assert m.voxel_volume_mm3 == pytest.approx(np.count_nonzero(lab == m.label) * vox)
        assert abs(m.volume_error) <= 0.01, m
        # normals point away from the centroid on average (outward)
        tm = m.mesh
        assert np.mean(np.einsum("ij,ij->i", tm.face_normals, tm.triangles_center - tm.centroid)) > 0


def test_vertices_are_in_world_mm_and_bbox_within_one_voxel(two_balls):
    lab, aff = two_balls
    m = mm.label_mesh(lab, 1, aff)
    lo, hi = _world_bbox(lab, 1, aff)
    step = np.abs(aff[:3, :3]).sum(1)  # the largest world extent of one voxel along each axis
    assert np.all(np.abs(m.bounds[0] - lo) <= step) and np.all(np.abs(m.bounds[1] - hi) <= step)
    # the mesh sits on the label's boundary: every vertex is half a voxel from a label voxel centre
    # and from a background voxel centre (world mm)
    from scipy.spatial import cKDTree

    def world(mask):
        return np.argwhere(mask) @ aff[:3, :3].T + aff[:3, 3]

    d_in, _ = cKDTree(world(lab == 1)).query(m.vertices)
    d_out, _ = cKDTree(world(lab != 1)).query(m.vertices)
    half = 0.5 * np.linalg.norm(aff[:3, :3], axis=0).max() + 1e-6
    assert d_in.max() <= half and d_out.max() <= half


def test_a_mirroring_affine_still_gives_outward_faces(two_balls):
    lab, aff = two_balls
    flip = aff.copy()
    flip[:, 0] *= -1
    m = mm.label_mesh(lab, 1, flip)
    assert m.volume_mm3 > 0 and m.is_watertight
    assert m.volume_mm3 == pytest.approx(mm.label_mesh(lab, 1, aff).volume_mm3, rel=1e-9)


def test_real_mni152_grey_and_white_matter(mni1):
    seg = np.zeros(mni1.gm.shape, np.uint8)
    seg[mni1.gm > 0.5] = 1
    seg[mni1.wm > 0.5] = 2
    meshes = mm.label_meshes(seg, mni1.affine, names=["grey matter", "white matter"])
    for m in meshes:
        assert m.is_watertight, m
        assert abs(m.volume_error) <= 0.01, m
        lo, hi = _world_bbox(seg, m.label, mni1.affine)
        assert np.all(np.abs(m.bounds[0] - lo) <= 1.0) and np.all(np.abs(m.bounds[1] - hi) <= 1.0)
    # the real brain: white matter lies inside the grey-matter mesh's box, ~0.6 L of it
    assert 5e5 < meshes[1].volume_mm3 < 8e5


def test_empty_label_is_a_clear_error(two_balls):
    lab, aff = two_balls
    with pytest.raises(MeshError, match=r"label 7 has no voxels.*labels present: \[1, 2\]"):
        mm.label_mesh(lab, 7, aff)
    with pytest.raises(MeshError, match="all background"):
        mm.label_meshes(np.zeros((5, 5, 5), np.uint8))


def test_label_grid_mismatch_names_both_shapes(two_balls):
    lab, aff = two_balls
    image = np.zeros((40, 44, 35), np.float32)
    with pytest.raises(ShapeMismatchError, match=r"\(40, 44, 36\).*\(40, 44, 35\)"):
        mm.label_meshes(lab, aff, image=image)


def test_float_probabilities_are_refused():
    with pytest.raises(MeshError, match="threshold"):
        mm.label_mesh(np.full((4, 4, 4), 0.3), 1)


def test_voxel_volume_and_apply_affine(two_balls):
    lab, aff = two_balls
    assert mm.voxel_volume(lab, 1, aff) == pytest.approx(
        np.count_nonzero(lab == 1) * abs(np.linalg.det(aff[:3, :3]))
    )
    in_voxels = mm.label_mesh(lab, 1)  # identity affine: vertices in voxel indices
    placed = mm.apply_affine(in_voxels, aff)
    direct = mm.label_mesh(lab, 1, aff)
    assert np.allclose(placed.vertices, direct.vertices)
    assert placed.volume_mm3 == pytest.approx(direct.volume_mm3)


def test_a_nifti_label_file_brings_its_own_affine(two_balls, tmp_path):
    import nibabel as nib

    lab, aff = two_balls
    nib.save(nib.Nifti1Image(lab, aff), tmp_path / "seg.nii.gz")
    from_file = mm.label_meshes(nib.load(tmp_path / "seg.nii.gz"), names=["ball", "box"])
    direct = mm.label_meshes(lab, aff)
    assert np.allclose(from_file[0].vertices, direct[0].vertices)
    assert from_file[1].name == "box"
