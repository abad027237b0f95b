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


def test_niivue_draws_label_meshes_with_the_volume(lab, browser):
    notebook(
        lab.root / "meshes_niivue.ipynb",
        [SETUP, "v = mk.view(m.t1, affine=m.affine, meshes=meshes[1], render='3d', height=320, show_3d_crosshair=False)\nv"],
    )
    nb = NotebookPage(browser, lab, "meshes_niivue.ipynb")
    nb.run_all(timeout_ms=180_000)
    canvas = nb.output(1).locator("canvas")
    png, _ = wait_for_pixels(canvas, lambda f: f["nonblack"] > 0.05, timeout=240)
    _save("niivue_mesh_in_volume.png", png)
    assert fractions(rgb_of(png))["gray"] > 0.03  # the rendered T1 hides the white matter inside it
    assert _colour_share(rgb_of(png), (0, 200, 0)) < 0.002
    # hide the volume: the white-matter mesh is there, in its label colour (green), in world mm
    nb.run_code("v.set_opacity('image', 0.0)")
    png = _wait_colour(canvas, (0, 200, 0), 0.01)
    _save("niivue_mesh_over_volume.png", png)
    assert nb.errors() == []
    nb.page.close()


def test_niivue_draws_the_fsaverage_cortex(lab, browser):
    notebook(
        lab.root / "fsaverage.ipynb",
        [
            "import medimg_kernel as mk\n"
            "s = mk.view_mesh(mk.meshes.fsaverage('pial', 'left'), mk.meshes.fsaverage('pial', 'right'), height=320)\ns"
        ],
    )
    nb = NotebookPage(browser, lab, "fsaverage.ipynb")
    nb.run_all(timeout_ms=180_000)
    png, _ = wait_for_pixels(nb.output(0).locator("canvas"), lambda f: f["nonblack"] > 0.05, timeout=240)
    _save("niivue_fsaverage.png", png)
    rgb = rgb_of(png)
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


IWER = Path(__file__).with_name("fixtures") / "iwer-2.5.0.min.js"


def test_enter_vr_starts_an_emulated_webxr_session(lab, browser):
    """With Meta's WebXR emulator (IWER, a Quest 3) injected, the button is enabled and enters VR."""
    from viz.labharness import _WAIT_KERNEL_IDLE

    notebook(
        lab.root / "xr_emulated.ipynb",
        [
            "import numpy as np\nimport medimg_kernel as mk\nx, y, z = np.ogrid[:40, :40, :40]\n"
            "lab = ((x - 20) ** 2 + (y - 20) ** 2 + (z - 20) ** 2 < 200).astype(np.uint8)\n"
            "xr = mk.view_xr(mk.meshes.label_meshes(lab, np.diag([2.0, 2, 2, 1]), names=['ball']), height=300)\nxr",
        ],
    )
    nb = NotebookPage.__new__(NotebookPage)
    nb.page = browser.context.new_page()
    nb.page.add_init_script(
        IWER.read_text() + "\n;new IWER.XRDevice(IWER.metaQuest3).installRuntime({ forceInstall: true });"
    )
    nb.page.goto(lab.url("xr_emulated.ipynb"))
    nb.page.wait_for_function(
        "() => window.jupyterapp && window.jupyterapp.shell.currentWidget", timeout=60_000
    )
    assert nb.page.evaluate(_WAIT_KERNEL_IDLE)
    nb.run_all(timeout_ms=180_000)
    out = nb.output(0)
    nb.page.wait_for_function(
        "() => document.querySelector('.medimg-xr') && document.querySelector('.medimg-xr').dataset.medimgXr",
        timeout=120_000,
    )
    assert json.loads(out.locator(".medimg-xr").get_attribute("data-medimg-xr")) == {
        "immersive-vr": "available",
        "immersive-ar": "available",
    }
    vr = out.locator("button[data-mode='immersive-vr']")
    assert vr.is_enabled() and out.locator(".medimg-xr-note").inner_text() == ""
    vr.click()
    nb.page.wait_for_function(
        "() => document.querySelector('.medimg-xr').dataset.medimgSession === 'immersive-vr'", timeout=60_000
    )
    assert vr.inner_text() == "Exit"
    frames = int(out.locator(".medimg-xr").get_attribute("data-medimg-frames"))
    nb.page.wait_for_function(  # the XR animation loop draws frames for the headset
        f"() => Number(document.querySelector('.medimg-xr').dataset.medimgFrames) > {frames + 5}",
        timeout=60_000,
    )
    assert nb.run_code("print(xr.xr_session, xr.vr_available)").split() == ["immersive-vr", "True"]
    vr.dispatch_event("click")  # Exit (IWER's overlay covers the page while presenting) ends the session
    nb.page.wait_for_function(
        "() => !document.querySelector('.medimg-xr').dataset.medimgSession", timeout=60_000
    )
    assert vr.inner_text() == "Enter VR"
    png, _ = wait_for_pixels(out.locator(".medimg-xr canvas"), lambda f: f["nonblack"] > 0.1, timeout=60)
    _save("xr_viewer_after_emulated_session.png", png)
    assert _colour_share(rgb_of(png), (255, 0, 0)) > 0.01
    assert nb.errors() == []
    nb.page.close()
