"""Every lesson 01-12 through its **standard-tier** path, against format twins served from 127.0.0.1.

The twins (``medimg_kernel.data.twins``) are tiny files in each dataset's exact published layout: MedNIST's
tar.gz of class folders of JPEGs, MSD tars with ``dataset.json`` and NIfTI volumes. A loopback HTTP server
serves them; a manifest redefines the real registry names (``mednist``, ``msd-spleen``, ...) with the twins'
URLs and pinned sha256, exactly as an instructor's mirror would. ``medimg course run --tier standard --set``
then shrinks each lesson's sizes and runs the standard code (DenseNet121, MONAI UNets on NIfTI volumes, the
real download + verify + extract path) to completion. Lesson 12's NCI IDC series come from a public bucket of a
real S3 server on 127.0.0.1 (moto), redefined by a second manifest, as a mirror of ``s3://idc-open-data`` would. The numbers it records are not model quality: the
images are generated shapes. What is asserted is that the path runs, downloads through the server, records
finite metrics, and reports its overrides and redefinitions.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

import medimg_kernel as mk
from medimg_kernel.data.twins import write_twins
from medimg_kernel.runtime.runner import course_notebooks, course_root

pytestmark = pytest.mark.slow

TWINS = {"mednist": 60, "msd-spleen": 8, "msd-hippocampus": 8, "msd-lung": 8, "msd-braintumour": 8,
         "monai-spleen-ct-unet": 1, "oasis1-disc1": 20}
IDC = "idc-qiba-ct-liver-phantom"  # served from an S3 bucket, not over HTTP

# tiny standard-tier sizes per lesson: every key must be one the lesson knows (else the run fails first)
SETS = {
    "02": "n_train=48 n_test=12 max_epochs=1 batch_size=16 image_size=32 imbalance_options={} imbalance_epochs=1 aug_epochs=2",
    "03": "n_val=1 n_test=1 volume_size=32 patch=32 max_epochs=1 batch_size=2",
    "04": "n_train=32 n_test=16 image_size=48 max_epochs=1 batch_size=16",
    "05": "n_source=48 n_test=24 image_size=32 source_epochs=1 finetune_epochs=1 batch_size=16 labels_per_class=2",
    "06": ("n_real=120 gan_steps=5 gan_width=8 gan_batch=16 clf_epochs=1 few_per_class=2 n_synthetic=24 "
           "volume_size=16 n_volumes=16 n_test_volumes=8 volume_epochs=1 growth_n=60 growth_epochs=1"),
    "07": "n_train=4 n_test=2 size=32 max_epochs=1 batch_size=2 channels=[4,8,16,32]",
    "08": "n_train=40 n_val=20 n_test=40 size=16 epochs=5 cnn_epochs=1 n_boot=20",
    "09": ("n_train=64 n_test=32 epochs=1 n_explain=4 smooth_samples=2 ig_steps=4 n_random=2 curve_steps=4 "
           "volume_size=24 n_train_3d=16 epochs_3d=1 n_explain_3d=2 occlusion_half_box=5 image_size=32"),
    "10": ("image_size=32 n_train=120 n_val=150 n_test=120 epochs=1 n_boot=20 n_patients=200 perm_repeats=2 "
           "shapley_rows=10 shapley_samples=4 oasis_epochs=1"),
    "11": "size=64 n_train=32 n_heldout=16 max_epochs=1 batch_size=8 n_calibration=8 bench_runs=5 cine_repeat=1",
    "12": "n_scans=40 workers=2 sizes=[8,16] n_tasks=4 n_zarr=4 ddp_n=32 ddp_epochs=1",
}
# a figure each lesson's standard path must record (proof it got past training to evaluation)
HEADLINE = {
    "01": "ct_hu_max", "02": "test_accuracy", "03": "test_dice", "04": "sensitivity_at_1fp",
    "05": "target_accuracy_best", "06": "gan_frechet_distance", "07": "dice_early_fusion",
    "08": "c_index_early", "09": "test_auc", "10": "ece_after_platt", "11": "test_dice_int8", "12": "idc_noise_ratio",
}


class _Handler(SimpleHTTPRequestHandler):
    requested: list[str] = []

    def log_message(self, *args):
        pass

    def do_GET(self):  # noqa: N802
        type(self).requested.append(self.path)
        super().do_GET()


@pytest.fixture(scope="module")
def twin_run(tmp_path_factory, artifacts_dir):
    root = tmp_path_factory.mktemp("twins")
    served = root / "served"
    handler = type("H", (_Handler,), {"requested": []})
    srv = ThreadingHTTPServer(("127.0.0.1", 0), partial(handler, directory=str(served)))
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    s3 = mk.cohort.LocalS3()
    try:
        url = f"http://127.0.0.1:{srv.server_address[1]}"
        manifest = write_twins(list(TWINS), served, base_url=url, n=TWINS, progress=False)
        idc_manifest = write_twins([IDC], root / "s3", base_url=s3.endpoint, progress=False)
        s3.create_bucket("idc-open-data", public=True)
        mk.cohort.upload(root / "s3" / "idc-open-data", "s3://idc-open-data", s3.storage_options, progress=False)
        sets = [f"{lesson}:{kv}" for lesson, kvs in SETS.items() for kv in kvs.split()]
        notebooks = [str(p) for p in course_notebooks() if "01" <= p.name[:2] <= "12"]
        report = artifacts_dir / "course_twin_standard_report.json"
        cmd = [sys.executable, "-m", "medimg_kernel", "course", "run", "--tier", "standard", "--jobs", "2",
               "--manifest", str(manifest), "--manifest", str(idc_manifest),
               "--out-dir", str(root / "out"), "--report", str(report),
               *[a for s in sets for a in ("--set", s)], *notebooks]
        env = dict(os.environ, MEDIMG_DATA=str(root / "cache"), MEDIMG_STRICT_DEVICE="1")
        env.pop("MEDIMG_REGISTRY", None)
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=1800, env=env)
        rep = json.loads(report.read_text())
        # the full tier differs in code only where its data does: lesson 03 segments MSD Task09 Spleen CT there
        full_report = artifacts_dir / "course_twin_full_03_report.json"
        full = subprocess.run(
            [sys.executable, "-m", "medimg_kernel", "course", "run", "--tier", "full", "--manifest", str(manifest),
             "--out-dir", str(root / "out"), "--report", str(full_report),
             *[a for kv in SETS["03"].split() for a in ("--set", kv)], str(course_root() / "03_segmentation.ipynb")],
            capture_output=True, text=True, timeout=900, env=env)
        rep["full_03"] = {"stderr": full.stderr[-3000:], **json.loads(full_report.read_text())}
        rep["idc_cache"] = sorted(p.name for p in (root / "cache" / IDC).glob("*"))
        return res, rep, handler.requested, manifest
    finally:
        s3.stop()
        srv.shutdown()
        srv.server_close()


def test_every_lesson_runs_its_standard_path_on_twins(twin_run):
    res, rep, _, _ = twin_run
    assert rep["tier"] == "standard"
    assert len(rep["notebooks"]) == 12
    failed = [f"{Path(n['path']).name}: cell {n['cell']}: {n['error']}" for n in rep["notebooks"] if n["status"] != "ok"]
    assert not failed, "\n".join(failed) + "\n" + res.stderr[-3000:]
    for nb in rep["notebooks"]:
        key = HEADLINE[Path(nb["path"]).name[:2]]
        assert key in nb["metrics"], f"{Path(nb['path']).name} recorded no {key}: {sorted(nb['metrics'])}"
        assert all(math.isfinite(v) for v in nb["metrics"].values()), nb["metrics"]


def test_full_tier_segments_the_spleen_ct_twin(twin_run):
    _, rep, requested, _ = twin_run
    full = rep["full_03"]
    nb = full["notebooks"][0]
    assert full["tier"] == "full" and nb["status"] == "ok", f"cell {nb['cell']}: {nb['error']}\n{full['stderr']}"
    assert math.isfinite(nb["metrics"]["test_dice"])
    assert requested.count("/Task09_Spleen.tar") == 1  # 01 downloaded it once; the full run reused the cache
    assert "/spleen_ct_segmentation_v0.3.7.zip" in requested  # the full tier fine-tunes the published weights
    out = Path(nb["output"]).read_text()
    assert "fine-tuned: best val Dice" in out and "fine-tuned from published weights" in out


def test_twins_came_through_the_loopback_server_and_are_announced(twin_run):
    res, rep, requested, manifest = twin_run
    for name in ("MedNIST.tar.gz", "Task09_Spleen.tar", "Task04_Hippocampus.tar", "Task06_Lung.tar",
                 "Task01_BrainTumour.tar", "oasis_cross-sectional_disc1.tar.gz"):
        assert f"/{name}" in requested, f"{name} was never downloaded from the server: {requested}"
    for name in TWINS:
        assert f"note: dataset {name!r} is redefined by {manifest}" in res.stdout
    assert sorted(r for r in rep["redefined"] if IDC not in r) == sorted(
        f"note: dataset {n!r} is redefined by {manifest} (replacing the shipped entry)" for n in TWINS)


def test_idc_series_came_from_the_s3_bucket_verified_and_locked(twin_run):
    res, rep, _, _ = twin_run
    nb = next(n for n in rep["notebooks"] if Path(n["path"]).name.startswith("12"))
    assert nb["metrics"]["idc_series"] == 4
    series = [s["folder"] for s in mk.dataset_info(IDC).options["series"]]
    assert rep["idc_cache"] == sorted([".medimg-lock.json", *series])  # the course cache, not a scratch copy
    assert f"note: dataset {IDC!r} is redefined by" in res.stdout


def test_overrides_are_recorded_per_notebook(twin_run):
    _, rep, _, _ = twin_run
    by = {Path(n["path"]).name[:2]: n for n in rep["notebooks"]}
    assert by["02"]["overrides"]["n_train"] == 48 and by["02"]["overrides"]["imbalance_options"] == {}
    assert by["07"]["overrides"]["channels"] == [4, 8, 16, 32]  # YAML list
    assert by["01"]["overrides"] == {}
    assert by["10"]["metrics"]["oasis_test_subjects"] >= 2  # lesson 10's real-subgroup part ran on the OASIS-1 twin
    assert "05:n_source=48" in rep["overrides"]
