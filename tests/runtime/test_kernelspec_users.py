"""A shared install serves many users: the kernelspec does not freeze the installer's data folder.

Each "user" is a separate HOME (and, where the machine allows it, a separate unprivileged uid through
``setpriv``) starting the kernel's own Python with the kernel.json environment, as Jupyter does.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from jupyter_client.manager import start_new_kernel

from medimg_kernel.runtime.kernelspec import install_kernelspec

PROBE = "from medimg_kernel.paths import data_dir; print(data_dir())"
REPO = Path(__file__).resolve().parents[2]


def _install(tmp_path: Path, monkeypatch, **kw) -> dict:
    monkeypatch.setenv("MEDIMG_DATA", "/root/.cache/medimg-of-the-installer")  # what used to be frozen
    path = install_kernelspec(prefix=str(tmp_path / "prefix"), **kw)
    return json.loads((Path(path) / "kernel.json").read_text())


def _kernel_env(spec: dict, home: Path) -> dict:
    base = {k: v for k, v in os.environ.items() if k not in ("MEDIMG_DATA", "XDG_CACHE_HOME", "HOME")}
    return {**base, "HOME": str(home), **spec["env"]}


def _setpriv_works(uid: int) -> bool:
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        return False
    res = subprocess.run(["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", sys.executable,
                          "-c", "import medimg_kernel"], capture_output=True, timeout=60, cwd="/")
    return res.returncode == 0


def _resolve(spec: dict, home: Path, uid: int | None) -> str:
    cmd = [spec["argv"][0], "-c", PROBE]
    if uid is not None:
        cmd = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", *cmd]
    res = subprocess.run(cmd, capture_output=True, text=True, env=_kernel_env(spec, home), timeout=120, cwd="/")
    assert res.returncode == 0, res.stderr
    return res.stdout.strip()


def test_each_user_gets_their_own_cache(tmp_path, monkeypatch):
    spec = _install(tmp_path, monkeypatch)
    assert "MEDIMG_DATA" not in spec["env"] and spec["metadata"]["medimg"]["data"] == "per-user"
    uids = [61001, 61002] if _setpriv_works(61001) else [None, None]
    homes = []
    for i, uid in enumerate(uids):
        home = tmp_path / f"user{i}"
        home.mkdir()
        if uid is not None:
            os.chown(home, uid, uid)
        homes.append(home)
    got = [_resolve(spec, h, u) for h, u in zip(homes, uids)]
    assert got == [str(h / ".cache" / "medimg") for h in homes]
    assert got[0] != got[1]
    # a user who sets MEDIMG_DATA still gets it (resolved at kernel start, not at install)
    env = {**_kernel_env(spec, homes[0]), "MEDIMG_DATA": str(tmp_path / "mine")}
    res = subprocess.run([spec["argv"][0], "-c", PROBE], capture_output=True, text=True, env=env, timeout=120)
    assert res.stdout.strip() == str(tmp_path / "mine")


def test_instructor_shared_course_cache_is_kept_on_purpose(tmp_path, monkeypatch):
    shared = tmp_path / "course-cache"
    shared.mkdir()
    spec = _install(tmp_path, monkeypatch, shared_data=shared)
    assert spec["env"]["MEDIMG_DATA"] == str(shared) and spec["metadata"]["medimg"]["data"] == str(shared)
    got = {_resolve(spec, tmp_path / f"h{i}", None) for i in range(2)}
    assert got == {str(shared)}


def test_cli_shared_data_flag_and_a_real_kernel_start(tmp_path, monkeypatch):
    prefix = tmp_path / "prefix"
    res = subprocess.run([sys.executable, "-m", "medimg_kernel", "kernel", "install", "--prefix", str(prefix)],
                         capture_output=True, text=True, timeout=120,
                         env={**os.environ, "MEDIMG_DATA": "/root/.cache/frozen"})
    assert res.returncode == 0 and "each user's own data cache" in res.stdout, res.stderr
    spec = json.loads((prefix / "share/jupyter/kernels/medimg/kernel.json").read_text())
    assert "MEDIMG_DATA" not in spec["env"]
    home = tmp_path / "student"
    home.mkdir()
    for k, v in {**_kernel_env(spec, home), "JUPYTER_PATH": str(prefix / "share" / "jupyter")}.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("MEDIMG_DATA", raising=False)
    km, kc = start_new_kernel(kernel_name="medimg")
    try:
        out = []
        kc.execute_interactive(PROBE, timeout=120, output_hook=out.append)
        text = "".join(m["content"].get("text", "") for m in out if m["msg_type"] == "stream")
        assert text.strip() == str(home / ".cache" / "medimg")
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


@pytest.fixture(autouse=True)
def _no_stray_env(monkeypatch):
    monkeypatch.delenv("MEDIMG_SHARED_DATA", raising=False)
