"""Launch ``medimg train CONFIG`` under ``torchrun`` from a notebook or a script (DDP: gloo on CPU, NCCL on GPU).

The training code is the kit's own (:mod:`medimg_kernel.cli.train`, :mod:`medimg_kernel.train.distributed`);
this module only builds the ``torchrun`` command line and runs it as a child process, so a notebook
kernel never becomes a DDP rank itself::

    cmd = mk.cohort.torchrun_command("run.yaml", nproc=2, resume=True)
    # python -m torch.distributed.run --standalone --nproc-per-node 2 -m medimg_kernel train run.yaml --resume --json
    result = mk.cohort.launch_training("run.yaml", nproc=2)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from ..errors import TrainingError

__all__ = ["torchrun_command", "launch_training"]


def torchrun_command(config: str | Path, *, nproc: int = 2, resume: bool = False, nnodes: int = 1,
                     extra: list[str] | None = None) -> list[str]:
    """The argument list that runs ``medimg train CONFIG`` on ``nproc`` processes per node with torchrun."""
    cmd = [sys.executable, "-m", "torch.distributed.run"]
    cmd += ["--standalone"] if nnodes == 1 else [f"--nnodes={nnodes}"]
    cmd += [f"--nproc-per-node={int(nproc)}", "-m", "medimg_kernel", "train", str(config), "--json"]
    if resume:
        cmd.append("--resume")
    return cmd + list(extra or [])


def launch_training(config: str | Path, *, nproc: int = 2, resume: bool = False, timeout: float | None = 900,
                    threads_per_process: int = 1, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run ``medimg train CONFIG`` under torchrun, wait for it and return rank 0's JSON summary.

    Each process gets ``threads_per_process`` CPU threads (``OMP_NUM_THREADS``) so that ``nproc``
    processes share the cores instead of oversubscribing them. Raises :class:`TrainingError` with the end
    of the log when a rank fails.
    """
    run_env = dict(os.environ, OMP_NUM_THREADS=str(threads_per_process), MEDIMG_NUM_THREADS=str(threads_per_process))
    run_env.update(env or {})
    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        run_env.pop(key, None)  # a kernel started under torchrun must not leak its rank into the children
    proc = subprocess.run(torchrun_command(config, nproc=nproc, resume=resume), env=run_env, capture_output=True,
                          text=True, timeout=timeout)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        raise TrainingError(f"torchrun exited with {proc.returncode}: " + " | ".join(tail))
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if not lines:
        raise TrainingError("torchrun finished but rank 0 printed no JSON summary: " + proc.stdout[-300:])
    return json.loads(lines[-1])
