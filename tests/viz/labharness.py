"""Drive a real JupyterLab in headless Chromium (used by the browser tests and the first-paint benchmark).

A fresh ``jupyter lab`` on 127.0.0.1 with its own token and config/runtime/settings/workspace folders
(announcements off, notebook windowing off, ``expose_app_in_browser`` on), Debian's Chromium driven by
Playwright with every non-local request aborted and recorded, and helpers to open a notebook, run all
cells, run code in its kernel and measure pixels. See /work/shared/reference/browser-testing.md.
"""

from __future__ import annotations

import io
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--use-angle=swiftshader",
    "--enable-unsafe-swiftshader",
]
NO_WEBGL2_FLAGS = [f for f in CHROMIUM_FLAGS if f != "--enable-unsafe-swiftshader"] + ["--disable-webgl2"]


def browser_skip_reason() -> str | None:
    """Why browser tests cannot run here, or None."""
    if not Path(CHROMIUM).is_file():
        return f"{CHROMIUM} is missing: apt-get install -y chromium (never `playwright install`)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright Python package is not installed (pip install playwright)"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def notebook(path: Path, cells: list[str]) -> Path:
    """Write a notebook with these code cells (no outputs) and return its path."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, str(path))
    return path


@dataclass
class Lab:
    """A running JupyterLab server, stopped by PID with :meth:`stop`."""

    root: Path
    port: int
    token: str
    proc: subprocess.Popen
    log_path: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, nb_name: str) -> str:
        """The notebook in a workspace of its own, so no other open notebook is restored beside it."""
        workspace = Path(nb_name).stem.replace(" ", "_")
        return f"{self.base}/lab/workspaces/{workspace}/tree/{nb_name}?token={self.token}&reset"

    @classmethod
    def start(cls, workdir: Path, timeout: float = 60.0) -> Lab:
        root = workdir / "notebooks"
        root.mkdir(parents=True, exist_ok=True)
        cfg, runtime, settings, workspaces = (
            workdir / n for n in ("config", "runtime", "settings", "workspaces")
        )
        for d in (cfg, runtime, settings, workspaces):
            d.mkdir(parents=True, exist_ok=True)
        (cfg / "labconfig").mkdir(exist_ok=True)
        (cfg / "labconfig" / "page_config.json").write_text(
            json.dumps({"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}})
        )
        tracker = settings / "@jupyterlab" / "notebook-extension"
        tracker.mkdir(parents=True, exist_ok=True)
        (tracker / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
        env = dict(
            os.environ,
            JUPYTER_CONFIG_DIR=str(cfg),
            JUPYTER_RUNTIME_DIR=str(runtime),
            JUPYTERLAB_SETTINGS_DIR=str(settings),
            JUPYTERLAB_WORKSPACES_DIR=str(workspaces),
            MPLBACKEND="module://matplotlib_inline.backend_inline",
        )
        port, token = _free_port(), secrets.token_hex(16)
        log_path = workdir / "jupyter-lab.log"
        cmd = [
            str(Path(sys.executable).with_name("jupyter")),
            "lab",
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={port}",
            f"--IdentityProvider.token={token}",
            "--allow-root",
            f"--ServerApp.root_dir={root}",
            "--LabApp.expose_app_in_browser=True",
            "--ServerApp.open_browser=False",
        ]
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(
                cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        lab = cls(root, port, token, proc, log_path)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"jupyter lab exited: {log_path.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{lab.base}/api/status?token={token}", timeout=2) as r:
                    if r.status == 200:
                        return lab
            except OSError:
                time.sleep(0.3)
        lab.stop()
        raise TimeoutError(f"jupyter lab did not answer in {timeout} s: {log_path.read_text()[-2000:]}")

    def stop(self) -> None:
        """Stop the server (and the kernels it started) by its PID."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)  # our own session: the server and its kernels
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)


@dataclass
class Browser:
    """Headless Chromium (Playwright) that only talks to 127.0.0.1."""

    playwright: Any
    browser: Any
    context: Any
    blocked: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)
    owns_playwright: bool = True

    @classmethod
    def launch(cls, profile: Path, flags: list[str] = CHROMIUM_FLAGS, playwright: Any = None) -> Browser:
        """Start Chromium; pass the ``playwright`` of another Browser to run a second one beside it."""
        from playwright.sync_api import sync_playwright

        pw = playwright or sync_playwright().start()
        context = pw.chromium.launch_persistent_context(
            str(profile),
            executable_path=CHROMIUM,
            headless=True,
            args=flags,
            viewport={"width": 1400, "height": 1000},
            device_scale_factor=1,
        )
        self = cls(pw, None, context, owns_playwright=playwright is None)

        def route(r: Any) -> None:
            host = urlparse(r.request.url).hostname or ""
            if r.request.url.startswith(("data:", "blob:")) or host in ("127.0.0.1", "localhost"):
                r.continue_()
            else:
                self.blocked.append(r.request.url)
                r.abort()

        context.route("**/*", route)
        return self

    def close(self) -> None:
        self.context.close()
        if self.owns_playwright:
            self.playwright.stop()


_WAIT_KERNEL_IDLE = """async () => {
  const app = window.jupyterapp;
  for (let i = 0; i < 600; i++) {
    const nb = app.shell.currentWidget;
    const ctx = nb && nb.sessionContext;
    if (ctx && ctx.session && ctx.session.kernel && ctx.session.kernel.status === 'idle' && nb.content) return true;
    await new Promise(r => setTimeout(r, 100));
  }
  return false;
}"""

_RUN_CODE = """async (code) => {
  const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
  const future = kernel.requestExecute({code, store_history: false});
  let out = '';
  let err = '';
  future.onIOPub = (msg) => {
    if (msg.header.msg_type === 'stream') out += msg.content.text;
    if (msg.header.msg_type === 'error') err += msg.content.ename + ': ' + msg.content.evalue;
  };
  await future.done;
  return {out, err};
}"""

_ALL_EXECUTED = """() => {
  const nb = window.jupyterapp.shell.currentWidget.content;
  const cells = nb.widgets.filter(c => c.model.type === 'code');
  return cells.length > 0 && cells.every(c => c.model.executionCount !== null) &&
    window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.status === 'idle';
}"""


class NotebookPage:
    """One notebook opened in JupyterLab."""

    def __init__(self, browser: Browser, lab: Lab, name: str) -> None:
        self.page = browser.context.new_page()
        self.page.on("console", lambda m: browser.console.append(m.text))
        self.page.goto(lab.url(name))
        self.page.wait_for_function(
            "() => window.jupyterapp && window.jupyterapp.shell.currentWidget", timeout=60_000
        )
        if not self.page.evaluate(_WAIT_KERNEL_IDLE):
            raise TimeoutError("the kernel did not become idle")

    def run_all(self, timeout_ms: int = 120_000) -> float:
        """Run all cells; return the time.monotonic() at which run-all was issued."""
        t0 = time.monotonic()
        self.page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
        self.page.wait_for_function(_ALL_EXECUTED, timeout=timeout_ms, polling=100)
        return t0

    def run_code(self, code: str) -> str:
        res = self.page.evaluate(_RUN_CODE, code)
        if res["err"]:
            raise RuntimeError(f"kernel error running {code!r}: {res['err']}")
        return res["out"]

    def output(self, cell: int) -> Any:
        """Locator of the output area of code cell ``cell`` (0-based)."""
        return self.page.locator(".jp-Notebook .jp-Cell").nth(cell).locator(".jp-OutputArea-output").first

    def errors(self) -> list[str]:
        return self.page.locator(
            ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr'], "
            ".jp-RenderedText[data-mime-type='application/vnd.jupyter.error']"
        ).all_inner_texts()


def rgb_of(png: bytes) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(np.int16)


def fractions(rgb: np.ndarray) -> dict[str, float]:
    """Share of non-black pixels, of label-red pixels and of bright pixels."""
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    return {
        "nonblack": float(((r + g + b) > 30).mean()),
        "red": float(((r > 150) & (g < 90) & (b < 90)).mean()),
        "gray": float(((abs(r - g) < 12) & (abs(g - b) < 12) & (r > 40)).mean()),
    }


def wait_for_pixels(
    locator: Any, predicate: Any, timeout: float = 180.0, interval: float = 0.2
) -> tuple[bytes, float]:
    """Screenshot ``locator`` until ``predicate(fractions)`` holds; return (png, time.monotonic() when it did).

    ``timeout`` only guards against a hang (a loaded CI machine can take minutes to paint); the wait is on
    the pixels themselves.
    """
    deadline = time.monotonic() + timeout
    last: dict[str, float] = {}
    while time.monotonic() < deadline:
        try:
            png = locator.screenshot(timeout=5_000)
        except Exception:  # not attached yet
            time.sleep(interval)
            continue
        last = fractions(rgb_of(png))
        if predicate(last):
            return png, time.monotonic()
        time.sleep(interval)
    raise TimeoutError(f"pixels never matched; last fractions {last}")
