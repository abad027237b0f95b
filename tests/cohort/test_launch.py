"""DDP through the CLI: `medimg train` under torchrun (2 gloo processes) resumes after a kill.

tests/train/test_train_distributed.py already checks that two gloo processes reach the single-process
weights (the Trainer the CLI runs); this test adds the path the lesson teaches: the YAML config,
`torchrun ... medimg train CONFIG --resume`, a SIGKILL of every rank in the middle of training (once the
step counter in last.pt passes 5) and a resumed run that ends with the weights of an uninterrupted one.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest
import torch
import yaml

import medimg_kernel as mk

pytestmark = pytest.mark.slow

STEPS = 36  # 96 samples / batch 16 x 6 epochs: room between step 5 (the kill) and the end, even on a fast machine


MODEL = {"name": "simplecnn", "spatial_dims": 2, "in_channels": 1, "out_channels": 6,
         "kwargs": {"channels": [4, 8], "norm": None}}


def _config(tmp_path, name):
    init = tmp_path / "init.pt"
    if not init.exists():  # every run starts from the same weights (the CLI does not seed the model's init)
        torch.manual_seed(0)
        torch.save(mk.build_model(MODEL["name"], 2, 1, 6, **MODEL["kwargs"]).state_dict(), init)
    cfg = {"model": {**MODEL, "weights": str(init)},
           "data": {"synthetic": "mednist_like", "n": 96, "seed": 0, "options": {"size": 16}},
           "trainer": {"max_epochs": 6, "batch_size": 16, "lr": 0.01, "precision": "fp32", "device": "cpu",
                       "seed": 1, "checkpoint_dir": str(tmp_path / name / "ck"), "checkpoint_every": 1,
                       "progress": False},
           "output": {"weights": str(tmp_path / name / "final.pt")}}
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _step_of(checkpoint):
    try:
        return int(torch.load(checkpoint, map_location="cpu", weights_only=False)["global_step"])
    except (FileNotFoundError, EOFError, RuntimeError):
        return 0


def test_ddp_run_resumes_after_kill(tmp_path):
    env = {"MEDIMG_DEVICE": "cpu"}
    ref = mk.cohort.launch_training(_config(tmp_path, "ref"), nproc=2, env=env)
    assert ref["world_size"] == 2 and ref["steps"] == STEPS
    a = torch.load(tmp_path / "ref" / "final.pt")

    # the same run, killed (SIGKILL to every rank) once its step counter (last.pt) passes step 5
    cfg = _config(tmp_path, "killed")
    last = tmp_path / "killed" / "ck" / "last.pt"
    run_env = dict(os.environ, OMP_NUM_THREADS="1", **env)
    proc = subprocess.Popen(mk.cohort.torchrun_command(cfg, nproc=2), env=run_env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 300
    while _step_of(last) < 5:
        assert proc.poll() is None, "the run ended before it could be killed"
        assert time.monotonic() < deadline, "no checkpoint after 300 s"
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(30)
    resume_from = last if last.exists() else last.with_name("previous.pt")  # a kill between the two renames
    killed_at = _step_of(resume_from)
    assert 5 <= killed_at < STEPS and not (tmp_path / "killed" / "final.pt").exists()

    resumed = mk.cohort.launch_training(cfg, nproc=2, resume=True, env=env)
    assert resumed["steps"] == STEPS
    c = torch.load(tmp_path / "killed" / "final.pt")
    for k in a:
        torch.testing.assert_close(c[k], a[k], atol=1e-5, rtol=1e-4)
