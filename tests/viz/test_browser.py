"""view(), the light viewer fallback and snapshot() in a real JupyterLab in headless Chromium.

Screenshots are saved under ``artifacts/screenshots/`` (CI keeps them as test artefacts).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from .labharness import (
    NO_WEBGL2_FLAGS,
    Browser,
    Lab,
    NotebookPage,
    fractions,
    notebook,
    rgb_of,
    wait_for_pixels,
)
from .labharness import browser_skip_reason as _skip_reason

pytestmark = [pytest.mark.browser, pytest.mark.skipif(_skip_reason() is not None, reason=str(_skip_reason()))]

SHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"

SETUP = """\
import numpy as np
import medimg_kernel as mk
from medimg_kernel.data.samples import load_mni152
m = load_mni152(2)
gm = (m.gm > 0.5).astype(np.uint8)"""


def _save(name: str, png: bytes) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    (SHOTS / name).write_bytes(png)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    server = Lab.start(tmp_path_factory.mktemp("lab"))
    yield server
    server.stop()
    assert server.proc.poll() is not None


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    b = Browser.launch(tmp_path_factory.mktemp("chromium-profile"))
    yield b
    b.close()
    assert b.blocked == [], f"the page tried to reach the network: {b.blocked[:5]}"


def test_niivue_mni_labels_and_3d_render(lab, browser):
    notebook(
        lab.root / "niivue.ipynb",
        [
            SETUP,
            "v = mk.view(m.t1, gm, affine=m.affine, backend='niivue', label_opacity=1.0, height=360)\nv",
            "v3 = mk.view(m.t1, gm, affine=m.affine, render='3d', height=300)\nv3",
        ],
    )
    nb = NotebookPage(browser, lab, "niivue.ipynb")
    nb.run_all()
    canvas = nb.output(1).locator("canvas")
    png, _ = wait_for_pixels(canvas, lambda f: f["nonblack"] > 0.1 and f["red"] > 0.01)
    _save("niivue_multiplanar.png", png)
    before = rgb_of(png)
    f = fractions(before)
    assert f["gray"] > 0.03, f  # the T1 itself is drawn, not only the labels

    # the 3D render paints too. Once in a CI run (2 loaded cores, software GL) its first paint never came
    # within 180 s, which was not reproduced here in isolation; the test then asks NiiVue to draw the scene
    # again from Python, says so in a warning, and fails if that does not paint either.
    canvas3 = nb.output(2).locator("canvas")
    try:
        png3, _ = wait_for_pixels(canvas3, lambda f: f["nonblack"] > 0.05, timeout=90.0)
    except TimeoutError as first:
        warnings.warn(f"the 3D render did not paint on first display ({first}); drawing the scene again", stacklevel=1)
        nb.run_code("v3.backend.widget.draw_scene()")
        png3, _ = wait_for_pixels(canvas3, lambda f: f["nonblack"] > 0.05, timeout=120.0)
    _save("niivue_render3d.png", png3)

    # the browser told the kernel it has WebGL2, so NiiVue stays
    assert "True niivue" in nb.run_code("print(mk.viz.webgl2_status()['webgl2'], v.backend_name)")

    # opacity from Python: the red labels disappear and grey brain shows where they were
    nb.run_code("v.set_opacity('labels', 0.0)")
    png_clear, _ = wait_for_pixels(canvas, lambda f: f["red"] < 0.002)
    _save("niivue_opacity0.png", png_clear)
    clear = rgb_of(png_clear)
    was_red = (before[..., 0] > 150) & (before[..., 1] < 90) & (before[..., 2] < 90)
    brain_there = (clear[..., 0] > 40)[was_red].mean()
    assert brain_there > 0.9, "the label colour was not drawn over the brain"

    # slice from Python: the picture changes
    nb.run_code("v.set_slice('axial', 20); v.set_slice('sagittal', 30)")
    png_slice, _ = wait_for_pixels(canvas, lambda f: abs(f["nonblack"] - fractions(clear)["nonblack"]) > 0.01)
    _save("niivue_slice.png", png_slice)
    assert np.abs(rgb_of(png_slice) - clear).mean() > 1.0
    assert nb.errors() == []
    nb.page.close()


def test_light_viewer_and_snapshot(lab, browser):
    notebook(
        lab.root / "light.ipynb",
        [
            SETUP,
            "lv = mk.view(m.t1, gm, m.wm, affine=m.affine, backend='light', label_opacity=1.0, overlay_threshold=2.0,"
            " height=300)\nlv",
            "mk.snapshot(m.t1, gm, affine=m.affine, label_opacity=1.0)",
        ],
    )
    nb = NotebookPage(browser, lab, "light.ipynb")
    nb.run_all()
    canvas = nb.output(1).locator("canvas")
    png, _ = wait_for_pixels(canvas, lambda f: f["nonblack"] > 0.1 and f["red"] > 0.02)
    _save("light_viewer.png", png)
    before = rgb_of(png)

    # the same plane composed in Python has its label pixels where the browser drew red
    from medimg_kernel.data.samples import load_mni152
    from medimg_kernel.viz.scene import prepare_scene
    from medimg_kernel.viz.snapshot import compose_plane

    m = load_mni152(2)
    scene = prepare_scene(m.t1, (m.gm > 0.5).astype(np.uint8), affine=m.affine, label_opacity=1.0)
    expected = compose_plane(scene, 2, tuple(s // 2 for s in scene.shape))
    exp_red = fractions(expected.astype(np.int16))["red"]
    h = before.shape[0]
    axial = before[:, : int(before.shape[1] * 98 / (98 + 98 + 116)) + 2]  # first panel
    got_red = fractions(axial[2 : h - 2])["red"]
    assert got_red == pytest.approx(exp_red, rel=0.35), (got_red, exp_red)

    # slice and opacity from Python (the heat map is hidden by its threshold; show it)
    nb.run_code("lv.set_opacity('labels', 0.0)")
    png_clear, _ = wait_for_pixels(canvas, lambda f: f["red"] < 0.002)
    # wait for the repaint itself (the viewer counts the frames it draws), not for a lucky screenshot
    root = nb.output(1).locator(".medimg-lv")
    frames = int(root.get_attribute("data-medimg-frames"))
    nb.run_code("lv.set_slice('axial', 25)")
    nb.page.wait_for_function(
        f"() => Number(document.querySelector('.medimg-lv').dataset.medimgFrames) > {frames}"
    )
    png_slice = canvas.screenshot()
    assert np.abs(rgb_of(png_slice) - rgb_of(png_clear)).mean() > 0.5
    nb.run_code("lv.set_overlay_threshold(0.5); lv.set_opacity('overlay', 1.0)")
    png_heat, _ = wait_for_pixels(canvas, lambda f: f["red"] > 0.005)  # warm map: red to yellow
    _save("light_viewer_heat.png", png_heat)

    # the arrow keys scroll client-side: no kernel round trip, and JupyterLab does not steal the key
    frames = int(root.get_attribute("data-medimg-frames"))
    root.click(position={"x": 5, "y": 5})
    nb.page.keyboard.press("ArrowUp")
    nb.page.wait_for_function(
        f"() => Number(document.querySelector('.medimg-lv').dataset.medimgFrames) > {frames}"
    )
    assert nb.page.evaluate("() => window.jupyterapp.shell.currentWidget.content.activeCellIndex") == 1

    # the static snapshot is a PNG in the output with the label colour
    img = nb.output(2).locator("img")
    snap = img.screenshot()
    _save("snapshot.png", snap)
    fs = fractions(rgb_of(snap))
    assert fs["red"] > 0.02 and fs["gray"] > 0.02, fs
    assert nb.errors() == []
    nb.page.close()


def test_no_webgl2_falls_back_to_light_viewer_with_a_note(lab, browser, tmp_path):
    b = Browser.launch(tmp_path / "profile-nowebgl", flags=NO_WEBGL2_FLAGS, playwright=browser.playwright)
    try:
        notebook(
            lab.root / "fallback.ipynb",
            [
                SETUP,
                "v = mk.view(m.t1, gm, affine=m.affine, label_opacity=1.0, height=300)\nv",
            ],
        )
        nb = NotebookPage(b, lab, "fallback.ipynb")
        nb.run_all()
        out = nb.output(1)
        out.locator(".medimg-lv canvas").wait_for(timeout=60_000)
        png, _ = wait_for_pixels(out, lambda f: f["nonblack"] > 0.05 and f["red"] > 0.01)
        _save("fallback_light_viewer.png", png)
        assert "WebGL2 is not available" in out.inner_text()
        assert "False light" in nb.run_code("print(mk.viz.webgl2_status()['webgl2'], v.backend_name)")
        nb.page.close()
    finally:
        b.close()
    assert b.blocked == []
