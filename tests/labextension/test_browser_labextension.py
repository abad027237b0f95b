"""The front end in a real JupyterLab 4 and Notebook 7 in headless Chromium (Playwright, Debian's Chromium).

Navigator, status bar, Check my work on a solved and a blank assignment, the dataset panel with a
real fetch from a loopback origin, no course UI on a non-course notebook. Screenshots go to
``artifacts/screenshots/labext_*.png`` and are checked for non-blank content.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from viz.labharness import _WAIT_KERNEL_IDLE, Browser, rgb_of
from viz.labharness import browser_skip_reason as _skip_reason

from .course_fixture import make_course, make_remote_dataset
from .jupyter_harness import FileServer, Server

pytestmark = [pytest.mark.browser, pytest.mark.skipif(_skip_reason() is not None, reason=str(_skip_reason()))]

SHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"


def check_nonblank(png: bytes, name: str, min_share: float = 0.01) -> dict[str, float]:
    """Save the screenshot and assert it shows content: pixels off the background colour, several colours."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    (SHOTS / name).write_bytes(png)
    rgb = rgb_of(png).reshape(-1, 3)
    colours, counts = np.unique(rgb, axis=0, return_counts=True)
    background = colours[counts.argmax()]
    off = float((np.abs(rgb - background).sum(axis=1) > 60).mean())
    stats = {"off_background": off, "colours": float(len(colours))}
    assert off > min_share and len(colours) > 8, (name, stats)
    return stats


def _course_env(work: Path) -> tuple[Path, dict[str, str], FileServer]:
    course = make_course(work / "course")
    (work / "origin").mkdir()
    files = FileServer(work / "origin")
    make_remote_dataset(work / "origin", work / "registry.yaml", files.url)
    return course, {"MEDIMG_DATA": str(work / "cache"), "MEDIMG_REGISTRY": str(work / "registry.yaml"),
                    "MEDIMG_MIRROR": ""}, files


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    b = Browser.launch(tmp_path_factory.mktemp("chromium-profile"))
    yield b
    b.close()
    assert b.blocked == [], f"the page tried to reach the network: {b.blocked[:5]}"


@pytest.fixture(scope="module")
def lab(tmp_path_factory, browser):
    work = tmp_path_factory.mktemp("labext-lab")
    course, env, files = _course_env(work)
    srv = Server.start(work / "jupyter", course, "lab", env=env)
    page = browser.context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{srv.base}/lab?token={srv.token}&reset")
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell", timeout=90_000)
    yield {"srv": srv, "page": page, "course": course, "errors": errors, "work": work}
    page.close()
    srv.stop()
    files.close()


_CLOSE_NOTEBOOKS = """async () => {
  for (const w of [...window.jupyterapp.shell.widgets('main')]) {
    if (w.sessionContext && w.context) {
      await w.sessionContext.shutdown().catch(() => undefined);
      w.dispose();
    }
  }
}"""


def _open(page, path: str, wait_kernel: bool = True) -> None:
    """Open ``path`` alone (other notebooks closed and their kernels shut down: 2 cores are shared)."""
    page.evaluate(_CLOSE_NOTEBOOKS)
    page.evaluate("(p) => { window.jupyterapp.commands.execute('docmanager:open', {path: p}); }", path)
    page.wait_for_function("(p) => { const w = window.jupyterapp.shell.currentWidget; "
                           "return w && w.context && w.context.path === p; }", arg=path, timeout=30_000)
    if wait_kernel:
        assert page.evaluate(_WAIT_KERNEL_IDLE), "the kernel did not become idle"


def _medimg_errors(errors: list[str]) -> list[str]:
    return [e for e in errors if "medimg" in e.lower()]


def test_lab_navigator_lists_lessons_opens_welcome_and_a_clicked_lesson(lab):
    page = lab["page"]
    page.wait_for_selector("#medimg-course-navigator", state="attached", timeout=30_000)
    # first run: the welcome notebook opens by itself
    page.wait_for_function("() => [...window.jupyterapp.shell.widgets('main')].some("
                           "w => w.context && w.context.path === 'notebooks/00_welcome.ipynb')", timeout=30_000)
    page.evaluate("() => window.jupyterapp.shell.activateById('medimg-course-navigator')")
    page.wait_for_selector("#medimg-course-navigator .medimg-lesson >> nth=2", timeout=30_000)
    titles = page.locator("#medimg-course-navigator .medimg-lesson-title").all_inner_texts()
    assert titles == ["00 · Welcome", "01 · Images for the fixture", "02 · Models"]
    text = page.locator("#medimg-course-navigator").inner_text()
    assert "~25 min" in text and "Assignment 01_images" in text and "tier " in text
    check_nonblank(page.locator("#medimg-course-navigator").screenshot(), "labext_navigator.png")
    page.click("#medimg-course-navigator a.medimg-lesson-title[data-path='notebooks/01_images.ipynb']")
    page.wait_for_function("() => { const w = window.jupyterapp.shell.currentWidget; "
                           "return w && w.context && w.context.path === 'notebooks/01_images.ipynb'; }", timeout=30_000)
    # opening it is recorded: the badge turns to "opened"
    page.wait_for_selector(".medimg-lesson[data-number='01'] .medimg-lesson-row .medimg-badge[data-state='opened']",
                           timeout=30_000)
    check_nonblank(page.screenshot(), "labext_lab_overview.png")


def test_lab_status_bar_shows_device_kernel_busy_and_opens_the_report(lab):
    page, srv = lab["page"], lab["srv"]
    _, env = srv.call("status")
    item = page.locator("#medimg-status")
    page.wait_for_function("(d) => (document.querySelector('#medimg-status') || {}).textContent?.includes(d)",
                           arg=env["device"], timeout=60_000)
    text = item.inner_text()
    assert env["precision"] in text and f"tier {env['tier']}" in text, text
    _open(page, "notebooks/02_models.ipynb")
    page.evaluate("() => { window.jupyterapp.shell.currentWidget.sessionContext.session.kernel"
                  ".requestExecute({code: 'import time; time.sleep(4)'}); }")
    page.wait_for_function("() => document.querySelector('#medimg-status').textContent.includes('kernel busy')",
                           timeout=15_000)
    page.wait_for_function("() => !document.querySelector('#medimg-status').textContent.includes('kernel busy')",
                           timeout=30_000)
    # a kernel that dies is stated (JupyterLab then restarts it)
    page.evaluate("() => { window.jupyterapp.shell.currentWidget.sessionContext.session.kernel"
                  ".requestExecute({code: 'import os; os._exit(1)'}); }")
    page.wait_for_function("() => /kernel (dead|died)/.test(document.querySelector('#medimg-status').textContent)",
                           timeout=30_000, polling=50)
    dialog = page.locator(".jp-Dialog button.jp-mod-accept")  # JupyterLab's own "kernel restarting" notice
    dialog.wait_for(timeout=15_000)
    dialog.click()
    item.click()
    page.wait_for_selector("#medimg-env-report pre", timeout=30_000)
    report = page.locator("#medimg-env-report pre").inner_text()
    assert report.startswith("medimg environment") and env["device"] in report


def _check(page, path: str) -> tuple[float, str]:
    _open(page, path)
    button = page.locator(".jp-NotebookPanel:visible .medimg-checkwork-button")
    button.wait_for(timeout=30_000)
    t0 = time.monotonic()
    button.click()
    page.wait_for_selector(f"#medimg-checkwork-panel .medimg-meta:text-is('{path}')", timeout=30_000)
    page.wait_for_selector("#medimg-checkwork-panel .medimg-summary", timeout=120_000)
    took = time.monotonic() - t0
    return took, page.locator("#medimg-checkwork-panel").inner_text()


def test_lab_check_my_work_on_a_solved_and_a_blank_assignment(lab):
    page = lab["page"]
    took, text = _check(page, "assignments/source/01_images/01_images.ipynb")
    panel = page.locator("#medimg-checkwork-panel")
    assert panel.locator(".medimg-summary").get_attribute("data-passed") == "true", text
    rows = panel.locator("tr[data-exercise]")
    assert rows.count() == 2 and panel.locator("tr[data-exercise][data-passed='true']").count() == 2, text
    assert "2 of 2 exercises pass (3/3 visible tests)" in text and took < 60
    assert "secret" not in text and "hidden tests passed" not in text
    # the student's notebook is left as it was: no outputs written into its cells
    assert page.locator(".jp-NotebookPanel:visible .jp-OutputArea-output").count() == 0
    check_nonblank(panel.screenshot(), "labext_checkwork_solved.png")

    _, text = _check(page, "assignments/release/01_images/01_images.ipynb")
    assert panel.locator(".medimg-summary").get_attribute("data-passed") == "false", text
    assert panel.locator("tr[data-exercise][data-passed='false']").count() == 2, text
    first = panel.locator(".medimg-first-hint").inner_text()
    assert "double" in first and "multiply by two" in first, first
    assert "not implemented yet" in text and "0 of 2 exercises pass (0/3 visible tests)" in text
    assert "secret" not in text and "Hidden tests are run only when your instructor grades" in text
    check_nonblank(panel.screenshot(), "labext_checkwork_blank.png")
    # the result reaches the navigator: the assignment is marked as not passed yet, with its score
    page.evaluate("() => window.jupyterapp.shell.activateById('medimg-course-navigator')")
    page.wait_for_selector(".medimg-assignment .medimg-badge[data-state='failed']", timeout=30_000)
    assert "(0/3)" in page.locator(".medimg-assignment .medimg-badge").inner_text()


def test_lab_non_course_notebook_has_no_course_ui_and_no_error(lab):
    page = lab["page"]
    _open(page, "scratch.ipynb", wait_kernel=False)
    page.wait_for_function("() => window.jupyterapp.shell.currentWidget.context.isReady", timeout=30_000)
    page.wait_for_timeout(1500)
    assert page.locator(".jp-NotebookPanel:visible .medimg-checkwork-button").count() == 0
    assert _medimg_errors(lab["errors"]) == [], lab["errors"]


def test_lab_dataset_panel_lists_fetches_with_progress_and_reports_failures(lab):
    page, work = lab["page"], lab["work"]
    page.wait_for_selector("#medimg-datasets", state="attached", timeout=60_000)
    page.evaluate("() => window.jupyterapp.shell.activateById('medimg-datasets')")
    row = page.locator("#medimg-datasets tr.medimg-dataset[data-name='fixture-blob']")
    row.wait_for(timeout=30_000)
    assert row.get_attribute("data-state") == "not cached"
    assert str(work / "cache") in page.locator("#medimg-datasets .medimg-cache-dir").inner_text()
    names = page.locator("#medimg-datasets tr.medimg-dataset").evaluate_all("rs => rs.map(r => r.dataset.name)")
    assert {"fixture-blob", "fixture-missing"} <= set(names) and len(names) > 5  # with the shipped registry
    check_nonblank(page.locator("#medimg-datasets").screenshot(), "labext_datasets.png")
    row.locator("button.medimg-fetch").click()
    page.wait_for_selector("#medimg-datasets tr.medimg-dataset[data-name='fixture-blob'][data-state='verified']",
                           timeout=60_000)
    assert (work / "cache" / "fixture-blob" / "blob.bin").is_file()
    page.locator("#medimg-datasets tr.medimg-dataset[data-name='fixture-missing'] button.medimg-fetch").click()
    err = page.locator("#medimg-datasets .medimg-error[data-name='fixture-missing']")
    err.wait_for(timeout=60_000)
    assert "could not download gone.bin" in err.inner_text()
    page.locator("#medimg-datasets tr.medimg-dataset[data-name='fixture-blob'] button.medimg-verify").click()
    ok = page.locator("#medimg-datasets .medimg-pass[data-name='fixture-blob']")
    ok.wait_for(timeout=30_000)
    assert ok.inner_text().startswith("verified")
    # an offline course pack in the course folder is listed and imported
    from medimg_kernel.data.packs import pack

    (lab["course"] / "packs").mkdir()
    pack(["fixture-blob"], lab["course"] / "packs" / "class.medimgpack", data_dir=work / "cache",
         manifests=[work / "registry.yaml"])
    (work / "cache" / "fixture-blob" / "blob.bin").unlink()
    page.locator("#medimg-datasets .medimg-header button").click()
    page.locator("#medimg-datasets button.medimg-import[data-path='packs/class.medimgpack']").click()
    done = page.locator("#medimg-datasets .medimg-pack-status .medimg-pass")
    done.wait_for(timeout=60_000)
    assert "installed: fixture-blob" in done.inner_text()
    assert (work / "cache" / "fixture-blob" / "blob.bin").is_file()
    check_nonblank(page.locator("#medimg-datasets").screenshot(), "labext_datasets_after.png")


@pytest.fixture(scope="module")
def nb7(tmp_path_factory, browser):
    work = tmp_path_factory.mktemp("labext-nb7")
    course, env, files = _course_env(work)
    srv = Server.start(work / "jupyter", course, "notebook", env=env)
    yield {"srv": srv, "course": course}
    srv.stop()
    files.close()


def test_notebook7_tree_navigator_opens_a_lesson(nb7, browser):
    srv = nb7["srv"]
    page = browser.context.new_page()
    try:
        page.goto(f"{srv.base}/tree?token={srv.token}")
        tab = page.locator(".lm-TabBar-tab", has_text="Course")
        tab.wait_for(timeout=60_000)
        tab.click()
        page.wait_for_selector("#medimg-course-navigator .medimg-lesson >> nth=2", timeout=30_000)
        check_nonblank(page.locator("#medimg-course-navigator").screenshot(), "labext_nb7_navigator.png")
        with browser.context.expect_page(timeout=30_000) as opened:
            page.click("#medimg-course-navigator a.medimg-lesson-title[data-path='notebooks/01_images.ipynb']")
        lesson = opened.value
        lesson.wait_for_url("**/notebooks/notebooks/01_images.ipynb*", timeout=30_000)
        lesson.close()
        assert page.locator(".lm-TabBar-tab", has_text="Datasets").count() == 1
    finally:
        page.close()


def test_notebook7_check_my_work_on_the_solved_assignment(nb7, browser):
    srv = nb7["srv"]
    page = browser.context.new_page()
    try:
        page.goto(f"{srv.base}/notebooks/assignments/source/01_images/01_images.ipynb?token={srv.token}")
        page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell.currentWidget", timeout=60_000)
        assert page.evaluate(_WAIT_KERNEL_IDLE)
        page.locator(".medimg-checkwork-button").click()
        page.wait_for_selector("#medimg-checkwork-panel .medimg-summary", timeout=120_000)
        panel = page.locator("#medimg-checkwork-panel")
        assert panel.locator(".medimg-summary").get_attribute("data-passed") == "true", panel.inner_text()
        check_nonblank(panel.screenshot(), "labext_nb7_checkwork.png")
    finally:
        page.close()
