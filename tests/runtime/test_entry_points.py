"""Entry points through the real commands: `medimg --version`, `kernel install --user|--sys-prefix`,
`medimg course lab` start-up (a real JupyterLab on 127.0.0.1, polled over its REST API, then shut down),
the `%medimg env|banner` magics in a real kernel, and every name in `mk.__all__`."""

from __future__ import annotations

import importlib.metadata as md
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

import medimg_kernel as mk

TOKEN = "medimg-lab-test"


def medimg(*args: str, env: dict | None = None, timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "medimg_kernel", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=timeout)


def test_version_is_the_installed_distribution():
    res = medimg("--version")
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == f"medimg {md.version('medimg-kernel')}"
    assert mk.__version__ == md.version("medimg-kernel")


def test_every_public_name_resolves():
    missing = []
    for name in mk.__all__:
        try:
            if getattr(mk, name) is None:
                missing.append(f"{name}: None")
        except Exception as err:  # noqa: BLE001 - report every broken export at once
            missing.append(f"{name}: {type(err).__name__}: {err}")
    assert not missing, missing
    assert len(mk.__all__) == len(set(mk.__all__)) and set(mk.__all__) <= set(dir(mk))


def _spec(path: Path) -> dict:
    return json.loads((path / "kernel.json").read_text())


def test_kernel_install_user(tmp_path):
    env = {"HOME": str(tmp_path), "JUPYTER_DATA_DIR": ""}
    env_clean = {k: v for k, v in {**os.environ, **env}.items() if k != "JUPYTER_DATA_DIR"}
    res = subprocess.run([sys.executable, "-m", "medimg_kernel", "kernel", "install", "--user"],
                         capture_output=True, text=True, env=env_clean, timeout=120)
    assert res.returncode == 0, res.stderr
    from jupyter_core.paths import jupyter_data_dir

    old = os.environ.copy()
    try:
        os.environ.clear()
        os.environ.update(env_clean)
        where = Path(jupyter_data_dir()) / "kernels" / "medimg"
    finally:
        os.environ.clear()
        os.environ.update(old)
    assert str(where).startswith(str(tmp_path))  # the user's data dir, not the environment's
    spec = _spec(where)
    assert spec["display_name"] == "Python 3 (medimg)" and spec["argv"][0] == sys.executable
    assert "--ext=medimg_kernel" in spec["argv"]


def test_kernel_install_sys_prefix():
    # the same install `make setup` runs; it must land in this environment's share/jupyter
    res = medimg("kernel", "install", "--sys-prefix")
    assert res.returncode == 0, res.stderr
    where = Path(sys.prefix) / "share" / "jupyter" / "kernels" / "medimg"
    spec = _spec(where)
    assert spec["argv"][0] == sys.executable and spec["display_name"] == "Python 3 (medimg)"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(port: int, path: str) -> dict | list:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}?token={TOKEN}", timeout=10) as resp:
        return json.loads(resp.read())


@pytest.mark.slow
def test_course_lab_starts_serves_the_course_and_stops(tmp_path):
    port = _free_port()
    env = {**os.environ, "JUPYTER_TOKEN": TOKEN, "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
           "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"), "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "ws"),
           "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "settings")}
    log = (tmp_path / "lab.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "medimg_kernel", "course", "lab", "--no-browser",
                             "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 180  # a hang guard; the wait itself is on the server's answer
        while True:
            try:
                status = _get(port, "/api/status")
                break
            except (urllib.error.URLError, ConnectionError):
                assert proc.poll() is None, "medimg course lab exited:\n" + (tmp_path / "lab.log").read_text()
                assert time.monotonic() < deadline, (tmp_path / "lab.log").read_text()[-3000:]
                time.sleep(0.2)
        assert "started" in status
        names = {item["name"] for item in _get(port, "/api/contents/notebooks")["content"]}
        assert "00_welcome.ipynb" in names  # the server's root is the course
        assert "medimg" in _get(port, "/api/kernelspecs")["kernelspecs"]
        req = urllib.request.Request(f"http://127.0.0.1:{port}/api/shutdown?token={TOKEN}", method="POST")
        urllib.request.urlopen(req, timeout=10).close()
        assert proc.wait(timeout=60) == 0  # medimg returns the server's exit status
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
        log.close()


@pytest.mark.slow
def test_medimg_magics_env_and_banner_in_a_kernel():
    from jupyter_client.manager import start_new_kernel

    km, kc = start_new_kernel(kernel_name="python3")
    try:
        def run(code: str) -> list[dict]:
            msgs: list[dict] = []
            reply = kc.execute_interactive(code, timeout=120, output_hook=msgs.append)
            assert reply["content"]["status"] == "ok", reply["content"]
            return msgs

        run("%load_ext medimg_kernel")
        text = "".join(m["content"].get("text", "") for m in run("%medimg env") if m["msg_type"] == "stream")
        report = mk.environment_report()
        assert text.startswith("medimg environment") and f"device: {report['device']}" in text
        assert f"torch {report['versions']['torch']}" in text
        data = [m["content"]["data"] for m in run("%medimg banner") if m["msg_type"] == "execute_result"]
        assert data and "<b>medimg</b>" in data[0]["text/html"]
        assert f"{report['device']} / {report['precision']}" in data[0]["text/plain"]
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
