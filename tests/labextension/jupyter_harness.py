"""Start a real ``jupyter server|lab|notebook`` on 127.0.0.1 with the medimg extension, and a loopback file server.

The server gets fresh config/runtime/settings/workspace folders; its config enables the server extension
and ``JUPYTER_PATH`` points at a folder linking ``medimg-labextension`` to the built front end in the
source tree, so the tests need no prior ``medimg labextension install``.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
BUILT = REPO / "medimg_kernel" / "labextension"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    """A running Jupyter server (stopped by its PID) and how to call it."""

    root: Path
    port: int
    token: str
    proc: subprocess.Popen
    log_path: Path
    app: str

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def call(self, path: str, method: str = "GET", body: Any = None, token: bool = True,
             timeout: float = 60) -> tuple[int, Any]:
        """Call ``/medimg/<path>``; return (HTTP status, decoded JSON or text)."""
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"token {self.token}"
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(f"{self.base}/medimg/{path}", data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                status, raw = r.status, r.read()
        except urllib.error.HTTPError as err:
            status, raw = err.code, err.read()
        try:
            return status, json.loads(raw or b"null")
        except ValueError:
            return status, raw.decode(errors="replace")

    @classmethod
    def start(cls, workdir: Path, root: Path, app: str = "server", env: dict[str, str] | None = None,
              extension: bool = True, timeout: float = 90.0) -> Server:
        cfg, runtime, settings, workspaces, jpath = (
            workdir / n for n in ("config", "runtime", "settings", "workspaces", "jupyter_path"))
        for d in (cfg, runtime, settings, workspaces, jpath / "labextensions"):
            d.mkdir(parents=True, exist_ok=True)
        link = jpath / "labextensions" / "medimg-labextension"
        if not link.exists():
            link.symlink_to(BUILT, target_is_directory=True)
        (cfg / "jupyter_server_config.json").write_text(json.dumps(
            {"ServerApp": {"jpserver_extensions": {"medimg_kernel.server": extension}}}))
        disabled = {"@jupyterlab/apputils-extension:announcements": True}
        if not extension:
            disabled["medimg-labextension"] = True
        (cfg / "labconfig").mkdir(exist_ok=True)
        (cfg / "labconfig" / "page_config.json").write_text(json.dumps({"disabledExtensions": disabled}))
        tracker = settings / "@jupyterlab" / "notebook-extension"
        tracker.mkdir(parents=True, exist_ok=True)
        (tracker / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
        full_env = dict(os.environ, JUPYTER_CONFIG_DIR=str(cfg), JUPYTER_RUNTIME_DIR=str(runtime),
                        JUPYTERLAB_SETTINGS_DIR=str(settings), JUPYTERLAB_WORKSPACES_DIR=str(workspaces),
                        JUPYTER_PATH=str(jpath), MPLBACKEND="agg", **(env or {}))
        port, token = free_port(), secrets.token_hex(16)
        log_path = workdir / f"jupyter-{app}.log"
        cmd = [str(Path(sys.executable).with_name("jupyter")), app, "--no-browser", "--ip=127.0.0.1",
               f"--port={port}", f"--IdentityProvider.token={token}", "--allow-root",
               f"--ServerApp.root_dir={root}", "--ServerApp.open_browser=False"]
        if app in ("lab", "notebook"):
            cmd.append(f"--{'LabApp' if app == 'lab' else 'JupyterNotebookApp'}.expose_app_in_browser=True")
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(cmd, env=full_env, stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True, cwd=str(workdir))
        srv = cls(root, port, token, proc, log_path, app)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"jupyter {app} exited: {log_path.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{srv.base}/api/status?token={token}", timeout=2) as r:
                    if r.status == 200:
                        return srv
            except OSError:
                time.sleep(0.3)
        srv.stop()
        raise TimeoutError(f"jupyter {app} did not answer in {timeout} s: {log_path.read_text()[-3000:]}")

    def stop(self) -> None:
        """Stop the server and the kernels it started (its own process group) by PID."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


class FileServer:
    """Serve a folder over HTTP on 127.0.0.1 (a loopback stand-in for a dataset's origin)."""

    def __init__(self, folder: Path) -> None:
        handler = functools.partial(_QuietHandler, directory=str(folder))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
