"""Meshes in a real JupyterLab in headless Chromium: NiiVue surfaces, the three.js immersive viewer and
its WebXR fallback (headless Chromium has navigator.xr but no immersive session).

Screenshots are saved under ``artifacts/screenshots/``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from viz.labharness import Browser, Lab, NotebookPage, fractions, notebook, rgb_of, wait_for_pixels
from viz.labharness import browser_skip_reason as _skip_reason

pytestmark = [pytest.mark.browser, pytest.mark.skipif(_skip_reason() is not None, reason=str(_skip_reason()))]

SHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"

SETUP = """\
import numpy as np
import medimg_kernel as mk
from medimg_kernel.data.samples import load_mni152
m = load_mni152(2)
seg = np.zeros(m.gm.shape, np.uint8); seg[m.gm > 0.5] = 1; seg[m.wm > 0.5] = 2
meshes = mk.meshes.label_meshes(seg, m.affine, names=['grey matter', 'white matter'], faces=20000)"""


def _save(name: str, png: bytes) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    (SHOTS / name).write_bytes(png)


def _colour_share(rgb, color, tol=60):
    """Share of pixels near ``color`` in hue: the lit mesh is shaded, so compare normalised RGB."""
    import numpy as np

    px = rgb.reshape(-1, 3).astype(float)
    bright = px.sum(1) > 60
    norm = px / np.maximum(px.sum(1, keepdims=True), 1)
    want = np.asarray(color, float) / max(sum(color), 1)
    near = np.abs(norm - want).sum(1) < tol / 255
    return float((near & bright).mean())


def _wait_colour(locator, color, share, timeout=60.0, tol=60):
    """Screenshot ``locator`` until at least ``share`` of its pixels have the hue of ``color``."""
    deadline = time.monotonic() + timeout
    got = 0.0
    while time.monotonic() < deadline:
        png = locator.screenshot(timeout=5_000)
        got = _colour_share(rgb_of(png), color, tol)
        if got > share:
            return png
        time.sleep(0.3)
    raise AssertionError(f"colour {color} covered {got:.4f} of the view, expected > {share}")


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    server = Lab.start(tmp_path_factory.mktemp("lab"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    b = Browser.launch(tmp_path_factory.mktemp("chromium-profile"))
    yield b
    b.close()
    assert b.blocked == [], f"the page tried to reach the network: {b.blocked[:5]}"


def test_niivue_draws_label_meshes_and_fsaverage(lab, browser):
    notebook(
        lab.root / "meshes_niivue.ipynb",
        [
            SETUP,
            "v = mk.view(m.t1, affine=m.affine, meshes=meshes[1], render='3d', height=320)\nv",
            "s = mk.view_mesh(mk.meshes.fsaverage('pial', 'left'), mk.meshes.fsaverage('pial', 'right'), height=320)\ns",
        ],
    )
    nb = NotebookPage(browser, lab, "meshes_niivue.ipynb")
    nb.run_all(timeout_ms=180_000)
    png, _ = wait_for_pixels(nb.output(1).locator("canvas"), lambda f: f["nonblack"] > 0.05, timeout=240)
    _save("niivue_mesh_in_volume.png", png)
    assert fractions(rgb_of(png))["gray"] > 0.03  # the rendered T1 hides the white matter inside it
    # hide the volume: the white-matter mesh is there, in its label colour (green), in world mm
    nb.run_code("v.set_opacity('image', 0.0)")
    png = _wait_colour(nb.output(1).locator("canvas"), (0, 200, 0), 0.01)
    _save("niivue_mesh_over_volume.png", png)
    png2, _ = wait_for_pixels(nb.output(2).locator("canvas"), lambda f: f["nonblack"] > 0.05, timeout=240)
    _save("niivue_fsaverage.png", png2)
    rgb = rgb_of(png2)
    assert _colour_share(rgb, (230, 180, 160), tol=40) > 0.02  # left hemisphere colour
    assert _colour_share(rgb, (160, 190, 230), tol=40) > 0.004  # right hemisphere, seen past the left
    assert nb.errors() == []
    nb.page.close()


def test_immersive_viewer_renders_and_reports_no_xr(lab, browser):
    notebook(
        lab.root / "xr.ipynb",
        [SETUP, "x = mk.view_xr(meshes, height=360)\nx"],
    )
    nb = NotebookPage(browser, lab, "xr.ipynb")
    nb.run_all(timeout_ms=180_000)
    out = nb.output(1)
    canvas = out.locator(".medimg-xr canvas")
    png, _ = wait_for_pixels(canvas, lambda f: f["nonblack"] > 0.1, timeout=240)
    _save("xr_viewer_fallback.png", png)
    rgb = rgb_of(png)
    assert _colour_share(rgb, (255, 0, 0)) > 0.02  # grey matter, label 1 colour, lit
    # headless Chromium exposes navigator.xr but no immersive session: the buttons say so
    assert nb.page.evaluate("() => !!navigator.xr")
    vr = out.locator("button[data-mode='immersive-vr']")
    ar = out.locator("button[data-mode='immersive-ar']")
    assert vr.inner_text() == "Enter VR" and ar.inner_text() == "View in AR"
    nb.page.wait_for_function("() => document.querySelector('.medimg-xr').dataset.medimgXr")
    assert vr.is_disabled() and ar.is_disabled()
    assert "no immersive-vr session" in vr.get_attribute("title")
    note = out.locator(".medimg-xr-note").inner_text()
    assert "Enter VR unavailable" in note and "View in AR unavailable" in note
    # the kernel learns it too
    status = json.loads(nb.run_code("import json; print(json.dumps(x.xr_status))"))
    assert status["immersive-vr"].startswith("unavailable") and x_vr(nb) == "False"

    # and the view stays interactive: dragging rotates the anatomy
    frames = int(out.locator(".medimg-xr").get_attribute("data-medimg-frames"))
    box = canvas.bounding_box()
    nb.page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    nb.page.mouse.down()
    nb.page.mouse.move(box["x"] + box["width"] / 2 + 120, box["y"] + box["height"] / 2 + 10, steps=6)
    nb.page.mouse.up()
    assert int(out.locator(".medimg-xr").get_attribute("data-medimg-frames")) > frames
    png2, _ = wait_for_pixels(canvas, lambda f: f["nonblack"] > 0.1)
    _save("xr_viewer_rotated.png", png2)
    assert abs(rgb_of(png2) - rgb).mean() > 1.0
    assert fractions(rgb_of(png2))["nonblack"] > 0.1
    assert nb.errors() == []
    nb.page.close()


def x_vr(nb) -> str:
    return nb.run_code("print(x.vr_available)").strip()
