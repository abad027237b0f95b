"""The server extension's REST handlers against a real ``jupyter server`` on 127.0.0.1.

A course folder in the real layout (lessons, an nbgrader assignment), a data cache and registry of
our own, and a loopback HTTP server as the dataset origin.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import nbformat
import pytest

from .course_fixture import make_course, make_remote_dataset
from .jupyter_harness import FileServer, Server


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    work = tmp_path_factory.mktemp("medimg-server")
    course = make_course(work / "course")
    outside = work / "outside.ipynb"
    nbformat.write(nbformat.v4.new_notebook(), outside)
    (course / "notebooks" / "evil.ipynb").symlink_to(outside)
    (course / "notebooks" / "linkdir").symlink_to(work, target_is_directory=True)
    files = FileServer(work / "origin")
    (work / "origin").mkdir(exist_ok=True)
    registry = work / "fixture-registry.yaml"
    blob = make_remote_dataset(work / "origin", registry, files.url)
    data = work / "cache"
    srv = Server.start(work / "jupyter", course, "server",
                       env={"MEDIMG_DATA": str(data), "MEDIMG_REGISTRY": str(registry), "MEDIMG_MIRROR": ""})
    yield {"srv": srv, "course": course, "data": data, "blob": blob, "work": work}
    srv.stop()
    files.close()


ENDPOINTS = [("status", "GET"), ("course", "GET"), ("notebook?path=notebooks/01_images.ipynb", "GET"),
             ("progress/opened", "POST"), ("progress/selfcheck", "POST"), ("datasets", "GET"),
             ("datasets/fixture-blob/fetch", "GET"), ("datasets/fixture-blob/fetch", "POST"),
             ("datasets/fixture-blob/verify", "POST")]


@pytest.mark.parametrize("path,method", ENDPOINTS)
def test_every_endpoint_refuses_unauthenticated_requests(env, path, method):
    status, body = env["srv"].call(path, method, body={} if method == "POST" else None, token=False)
    assert status == 403, (path, status, body)


def test_wrong_token_is_refused(env):
    srv = env["srv"]
    good = srv.token
    srv.token = "0" * 32
    try:
        assert srv.call("course")[0] == 403
    finally:
        srv.token = good


def test_status_reports_device_precision_tier_and_the_full_report(env):
    status, doc = env["srv"].call("status")
    assert status == 200, doc
    assert doc["device"] in ("cpu", "mps") or doc["device"].startswith("cuda")
    assert doc["precision"] in ("fp32", "bf16", "fp16")
    assert doc["tier"] in ("smoke", "standard", "full")
    assert "medimg environment" in doc["report"] and doc["device"] in doc["report"]
    assert isinstance(doc["problems"], list) and isinstance(doc["threads"], int)


def test_course_lists_lessons_in_order_with_their_facts(env):
    status, doc = env["srv"].call("course")
    assert status == 200, doc
    assert [le["number"] for le in doc["lessons"]] == ["00", "01", "02"]
    assert doc["welcome"] == "notebooks/00_welcome.ipynb"
    les = doc["lessons"][1]
    assert les["title"] == "Images for the fixture"
    assert les["objectives"] == ["read an image;", "window it for display, with a wrapped line."]
    assert les["estimated_minutes"] == 25 and les["budget_s"] == 90 and les["tier"] == doc["tier"]
    # the student's copy is the released (blank) one, not the instructor's source
    assert les["assignment"]["path"] == "assignments/release/01_images/01_images.ipynb"
    assert les["status"]["state"] == "not_started" and les["assignment"]["status"]["state"] == "not_started"
    assert doc["lessons"][2]["objectives"] == ["train one"] and doc["lessons"][2]["assignment"] is None


def _lesson(srv, number):
    return next(le for le in srv.call("course")[1]["lessons"] if le["number"] == number)


def test_opened_then_selfcheck_results_show_in_the_course(env):
    srv = env["srv"]
    status, info = srv.call("progress/opened", "POST", {"path": "notebooks/01_images.ipynb"})
    assert status == 200 and info["kind"] == "lesson", info
    assert _lesson(srv, "01")["status"]["state"] == "opened"
    apath = "assignments/release/01_images/01_images.ipynb"
    result = {"passed": 1, "failed": 2, "total": 3, "seconds": 1.5, "exercises": [{"name": "double", "passed": False}]}
    status, stored = srv.call("progress/selfcheck", "POST", {"path": apath, "result": result})
    assert status == 200 and stored["score"] == pytest.approx(1 / 3), stored
    st = _lesson(srv, "01")["assignment"]["status"]
    assert (st["state"], st["passed"], st["total"]) == ("failed", 1, 3)
    result.update(passed=3, failed=0)
    srv.call("progress/selfcheck", "POST", {"path": apath, "result": result})
    st = _lesson(srv, "01")["assignment"]["status"]
    assert (st["state"], st["score"]) == ("passed", 1.0)
    # the record lives in the data cache, not in the course folder
    assert list((env["data"] / "progress").glob("course-*.json"))
    assert not list(env["course"].rglob("*progress*"))


def test_non_course_notebook_is_classified_as_none_and_not_recorded(env):
    srv = env["srv"]
    status, info = srv.call("notebook?path=scratch.ipynb")
    assert status == 200 and info["kind"] is None and info["selfcheck"] is False
    status, info = srv.call("progress/opened", "POST", {"path": "scratch.ipynb"})
    assert status == 200 and info["kind"] is None
    doc = json.loads(next((env["data"] / "progress").glob("course-*.json")).read_text())
    assert "scratch.ipynb" not in doc["opened"]


def test_run_to_the_end_from_an_executed_notebook_and_from_a_course_run(env):
    srv, course = env["srv"], env["course"]
    path = course / "notebooks" / "02_models.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.cells[1].execution_count = 1
    nb.cells[1].outputs = [nbformat.v4.new_output("stream", text="1\n")]
    nbformat.write(nb, path)
    st = _lesson(srv, "02")["status"]
    assert st["state"] == "run" and "executed" in st["evidence"]
    report = {"tier": "smoke", "total_seconds": 3.0, "notebooks": [
        {"path": str(course / "notebooks" / "00_welcome.ipynb"), "status": "ok", "seconds": 3.0,
         "metrics": {"ready": 1.0}, "error": None, "cell": None, "output": None}]}
    (course / "course_runs").mkdir()
    (course / "course_runs" / "report.json").write_text(json.dumps(report))
    st = _lesson(srv, "00")["status"]
    assert st["state"] == "run" and st["metrics"] == {"ready": 1.0} and "course run" in st["evidence"]


BAD_PATHS = ["../outside.ipynb", "notebooks/../../outside.ipynb", "/etc/passwd", str(Path("/tmp").resolve()),
             "C:\\Windows\\win.ini", "\\\\server\\share\\x.ipynb", "notebooks/evil.ipynb",
             "notebooks/linkdir/outside.ipynb", "", "notebooks/missing.ipynb", "notebooks\x00.ipynb"]


@pytest.mark.parametrize("bad", BAD_PATHS)
def test_bad_paths_are_refused(env, bad):
    srv = env["srv"]
    from urllib.parse import quote

    status, doc = srv.call(f"notebook?path={quote(bad)}")
    assert status == 400, (bad, status, doc)
    assert isinstance(doc, dict) and doc["message"] and "outside.ipynb" not in json.dumps(doc).replace(bad, "")
    for endpoint in ("progress/opened", "progress/selfcheck"):
        status, doc = srv.call(endpoint, "POST", {"path": bad, "result": {"passed": 0, "failed": 0, "total": 0}})
        assert status == 400, (endpoint, bad, status, doc)


def test_symlink_refusal_names_the_reason(env):
    status, doc = env["srv"].call("notebook?path=notebooks/evil.ipynb")
    assert status == 400 and "outside the course folder" in doc["message"]
    status, doc = env["srv"].call("notebook?path=..%2Foutside.ipynb")
    assert status == 400 and "'..'" in doc["message"]


def test_bad_selfcheck_body_is_refused(env):
    srv = env["srv"]
    path = "assignments/release/01_images/01_images.ipynb"
    assert srv.call("progress/selfcheck", "POST", {"path": path, "result": {"passed": -1, "failed": 0, "total": 1}})[0] == 400
    assert srv.call("progress/selfcheck", "POST", {"path": path, "result": "all good"})[0] == 400


def _row(srv, name):
    status, doc = srv.call("datasets")
    assert status == 200, doc
    return doc, next(r for r in doc["datasets"] if r["name"] == name)


def _wait_job(srv, name, timeout=60):
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        status, job = srv.call(f"datasets/{name}/fetch")
        assert status == 200, job
        seen.append(job)
        if job["state"] != "running":
            return job, seen
        time.sleep(0.05)
    raise TimeoutError(seen[-1])


def test_dataset_registry_fetch_with_progress_and_verify(env):
    srv, data = env["srv"], env["data"]
    doc, row = _row(srv, "fixture-blob")
    assert doc["cache_dir"] == str(data)
    assert (row["cached"], row["verified"], row["size"], row["on_disk"]) == (False, None, env["blob"]["size"], 0)
    assert {"synthetic", "package"} & {r["source"] for r in doc["datasets"]}  # the shipped registry is listed too
    status, job = srv.call("datasets/fixture-blob/fetch", "POST")
    assert status == 202 and job["state"] in ("running", "done") and job["bytes_total"] == env["blob"]["size"]
    job, seen = _wait_job(srv, "fixture-blob")
    assert job["state"] == "done" and job["error"] is None, job
    assert job["bytes_done"] == job["bytes_total"] == env["blob"]["size"]
    assert all(0 <= j["bytes_done"] <= j["bytes_total"] for j in seen)
    assert (data / "fixture-blob" / "blob.bin").stat().st_size == env["blob"]["size"]
    _, row = _row(srv, "fixture-blob")
    assert (row["cached"], row["verified"]) == (True, True) and row["on_disk"] >= env["blob"]["size"]
    status, res = srv.call("datasets/fixture-blob/verify", "POST")
    assert status == 200 and res["ok"] is True and res["files"][0]["status"] == "ok"
    # corrupt the cached copy: verify says so, and the panel shows it as not verified
    with open(data / "fixture-blob" / "blob.bin", "r+b") as fh:
        fh.write(b"XXXX")
    status, res = srv.call("datasets/fixture-blob/verify", "POST")
    assert status == 200 and res["ok"] is False and res["files"][0]["status"] == "corrupt"
    _, row = _row(srv, "fixture-blob")
    assert row["verified"] is False


def test_failed_fetch_reports_the_data_layers_one_line_error(env):
    srv = env["srv"]
    status, job = srv.call("datasets/fixture-missing/fetch", "POST")
    assert status == 202
    job, _ = _wait_job(srv, "fixture-missing")
    assert job["state"] == "error"
    assert "could not download gone.bin" in job["error"] and "\n" not in job["error"]
    assert "404" in job["error"]


def test_unknown_dataset_is_404_with_a_hint(env):
    status, doc = env["srv"].call("datasets/no-such-set/fetch", "POST")
    assert status == 404 and "unknown dataset" in doc["message"]
    status, doc = env["srv"].call("datasets/no-such-set/verify", "POST")
    assert status == 404


def test_saved_selfcheck_outputs_count_as_passed(env):
    """A real kernel runs the solved assignment (nbclient); its saved mk.check outputs give the status."""
    from nbclient import NotebookClient

    course = env["course"]
    src = course / "assignments" / "source" / "01_images" / "01_images.ipynb"
    nb = nbformat.read(src, as_version=4)
    NotebookClient(nb, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(src.parent)}}).execute(env=dict(os.environ, MPLBACKEND="agg"))
    fetched = course / "01_images" / "01_images.ipynb"  # where `nbgrader fetch` puts the student's copy
    fetched.parent.mkdir()
    nbformat.write(nb, fetched)
    a = _lesson(env["srv"], "01")["assignment"]
    assert a["path"] == "01_images/01_images.ipynb"
    st = a["status"]
    assert (st["state"], st["passed"], st["total"], st["evidence"]) == ("passed", 3, 3, "saved self-check outputs")


def test_offline_pack_is_listed_and_imported_from_the_course_folder(env):
    """A pack made by the data layer from a verified download is found in the course folder and installed."""
    from medimg_kernel.data.packs import pack

    srv, data, course, work = env["srv"], env["data"], env["course"], env["work"]
    registry = [work / "fixture-registry.yaml"]
    blob = data / "fixture-blob" / "blob.bin"
    blob.unlink(missing_ok=True)  # an earlier test may have corrupted it
    srv.call("datasets/fixture-blob/fetch", "POST")
    job, _ = _wait_job(srv, "fixture-blob")
    assert job["state"] == "done", job
    (course / "packs").mkdir()
    pack(["fixture-blob"], course / "packs" / "class.medimgpack", data_dir=data, manifests=registry)
    status, doc = srv.call("packs")
    assert status == 200 and [p["path"] for p in doc["packs"]] == ["packs/class.medimgpack"], doc
    blob.unlink()
    assert _row(srv, "fixture-blob")[1]["cached"] is False
    status, res = srv.call("packs/import", "POST", {"path": "packs/class.medimgpack"})
    assert status == 200 and res["installed"] == ["fixture-blob"], res
    assert _row(srv, "fixture-blob")[1]["verified"] is True and blob.stat().st_size == env["blob"]["size"]
    for bad in ("../fixture-registry.yaml", "/etc/passwd", "packs/none.medimgpack"):
        assert srv.call("packs/import", "POST", {"path": bad})[0] == 400
    status, doc = srv.call("packs/import", "POST", {"path": "scratch.ipynb"})  # inside, but not a pack
    assert status == 400 and "not a medimg course pack" in doc["message"]
    assert srv.call("packs", token=False)[0] == 403 and srv.call("packs/import", "POST", {}, token=False)[0] == 403
