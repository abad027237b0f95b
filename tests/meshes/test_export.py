"""Every export format reloads in trimesh with the same geometry, millimetres and the label names."""

from __future__ import annotations

import json
import struct
import time

import numpy as np
import pytest
import trimesh

import medimg_kernel.meshes as mm
from medimg_kernel.errors import ConfigError, MeshError


@pytest.fixture
def meshes(two_balls):
    lab, aff = two_balls
    return mm.label_meshes(lab, aff, names={1: "ball", 2: "box"})


def _same_geometry(a, tm, tol=1e-3):
    """Same surface: same vertex set (to float32 precision), face count, volume and area."""
    assert len(tm.faces) == a.n_faces
    assert tm.volume == pytest.approx(a.volume_mm3, rel=1e-4)
    assert tm.area == pytest.approx(a.area_mm2, rel=1e-4)
    got = np.unique(np.round(np.asarray(tm.vertices) / tol).astype(np.int64), axis=0)
    want = np.unique(np.round(a.vertices / tol).astype(np.int64), axis=0)
    assert len(got) == pytest.approx(len(want), rel=0.01)
    assert np.allclose(np.sort(tm.vertices, axis=0), np.sort(a.vertices, axis=0), atol=tol)


@pytest.mark.parametrize("suffix", [".glb", ".gltf"])
def test_gltf_keeps_mm_geometry_names_and_real_size(meshes, tmp_path, suffix):
    path = mm.export_meshes(meshes, tmp_path / f"brain{suffix}")
    scene = trimesh.load(path)
    assert list(scene.geometry) == ["ball", "box"]
    for m in meshes:
        _same_geometry(m, scene.geometry[m.name])
        mat = scene.geometry[m.name].visual.material
        assert list(mat.baseColorFactor[:3]) == list(m.color)
        scale, _ = scene.graph[m.name]
        assert np.allclose(np.diag(scale)[:3], 0.001)  # glTF is in metres: real size in a headset
    meta = scene.metadata
    assert meta["vertex_units"] == "mm" and meta["labels"]["box"]["label"] == 2
    # the world-size dump is in metres
    assert scene.to_geometry().bounds[1].max() < 1.0


def test_stl_for_printing_is_binary_mm_and_named(meshes, tmp_path):
    path = mm.export_meshes(meshes[0], tmp_path / "ball.stl")
    raw = path.read_bytes()
    assert raw[:80].startswith(b"medimg mm ball")
    assert struct.unpack("<I", raw[80:84])[0] == meshes[0].n_faces
    tm = trimesh.load(path)
    assert tm.is_watertight
    _same_geometry(meshes[0], tm)


def test_obj_keeps_one_named_object_per_label(meshes, tmp_path):
    path = mm.export_meshes(meshes, tmp_path / "brain.obj")
    text = path.read_text()
    assert text.startswith("# medimg_kernel.meshes; units: mm")
    assert json.loads(text.splitlines()[0].split("labels: ")[1]) == {"ball": 1, "box": 2}
    assert "o ball" in text and "o box" in text
    tm = trimesh.load(path, force="mesh")
    assert len(tm.faces) == sum(m.n_faces for m in meshes)
    assert tm.volume == pytest.approx(sum(m.volume_mm3 for m in meshes), rel=1e-4)


def test_ply_has_units_labels_and_face_colours(meshes, tmp_path):
    path = mm.export_meshes(meshes, tmp_path / "brain.ply")
    head = path.read_bytes().split(b"end_header")[0].decode()
    assert "comment units mm" in head and "comment label 2 box faces" in head
    tm = trimesh.load(path)
    n0 = meshes[0].n_faces
    assert len(tm.faces) == n0 + meshes[1].n_faces
    assert tuple(tm.visual.face_colors[0, :3]) == meshes[0].color
    assert tuple(tm.visual.face_colors[n0, :3]) == meshes[1].color
    assert tm.volume == pytest.approx(sum(m.volume_mm3 for m in meshes), rel=1e-4)


def test_bad_paths_fail_before_any_work(meshes, tmp_path, monkeypatch):
    import skimage.measure

    calls = []
    monkeypatch.setattr(skimage.measure, "marching_cubes", lambda *a, **k: calls.append(1))
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    for bad in (a_file / "out.glb", tmp_path / "missing" / "out.stl", "/proc/medimg-cannot-write.glb"):
        with pytest.raises(MeshError, match="cannot write"):
            mm.label_meshes(np.ones((3, 3, 3), np.uint8), out=bad)
        with pytest.raises(MeshError, match="cannot write"):
            mm.export_meshes(meshes, bad)
    with pytest.raises(ConfigError, match="unknown mesh format '.fbx'"):
        mm.export_meshes(meshes, tmp_path / "x.fbx")
    assert calls == []  # marching cubes never ran
    assert not list(tmp_path.glob(".*part"))


def test_label_meshes_out_writes_the_file(two_balls, tmp_path):
    lab, aff = two_balls
    t = time.perf_counter()
    ms = mm.label_meshes(lab, aff, out=tmp_path / "both.glb")
    assert time.perf_counter() - t < 60
    assert set(trimesh.load(tmp_path / "both.glb").geometry) == {m.name for m in ms}
