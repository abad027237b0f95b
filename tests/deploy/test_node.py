"""The DICOM inference node over 127.0.0.1: C-ECHO, a real CT series in, a DICOM SEG back, bad objects refused."""

from __future__ import annotations

import copy
import json
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from medimg_kernel.deploy.node import STATUS, InferenceNode, echo, send_series
from medimg_kernel.deploy.series import ct_series


def expected_mask(ds_list):
    """What the threshold model must return: min-max scaled pixels > 0.5, slice by slice."""
    out = []
    for ds in ds_list:
        a = ds.pixel_array.astype(np.float32) * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
        out.append(((a - a.min()) / (a.max() - a.min()) > 0.5).astype(np.uint8))
    return np.stack(out)


@pytest.fixture()
def ct20(tmp_path):
    from medimg_kernel.data.synthetic import generate

    d = generate("lesions2d", 20, seed=4, size=64, prevalence=1.0, contrast=0.6)
    files = tmp_path / "ct"
    series = ct_series(d["images"][:, 0], files)
    assert len(list(files.glob("*.dcm"))) == 20
    return series, d["masks"][:, 0]


def test_round_trip_20_slice_series_returns_a_seg(threshold_bundle, ct20, tmp_path):
    import highdicom as hd
    import pydicom

    series, lesion_truth = ct20
    sent = [pydicom.dcmread(p) for p in sorted((tmp_path / "ct").glob("*.dcm"))]  # real files, read back
    with InferenceNode(threshold_bundle, tmp_path / "out", port=0) as node:
        assert node.ready()
        t0 = time.perf_counter()
        assert send_series(sent, "127.0.0.1", node.port) == [0] * 20
        assert node.wait_idle(120)
        seconds = time.perf_counter() - t0
    rec = [r for r in node.results if r["status"] == "done"]
    assert len(rec) == 1 and rec[0]["n_instances"] == 20 and rec[0]["modality"] == "CT"
    seg = hd.seg.segread(rec[0]["result"])
    assert seg.SOPClassUID == "1.2.840.10008.5.1.4.1.1.66.4"
    assert seg.StudyInstanceUID == series[0].StudyInstanceUID
    assert seg.get_segment_description(1).segment_label == "bright"
    refs = {str(u[2]) for u in seg.get_source_image_uids()}
    assert refs == {str(d.SOPInstanceUID) for d in series}
    # the mask content, slice by slice, in the order the slices were sent
    mask = seg.get_pixels_by_source_instance([str(d.SOPInstanceUID) for d in series], segment_numbers=[1])[..., 0]
    assert np.array_equal(mask, expected_mask(series))
    # and it finds the (bright) lesions: overlap with the generator's truth
    inter = (mask.astype(bool) & lesion_truth.astype(bool)).sum()
    assert 2 * inter / (mask.sum() + lesion_truth.sum()) > 0.3
    log = [json.loads(line) for line in (tmp_path / "out" / "studies.jsonl").read_text().splitlines()]
    assert log[-1]["status"] == "done" and log[-1]["seconds"] >= 0
    print(f"20-slice round trip: {seconds:.2f} s (machine shared; the figure is in benchmarks/deploy_bench.py)")


def test_object_without_pixel_data_is_refused_and_node_keeps_serving(threshold_bundle, tmp_path):
    import pydicom
    from pydicom.data import get_testdata_file

    ct = pydicom.dcmread(get_testdata_file("CT_small.dcm"))  # a real 128x128 CT slice
    bare = copy.deepcopy(ct)
    del bare.PixelData
    with InferenceNode(threshold_bundle, tmp_path / "out", port=0) as node:
        assert send_series([bare], "127.0.0.1", node.port) == [STATUS["no_pixel_data"]]
        assert node.ready()  # still serving
        assert send_series([ct], "127.0.0.1", node.port) == [0]
        assert node.wait_idle(60)
    statuses = [r["status"] for r in node.results]
    assert statuses == ["rejected", "done"]
    assert "no pixel data" in node.results[0]["reason"]
    import highdicom as hd

    seg = hd.seg.segread(node.results[1]["result"])
    assert (seg.Rows, seg.Columns) == (128, 128)  # resized back to the source grid


def test_echo_to_nothing_is_false():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert echo("127.0.0.1", port, timeout=2) is False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_cli_serve(threshold_bundle, ct20, tmp_path):
    series, _ = ct20
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "medimg_kernel", "deploy", "serve", str(threshold_bundle.folder),
                             "--port", str(port), "--out-dir", str(tmp_path / "out"), "--max-seconds", "90"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(600):
            if echo("127.0.0.1", port, timeout=1):
                break
            if proc.poll() is not None:
                pytest.fail(proc.stderr.read())
            time.sleep(0.1)
        assert send_series(series, "127.0.0.1", port) == [0] * 20
        log = tmp_path / "out" / "studies.jsonl"
        for _ in range(600):
            if log.exists() and '"done"' in log.read_text():
                break
            time.sleep(0.1)
        assert Path(json.loads(log.read_text().splitlines()[-1])["result"]).is_file()
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=30)
    assert "C-ECHO ok" in out


def _orthanc_binary() -> str | None:
    return shutil.which("Orthanc") or (shutil.which("orthanc") if Path("/usr/share/orthanc").exists() else None)


@pytest.mark.slow
@pytest.mark.skipif(_orthanc_binary() is None, reason="Orthanc is not installed (Debian: apt-get install orthanc)")
def test_orthanc_round_trip(threshold_bundle, ct20, tmp_path):
    """CT series -> node -> SEG forwarded by C-STORE to a real Orthanc PACS, found there over its REST API."""
    import urllib.request

    series, _ = ct20
    dicom_port, http_port = free_port(), free_port()
    cfg = {"Name": "medimg-test", "StorageDirectory": str(tmp_path / "orthanc-db"), "IndexDirectory":
           str(tmp_path / "orthanc-db"), "DicomAet": "ORTHANC", "DicomPort": dicom_port, "HttpPort": http_port,
           "RemoteAccessAllowed": False, "AuthenticationEnabled": False, "DicomCheckCalledAet": False,
           "DicomAlwaysAllowStore": True, "DicomAlwaysAllowEcho": True, "Plugins": []}
    (tmp_path / "orthanc.json").write_text(json.dumps(cfg))
    proc = subprocess.Popen([_orthanc_binary(), str(tmp_path / "orthanc.json")], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        for _ in range(300):
            if echo("127.0.0.1", dicom_port, "ORTHANC", timeout=1):
                break
            time.sleep(0.1)
        else:
            pytest.fail("Orthanc did not answer C-ECHO")
        with InferenceNode(threshold_bundle, tmp_path / "out", port=0,
                           forward_to=("127.0.0.1", dicom_port, "ORTHANC")) as node:
            assert send_series(series, "127.0.0.1", node.port) == [0] * 20
            assert node.wait_idle(120)
        assert node.results[-1]["forwarded"] == [0]
        with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/instances?expand") as r:  # loopback only
            inst = json.loads(r.read())
        sop_classes = {i["MainDicomTags"].get("SOPClassUID", "") for i in inst}
        assert len(inst) == 1
        with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/instances/{inst[0]['ID']}/tags?simplify") as r:
            tags = json.loads(r.read())
        assert tags["Modality"] == "SEG" and tags["StudyInstanceUID"] == series[0].StudyInstanceUID, sop_classes
    finally:
        proc.terminate()
        proc.wait(timeout=30)
