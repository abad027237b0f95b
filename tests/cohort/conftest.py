"""Fixtures of the cohort tests: a generated cohort with every fault planted, a Dask client, a local S3 server."""

from __future__ import annotations

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


@pytest.fixture(scope="session")
def s3_server():
    """A real S3-compatible HTTP server (moto_server) on 127.0.0.1; yields its storage_options."""
    with mk.cohort.LocalS3(key="medimg-test-key", secret="medimg-SECRET-do-not-print") as server:
        assert "running" in repr(server) and "SECRET" not in repr(server)
        yield server.storage_options
    assert "stopped" in repr(server)
