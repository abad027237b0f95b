"""Meshes in the notebook viewers (kernel side): NiiVue mesh layers, fsaverage, presets, the XR widget,
the fast path for large volumes. The browser side is tests/meshes/test_browser.py."""

from __future__ import annotations

import io

import numpy as np
import pytest
import trimesh

import medimg_kernel as mk
from medimg_kernel.errors import ConfigError


@pytest.fixture(autouse=True)
def _fresh_webgl_status():
    from medimg_kernel.viz import probe

    saved = dict(probe._SESSION)
    probe._SESSION.update(webgl2=None, renderer="")
    yield
    probe._SESSION.update(saved)


@pytest.fixture
def ball_meshes(two_balls):
    lab, aff = two_balls
    return lab, aff, mk.meshes.label_meshes(lab, aff, names=["ball", "box"])


def test_view_sends_meshes_to_niivue_as_ply_in_world_mm(ball_meshes):
    lab, aff, meshes = ball_meshes
    v = mk.view(lab.astype(np.float32), affine=aff, meshes=meshes, render="3d", backend="niivue")
    nv_meshes = v.widget.meshes
    assert [m.name for m in nv_meshes] == ["ball.ply", "box.ply"]
    assert nv_meshes[1].rgba255 == [*meshes[1].color, 255]
    back = trimesh.load(io.BytesIO(nv_meshes[0].data), file_type="ply", process=False)
    assert np.allclose(back.vertices, meshes[0].vertices, atol=1e-4)  # float32 PLY, world mm
    assert np.array_equal(back.faces, meshes[0].faces)


def test_view_mesh_fsaverage_alone_and_over_a_volume(mni):
    left, right = mk.meshes.fsaverage("pial", "left"), mk.meshes.fsaverage("pial", "right")
    assert len(left.vertices) == 10242 and left.n_faces == 20480 and left.is_watertight
    assert left.bounds[1][0] < 5 < right.bounds[1][0]  # the left hemisphere lies at negative x (RAS)
    mv = mk.view_mesh(left, right)
    assert len(mv.widget.meshes) == 2 and mv.widget.meshes[0].name == "fsaverage5_pial_left.ply"
    mv.set_opacity("fsaverage5_pial_right", 0.3)
    assert mv.widget.meshes[1].opacity == pytest.approx(0.3)
    with pytest.raises(ConfigError, match="no mesh called"):
        mv.set_opacity("cerebellum", 0.3)
    v = mk.view_mesh([left], image=mni.t1, affine=mni.affine)
    assert v.backend_name == "niivue" and len(v.widget.meshes) == 1
    with pytest.raises(ConfigError, match="choose one of pial, white"):
        mk.meshes.fsaverage("midthickness")


def test_volume_presets_set_niivue_transfer_functions(mni):
    ct = np.where(mni.mask, 40.0, -1000.0).astype(np.float32)
    v = mk.view(ct, affine=mni.affine, preset="ct_bone", render="3d", backend="niivue")
    vol = v.widget.volumes[0]
    assert vol.colormap == "ct_bones" and (vol.cal_min, vol.cal_max) == pytest.approx((180.0, 600.0))
    mr = mk.view(mni.t1, affine=mni.affine, preset="mr", render="3d", backend="niivue")
    lo, hi = np.quantile(mni.t1[mni.t1 != 0], [0.4, 0.995])
    assert mr.scene.window.low == pytest.approx(lo, rel=1e-3) and mr.scene.window.high == pytest.approx(
        hi, rel=1e-3
    )
    for name in mk.viz.VOLUME_PRESETS:
        assert (
            mk.view(ct, affine=mni.affine, preset=name, render="3d", backend="niivue")
            .widget.volumes[0]
            .colormap
        )
    with pytest.raises(ConfigError, match="unknown volume preset 'lungs'.*ct_bone"):
        mk.view(ct, affine=mni.affine, preset="lungs", render="3d")


def test_xr_viewer_carries_float32_vertices_and_uint32_faces(ball_meshes):
    _, _, meshes = ball_meshes
    x = mk.view_xr(meshes, opacity={"box": 0.5})
    assert [m["name"] for m in x.mesh_meta] == ["ball", "box"]
    assert x.mesh_meta[1]["opacity"] == 0.5 and x.mesh_meta[0]["opacity"] == 1.0
    pos = np.frombuffer(bytes(x._positions[0]), dtype=np.float32).reshape(-1, 3)
    idx = np.frombuffer(bytes(x._indices[0]), dtype=np.uint32).reshape(-1, 3)
    assert np.allclose(pos, meshes[0].vertices, atol=1e-4) and np.array_equal(idx, meshes[0].faces)
    assert x.modes == ["immersive-vr", "immersive-ar"] and x.vr_available is None
    assert mk.view_xr(meshes[0], ar=False).modes == ["immersive-vr"]
    with pytest.raises(ConfigError, match="LabelMesh"):
        mk.view_xr([])


def test_xr_bundle_is_offline_and_small():
    from medimg_kernel.viz._assets import asset_path

    js = asset_path("xr_viewer.js").read_text()
    assert len(js) < 800_000
    assert "export" in js and "isSessionSupported" in js and "requestSession" in js
    assert "import(" not in js and "fetch(" not in js.replace("prefetch(", "")  # nothing loaded at run time
    assert not any(cdn in js for cdn in ("unpkg.com", "jsdelivr", "cdnjs", "esm.sh"))


def test_large_volumes_take_the_fast_path_by_default():
    big = np.zeros((160, 160, 170), np.float32)  # 4.35 M voxels > 2 * 128³
    v = mk.view(big)
    assert v.backend_name == "light" and "fast 2D viewer" in v.note
    assert mk.view(big, backend="niivue").backend_name == "niivue"
    assert mk.view(big, render="3d").backend_name == "niivue"
    assert mk.view(np.zeros((64, 64, 64), np.float32)).backend_name == "niivue"
