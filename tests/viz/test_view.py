"""view()/compare() on the Python side: backends, transfer sizes, methods, WebGL2 fallback, front-end status."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest
from ipywidgets.widgets.widget import _remove_buffers

import medimg_kernel as mk
from medimg_kernel.errors import ConfigError
from medimg_kernel.viz import probe as probe_mod


@pytest.fixture(autouse=True)
def fresh_webgl_status():
    saved = dict(probe_mod._SESSION)
    probe_mod._SESSION.update(webgl2=None, renderer="")
    yield
    probe_mod._SESSION.update(saved)


def _sent_bytes(widget) -> int:
    _, _, buffers = _remove_buffers(widget.get_state())
    return sum(memoryview(b).nbytes for b in buffers)


def test_niivue_backend_sends_one_byte_per_voxel_as_nifti(mni):
    lab = (mni.gm > 0.5).astype(np.uint8)
    v = mk.view(mni.t1, lab, affine=mni.affine, render="3d")
    assert v.backend_name == "niivue" and v.probe is not None  # browser not heard from yet
    vols = v.widget.volumes
    assert len(vols) == 2
    nvox = mni.t1.size
    img = nib.Nifti1Image.from_bytes(vols[0].data)  # in-memory NIfTI, no temp file
    assert img.get_data_dtype() == np.uint8 and img.shape == mni.t1.shape
    assert len(vols[0].data) / nvox < 1.01
    np.testing.assert_allclose(img.affine, mni.affine)
    lut = vols[1].colormap_label.lut
    assert lut[4:8] == [255, 0, 0, 255]  # label 1 red, opaque factor; layer opacity separate
    assert vols[1].opacity == 0.5


def test_niivue_methods_change_widget_state(mni):
    lab = (mni.gm > 0.5).astype(np.uint8)
    v = mk.view(mni.t1, lab, mni.wm, affine=mni.affine, overlay_threshold=0.3)
    v.set_slice("axial", 20).set_slice(0, 10)
    assert v.widget.scene.crosshair_pos == pytest.approx([10.5 / 98, 58.5 / 116, 20.5 / 94])
    assert v.get_slice() == (10, 58, 20)
    v.set_opacity("labels", 0.9)
    assert v.widget.volumes[2].opacity == 0.9
    v.hide_labels(1)
    assert v.widget.volumes[2].colormap_label.lut[7] == 0
    v.show_labels().set_label_opacity(1, 0.5)
    assert v.widget.volumes[2].colormap_label.lut[7] == 128
    v.set_overlay_threshold(0.6)
    assert v.widget.volumes[1].cal_min == 0.6
    from ipyniivue import SliceType

    assert v.widget.opts.slice_type == SliceType.MULTIPLANAR
    v.set_render("3d")
    assert v.widget.opts.slice_type == SliceType.RENDER  # the synced option the browser draws from
    v.set_render("axial")
    assert v.widget.opts.slice_type == SliceType.AXIAL
    with pytest.raises(ConfigError):
        v.set_slice("axial", 500)
    with pytest.raises(ConfigError):
        v.set_opacity("labels", 1.5)


def test_light_viewer_bytes_and_methods(mni):
    lab = (mni.gm > 0.5).astype(np.uint8)
    v = mk.view(mni.t1, lab, mni.wm, affine=mni.affine, backend="light")
    w = v.widget
    nvox = mni.t1.size
    assert _sent_bytes(w) == nvox * (1 + 1 + 2)  # uint8 image, uint8 labels, float16 heat map
    v.set_slice("coronal", 40)
    assert w.slice_index[1] == 40
    v.set_opacity("overlay", 0.2)
    assert w.heat_meta["opacity"] == 0.2
    v.hide_labels()
    assert w.label_meta[0]["lut"][7] == 0
    v.set_window((0.5, 0.5))
    assert w.value_inter == pytest.approx(0.25)
    with pytest.raises(ConfigError, match="niivue"):
        mk.view(mni.t1, backend="light", render="3d")


def test_auto_switches_to_light_viewer_when_the_browser_reports_no_webgl2(mni):
    v = mk.view(mni.t1, (mni.gm > 0.5).astype(np.uint8), affine=mni.affine)
    assert v.backend_name == "niivue"
    v.set_slice("axial", 33)
    v.probe.renderer = "none"
    v.probe.webgl2 = "no"  # what the front end sets after canvas.getContext("webgl2") failed
    assert v.backend_name == "light"
    assert "WebGL2 is not available" in v.widget.note
    assert v.widget.slice_index[2] == 33
    assert mk.viz.webgl2_status()["webgl2"] is False
    assert mk.viz.frontend_status()["webgl2"]["reported"] is False
    # later views go straight to the light viewer, with the note
    v2 = mk.view(mni.t1)
    assert v2.backend_name == "light" and v2.widget.note


def test_known_webgl2_needs_no_probe(mni):
    probe_mod._SESSION["webgl2"] = True
    v = mk.view(mni.t1)
    assert v.backend_name == "niivue" and v.probe is None


def test_repr_is_short(mni):
    v = mk.view(mni.t1, (mni.gm > 0.5).astype(np.uint8), affine=mni.affine, backend="light")
    assert len(repr(v)) < 200
    assert len(v._repr_mimebundle_()["text/plain"]) < 200


def test_compare_rows_and_summary(mni):
    truth = (mni.gm > 0.5).astype(np.uint8)
    pred = truth.copy()
    pred[:, :, :40] = 0  # misses the lower part
    pred[40:45, 50:55, 60:65] = 1  # and adds a blob
    c = mk.compare(mni.t1, pred, truth, affine=mni.affine)
    assert c.backend_name == "light"
    assert [r["title"] for r in c.widget.rows] == ["prediction", "truth", "errors"]
    assert c.summary["false_negative_voxels"] == int(((pred == 0) & (truth == 1)).sum())
    assert c.summary["false_positive_voxels"] == int(((pred == 1) & (truth == 0)).sum())
    assert 0 < c.summary["dice"][1] < 1
    assert "Dice" in c.widget.note
    c.set_slice("axial", 10)
    assert c.widget.slice_index[2] == 10  # one crosshair for the three rows


def test_itk_backend_is_opt_in_with_a_clear_message(mni):
    from medimg_kernel.viz.itk import itk_available

    ok, reason = itk_available()
    if ok:
        pytest.skip("itkwidgets is installed here")
    with pytest.raises(mk.MedimgKernelError, match="opt-in"):
        mk.view(mni.t1, backend="itk")


def test_frontend_status_reports_installed_front_ends():
    status = mk.viz.frontend_status()
    assert status["ipywidgets"]["labextension"] is True
    assert status["anywidget"]["labextension"] is True
    assert status["ipyniivue"]["bundled_js"] is True
    assert status["light_viewer"]["esm"] is True
    assert status["webgl2"]["reported"] is None
