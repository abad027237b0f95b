"""Fixtures of the cohort tests: a generated cohort with every fault planted, a Dask client, a local S3 server."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

import medimg_kernel as mk


@pytest.fixture(scope="session")
def faulty_cohort(tmp_path_factory):
    """60 image/label pairs + 2 DICOM series on disk, one scan per fault kind; returns (folder, truth)."""
    folder = tmp_path_factory.mktemp("cohort")
    truth = mk.cohort.make_cohort(folder, 60, seed=3)
    return folder, truth


@pytest.fixture(scope="session")
def dask_client():
    """A two-worker in-process (threaded) distributed cluster: real scheduler, workers and tasks."""
    c = mk.cohort.client(n_workers=2, processes=False, dashboard=False)
    yield c
    c.close()
    c.cluster.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    """A real S3-compatible HTTP server (moto in server mode) on 127.0.0.1; yields its storage_options."""
    exe = shutil.which("moto_server", path=str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"])
    if exe is None:
        pytest.skip("moto[server] is not installed (pip install 'moto[server]')")
    port = _free_port()
    log = (tmp_path_factory.mktemp("moto") / "moto.log").open("w")
    proc = subprocess.Popen([exe, "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while True:  # wait until the port accepts connections
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"moto_server did not start on port {port}")
            time.sleep(0.1)
    options = {"key": "medimg-test-key", "secret": "medimg-SECRET-do-not-print",
               "client_kwargs": {"endpoint_url": f"http://127.0.0.1:{port}", "region_name": "us-east-1"}}
    yield options
    proc.terminate()
    proc.wait(10)
    log.close()
