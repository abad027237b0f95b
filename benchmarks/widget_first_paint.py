"""Benchmark: time from cell execution to the first painted frame of a 256³ volume, and bytes per voxel.

Starts a fresh JupyterLab on 127.0.0.1 and headless Debian Chromium (software WebGL2), runs a cell that
calls ``mk.view()`` on a 256³ float32 CT-like phantom with a label map, and measures

* first paint: from issuing the cell to the first frame drawn (light viewer: its own paint timestamp;
  NiiVue: the first screenshot of its canvas that is not blank, polled every ~0.1 s, so an upper bound);
* bytes on the websocket from the kernel to the browser during that cell, per voxel (image + labels),
  and the browser-to-kernel echo NiiVue makes of every volume.

Targets (issue 5): first paint <= 2 s, <= 1 byte/voxel for the image after windowing. Not a timed test:
it prints its figures. Run: ``.venv/bin/python benchmarks/widget_first_paint.py [--size 256]``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "viz"))

from labharness import Browser, Lab, NotebookPage, browser_skip_reason, notebook, wait_for_pixels  # noqa: E402

SETUP = """\
import numpy as np
import medimg_kernel as mk
n = {size}
x, y, z = np.ogrid[:n, :n, :n]
r = np.sqrt((x - n / 2) ** 2 + (y - n / 2) ** 2 + ((z - n / 2) * 1.2) ** 2)
ct = np.where(r < n * 0.42, 40.0, -1000.0).astype(np.float32) + np.float32(30) * np.sin(x / 7.0) * np.cos(y / 9.0)
ct[r < n * 0.1] = 700.0
labels = (r < n * 0.2).astype(np.uint8) + (r < n * 0.1)
print('ready')"""

_RUN_CELL = """(i) => {
  const panel = window.jupyterapp.shell.currentWidget;
  panel.content.activeCellIndex = i;
  window.__t0 = performance.now();
  window.jupyterapp.commands.execute('notebook:run-cell');
  return window.__t0;
}"""

_EXECUTED = """(i) => {
  const cells = window.jupyterapp.shell.currentWidget.content.widgets;
  return cells[i].model.executionCount !== null &&
    window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.status === 'idle';
}"""


def measure(
    nb: NotebookPage, cell: int, backend: str, size: int, counter: dict[str, int], lv: int = 0
) -> dict[str, float]:
    counter.update(recv=0, sent=0)
    extra: dict[str, float] = {}
    t0 = time.monotonic()
    page_t0 = nb.page.evaluate(_RUN_CELL, cell)
    out = nb.page.locator(".jp-Notebook .jp-Cell").nth(cell)
    if backend == "light":
        nb.page.wait_for_function(
            f"() => document.querySelectorAll('.medimg-lv')[{lv}] && "
            f"document.querySelectorAll('.medimg-lv')[{lv}].dataset.medimgFirstPaint",
            timeout=300_000,
            polling=20,
        )
        paint, start = nb.page.evaluate(
            f"() => {{ const d = document.querySelectorAll('.medimg-lv')[{lv}].dataset;"
            " return [Number(d.medimgFirstPaint), Number(d.medimgRenderStart)]; }"
        )
        first_paint = (paint - page_t0) / 1000.0
        extra["render_to_paint_s"] = (paint - start) / 1000.0
    else:
        _, t_paint = wait_for_pixels(
            out.locator("canvas").first, lambda f: f["nonblack"] > 0.05, timeout=300, interval=0.05
        )
        first_paint = t_paint - t0
    nb.page.wait_for_function(_EXECUTED, arg=cell, timeout=120_000)
    time.sleep(3.0 if backend == "niivue" else 0.5)  # let NiiVue's echo of the voxels finish
    nvox = size**3
    text = nb.page.locator(".jp-Notebook .jp-Cell").nth(cell).inner_text()
    kernel = [float(w.split()[1]) for w in text.splitlines() if w.startswith("kernel ")]
    extra["kernel_s"] = kernel[0] if kernel else float("nan")
    return {
        **extra,
        "first_paint_s": first_paint,
        "kernel_to_browser_bytes_per_voxel": counter["recv"] / nvox,
        "browser_to_kernel_bytes_per_voxel": counter["sent"] / nvox,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256, help="edge of the cubic volume (default 256)")
    args = parser.parse_args()
    reason = browser_skip_reason()
    if reason:
        print(f"cannot run: {reason}")
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        lab = Lab.start(Path(tmp) / "lab")
        browser = Browser.launch(Path(tmp) / "profile")
        counter = {"recv": 0, "sent": 0}
        try:
            notebook(
                lab.root / "bench.ipynb",
                [
                    SETUP.format(size=args.size),
                    "import time\nt = time.perf_counter()\n"
                    "v_light = mk.view(ct, labels, window='abdomen', backend='light', spacing=(0.8, 0.8, 1.0))\n"
                    "print(f'kernel {time.perf_counter() - t:.3f}')\nv_light",
                    "t = time.perf_counter()\n"
                    "v_nv = mk.view(ct, labels, window='abdomen', backend='niivue', spacing=(0.8, 0.8, 1.0))\n"
                    "print(f'kernel {time.perf_counter() - t:.3f}')\nv_nv",
                    "t = time.perf_counter()\n"  # the default: what mk.view() picks (issue 18: the fast path)
                    "v_auto = mk.view(ct, labels, window='abdomen', spacing=(0.8, 0.8, 1.0))\n"
                    "print(f'kernel {time.perf_counter() - t:.3f}', v_auto.backend_name)\nv_auto",
                ],
            )

            def on_ws(ws):  # count payload bytes both ways on the kernel websocket
                ws.on("framereceived", lambda p: counter.__setitem__("recv", counter["recv"] + len(p)))
                ws.on("framesent", lambda p: counter.__setitem__("sent", counter["sent"] + len(p)))

            nb = NotebookPage.__new__(NotebookPage)
            nb.page = browser.context.new_page()
            nb.page.on("websocket", on_ws)
            nb.page.goto(lab.url("bench.ipynb"))
            nb.page.wait_for_function(
                "() => window.jupyterapp && window.jupyterapp.shell.currentWidget", timeout=60_000
            )
            from labharness import _WAIT_KERNEL_IDLE

            nb.page.evaluate(_WAIT_KERNEL_IDLE)
            nb.page.evaluate(_RUN_CELL, 0)
            nb.page.wait_for_function(_EXECUTED, arg=0, timeout=120_000)
            results = {b: measure(nb, i, b, args.size, counter) for i, b in ((1, "light"), (2, "niivue"))}
            from medimg_kernel.viz.view import AUTO_NIIVUE_MAX_VOXELS

            auto = "light" if args.size**3 > AUTO_NIIVUE_MAX_VOXELS else "niivue"
            results[f"default ({auto})"] = measure(nb, 3, auto, args.size, counter, lv=1)
            assert auto in nb.run_code("print(v_auto.backend_name)"), "the default viewer is not the expected one"
        finally:
            browser.close()
            lab.stop()
    print(
        f"first paint and transfer for a {args.size}^3 volume (+ uint8 labels), JupyterLab + headless Chromium"
    )
    for backend, r in results.items():
        detail = f"(view() in the kernel {r['kernel_s']:.2f} s"
        if "render_to_paint_s" in r:
            detail += f", widget render() to painted {r['render_to_paint_s']:.2f} s"
        print(
            f"  {backend:15s} first paint {r['first_paint_s']:.2f} s {detail})   kernel->browser "
            f"{r['kernel_to_browser_bytes_per_voxel']:.3f} B/voxel (image + labels)   browser->kernel "
            f"{r['browser_to_kernel_bytes_per_voxel']:.3f} B/voxel"
        )
    print("  targets: first paint <= 2 s; <= 1 B/voxel for the windowed image (labels add 1 B/voxel)")
    if browser.blocked:
        print(f"  blocked non-local requests: {browser.blocked[:5]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
