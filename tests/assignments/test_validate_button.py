"""The JupyterLab "Validate" button: nbgrader's server extension validates a student's notebook over HTTP.

A real ``jupyter server`` on 127.0.0.1 serves a folder with a released notebook filled in as a student
would; the test POSTs to ``/assignments/validate`` (what the button calls) and reads the verdict.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import nbformat
import pytest

from medimg_kernel.grading.course_folder import notebook_path
from medimg_kernel.grading.fixtures import make_fixtures
from medimg_kernel.grading.pipeline import copy_course, generate

COURSE = Path(__file__).resolve().parents[2] / "assignments"
ASSIGNMENT = "01_medical_images"
TOKEN = "medimg-test-token"

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _post(port: int, path: str) -> dict:
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/assignments/validate",
        data=json.dumps({"path": path}).encode(),
        headers={"Authorization": f"token {TOKEN}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=300) as resp:
        return json.loads(resp.read())


@pytest.fixture(scope="module")
def student_server(tmp_path_factory):
    course = copy_course(COURSE, tmp_path_factory.mktemp("course"), [ASSIGNMENT])
    generate(course, ASSIGNMENT)
    release = course / "release" / ASSIGNMENT
    fixtures = {
        f.student: f
        for f in make_fixtures(
            nbformat.read(str(notebook_path(course, ASSIGNMENT)), as_version=4),
            nbformat.read(str(release / f"{ASSIGNMENT}.ipynb"), as_version=4),
        )
    }
    home = tmp_path_factory.mktemp("student")  # what a student unzipped: notebook + helper file
    for name in ("solution", "blank"):
        folder = home / name
        shutil.copytree(release, folder)
        nbformat.write(fixtures[name].notebook, str(folder / f"{ASSIGNMENT}.ipynb"))
    port = _free_port()
    log = tmp_path_factory.mktemp("server") / "server.log"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyter_server",
            "--no-browser",
            f"--port={port}",
            "--ip=127.0.0.1",
            "--allow-root",
            f"--ServerApp.token={TOKEN}",
            f"--ServerApp.root_dir={home}",
        ],
        cwd=home,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.time() + 120
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status?token={TOKEN}", timeout=5)
                break
            except (urllib.error.URLError, ConnectionError):
                if time.time() > deadline or proc.poll() is not None:
                    raise RuntimeError("jupyter server did not start:\n" + log.read_text()[-3000:]) from None
                time.sleep(0.5)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_validate_button_passes_a_correct_notebook(student_server):
    out = _post(student_server, f"solution/{ASSIGNMENT}.ipynb")
    assert out["success"] is True
    assert out["value"] == {}, out["value"]  # no failed, no changed cells


def test_validate_button_reports_every_unsolved_exercise(student_server):
    out = _post(student_server, f"blank/{ASSIGNMENT}.ipynb")
    assert out["success"] is True
    failed = out["value"]["failed"]
    code = [f for f in failed if "CheckFailed" in f["raw_error"]]
    written = [f for f in failed if f["raw_error"] == "You did not provide a response."]
    source = (COURSE / "authoring" / f"{ASSIGNMENT}.py").read_text().splitlines()
    n_tests = sum(line.startswith("# %% tests ") for line in source)
    n_written = sum(line.startswith("# %% [markdown] manual ") for line in source)
    assert n_tests >= 3 and n_written >= 1  # the assignment this test reads has both kinds of question
    # every exercise's visible tests and every written answer is reported, and nothing else
    assert len(code) == n_tests and len(written) == n_written and len(failed) == n_tests + n_written
