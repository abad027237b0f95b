"""``medimg deploy export|bench|serve`` from the command line (serve is tested in test_node.py)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from medimg_kernel.cli import USER_ERROR


def medimg(*args, timeout=900):
    return subprocess.run([sys.executable, "-m", "medimg_kernel", *args], capture_output=True, text=True,
                          timeout=timeout)


def test_bench_of_a_missing_bundle_is_one_line(tmp_path):
    res = medimg("deploy", "bench", str(tmp_path / "nothing"))
    assert res.returncode == USER_ERROR
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("medimg: error:") and "medimg deploy export" in lines[0]


def test_serve_rejects_a_bad_forward_address(tmp_path, threshold_bundle):
    res = medimg("deploy", "serve", str(threshold_bundle.folder), "--port", "0", "--forward", "nowhere",
                 "--out-dir", str(tmp_path))
    assert res.returncode == USER_ERROR and "HOST:PORT:AET" in res.stderr.strip().splitlines()[-1]


@pytest.mark.slow
def test_export_then_bench_json(tmp_path):
    out = tmp_path / "bundle"
    res = medimg("deploy", "export", "tinyunet", "--out", str(out), "--size", "32", "--n-calibration", "8", "--json")
    assert res.returncode == 0, res.stderr[-2000:]
    info = json.loads(res.stdout)
    assert info["parity_max_abs_err"] <= 1e-4 and info["sizes_mb"]["int8"] < info["sizes_mb"]["fp32"]
    assert {"model.onnx", "model.int8.onnx", "weights.pt", "bundle.json"} <= {p.name for p in out.iterdir()}
    res = medimg("deploy", "bench", str(out), "--json", "--runs", "4", "--warmup", "1",
                 "--save", str(tmp_path / "bench.json"))
    assert res.returncode == 0, res.stderr[-2000:]
    rep = json.loads(res.stdout)
    assert set(rep["results"]) == {"eager fp32", "ORT fp32", "ORT int8"}
    for row in rep["results"].values():
        assert {"p50_ms", "p95_ms", "p99_ms", "fps"} <= set(row) and row["n"] == 4
    assert rep["results"]["ORT int8"]["size_mb"] < rep["results"]["ORT fp32"]["size_mb"]
    assert "acc_dice" in rep["results"]["ORT int8"] and "delta_dice_pt" in rep["results"]["ORT int8"]
    assert "int8 size reduction (fp32 / int8 file)" in rep["ratios"] and rep["machine"]["threads"] >= 1
    assert json.loads((tmp_path / "bench.json").read_text())["results"] == rep["results"]
