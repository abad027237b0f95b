"""The grading sandbox: what a submission's kernel can and cannot see or do, checked from inside a
real sandboxed kernel started the way autograde starts it."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest

from medimg_kernel.grading.sandbox import SandboxedKernelManager, sandbox_available

pytestmark = pytest.mark.slow

PROBE = r'''
import os, resource, socket, subprocess, json, pathlib
root = pathlib.Path.cwd().parents[2]
out = {"cwd": str(pathlib.Path.cwd()), "listing": sorted(os.listdir(".")),
       "course_visible": sorted(p.name for p in root.iterdir()),
       "gradebook": (root / "gradebook.db").exists(), "home_secret": (pathlib.Path(os.environ["REAL_HOME"]) / "secret.txt").exists()}
s = socket.socket(); s.settimeout(2)
out["net"] = s.connect_ex(("127.0.0.1", int(os.environ["HOST_PORT"])))
try:
    resource.setrlimit(resource.RLIMIT_CPU, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    out["raise_cpu"] = "raised"
except (ValueError, PermissionError, OSError) as err:
    out["raise_cpu"] = type(err).__name__
out["cpu_limit"] = resource.getrlimit(resource.RLIMIT_CPU)
(pathlib.Path.cwd() / "written.txt").write_text("x")
try:
    (root / "source_poison.py").write_text("x"); out["wrote_course"] = True
except OSError:
    out["wrote_course"] = False
subprocess.Popen(["sleep", "987654"])
print(json.dumps(out))
'''


def test_sandboxed_kernel_is_isolated(tmp_path, monkeypatch):
    if not sandbox_available():
        if os.environ.get("CI") == "true":
            pytest.fail("bubblewrap is not usable in CI: .ci/run must install it (apt-get install bubblewrap)")
        pytest.skip("no bubblewrap here")
    import socket

    from nbclient import NotebookClient

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    home = tmp_path / "home"
    home.mkdir()
    (home / "secret.txt").write_text("the instructor's")
    course = tmp_path / "course"
    work = course / "autograded" / "alice" / "a1"
    work.mkdir(parents=True)
    (course / "gradebook.db").write_bytes(b"sqlite")
    (course / "source").mkdir()
    (work / "helper.py").write_text("X = 1\n")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("REAL_HOME", str(home))
    monkeypatch.setenv("HOST_PORT", str(server.getsockname()[1]))
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(PROBE)]
    client = NotebookClient(nb, kernel_name="python3", kernel_manager_class=SandboxedKernelManager,
                            resources={"metadata": {"path": str(work)}}, timeout=120, startup_timeout=120)
    client.execute()
    server.close()
    import json

    text = "".join(o.get("text", "") for o in nb.cells[0].outputs if o.get("output_type") == "stream")
    errors = [o for o in nb.cells[0].outputs if o.get("output_type") == "error"]
    assert not errors, errors
    got = json.loads(text.strip().splitlines()[-1])
    assert got["cwd"] == str(work) and got["listing"] == ["helper.py"]
    assert got["course_visible"] == ["autograded"]       # no source/, no gradebook.db
    assert not got["gradebook"] and not got["home_secret"]
    assert got["net"] != 0                                # not even the host's loopback
    assert got["raise_cpu"] != "raised" and got["cpu_limit"][1] > 0
    assert not got["wrote_course"]
    assert not (work / "written.txt").exists()            # a throw-away copy, not the course folder
    assert not (course / "source_poison.py").exists()
    leftover = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if b"987654" in (proc / "cmdline").read_bytes():
                    leftover.append(proc.name)
            except OSError:
                pass
    assert not leftover, f"processes outlived the grading kernel: {leftover}"
